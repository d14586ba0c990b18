"""Training: `ibc train`'s recipe (recipe.py: split, rates → steps, the closed-form design of
wavelet_start.py, the post-filter, the gc noise design, the export of the coding bundle), and the stages
that also run alone on a pool of coded crops (pool_loop.py): the post-filter (postfilter.py) and the
novelty score's discriminator (discriminator.py). The torch side of the engine lives here too, since
models/ imports nothing of the codec: the trainable WaveletCodec that hands the engine its tables
(wavelet_model.py), its k-means design (wavelet_design.py), its .pt files (weights_torch.py, also the
torch backend of codec.weights) and the training images (dataset.py)."""
