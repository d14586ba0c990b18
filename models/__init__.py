"""Networks and the paper's loss terms; nothing here knows about files or bytes."""
from .config import ModelConfig
from .codec_model import CodecModel

__all__ = ["ModelConfig", "CodecModel"]
