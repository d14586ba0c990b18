"""The torch networks, and nothing else: the lifting transform (wavelet), the post-filter CNN (postfilter)
and gc-v2's discriminator (discriminator_v2). They import nothing of the codec, and the coding path
(codec/ outside training/ and evaluation/) imports nothing of them, so coding installs and runs without
torch; what trains, exports or checks against torch (codec.training, codec.evaluation) uses them."""
