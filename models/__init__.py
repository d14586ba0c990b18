"""Networks and the paper's loss terms; nothing here knows about files or bytes.

The names below load on first use: the wavelet coding modules (subband_vq, subband_context,
wavelet_coder, lifting) are numpy only, and importing them must not import torch."""

__all__ = ["ModelConfig", "CodecModel"]


def __getattr__(name: str):
    if name == "ModelConfig":
        from .config import ModelConfig
        return ModelConfig
    if name == "CodecModel":
        from .codec_model import CodecModel
        return CodecModel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
