"""Networks and the paper's loss terms; nothing here knows about files or bytes."""
import warnings

# compressai's import trips torch's deprecation notice for torch.jit.script; it is not ours to act on.
warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)

from .config import ModelConfig  # noqa: E402
from .codec_model import CodecModel  # noqa: E402

__all__ = ["ModelConfig", "CodecModel"]
