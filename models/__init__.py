"""The model side of the codec; nothing here knows about files or bytes.

The wavelet coding modules (subband_vq, subband_context, wavelet_coder, lifting, noise_fill) are numpy
only: importing them must not import torch. The torch modules (wavelet, wavelet_codec, postfilter,
discriminator_v2) are imported only by what trains, exports or checks against torch."""
