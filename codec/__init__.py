"""Everything between an image file and bytes: image I/O, the range coder, the .ibc container, the API."""
from .api import compress, decompress
from .errors import CodecError

__all__ = ["compress", "decompress", "CodecError"]
