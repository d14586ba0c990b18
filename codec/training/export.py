"""What every exported model records of its training data (weights/manifest.json, a post-filter's or the
score's JSON). A model is exported by the stage that makes it (`ibc train`'s recipe, the post-filter and
discriminator trainers); `ibc export` writes a wavelet model's ONNX coding bundle (`export_onnx`)."""

# the training data's origin and terms, recorded with every model exported from it (weights/manifest.json)
DATA_SOURCES = ("BSDS500 (Arbeláez et al., TPAMI 2011; Berkeley, distributed for research) and an ImageNet "
                "sample (research use); Kodak never used for training or validation")
