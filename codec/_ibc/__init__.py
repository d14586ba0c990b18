"""ibc, a learned image codec, from Python:

    from ibc import compress, decompress, load_model
    data = compress("photo.jpg", quality=40)  # a path, a PIL image or an (H,W,3) uint8 array → .ibc bytes
    pixels = decompress(data)                 # → (H,W,3) uint8

The names load on first use, so that importing `ibc.cli` or `ibc.codec.bitstream` does not import torch.
"""
__all__ = ["compress", "decompress", "load_model", "CodecError"]


def __getattr__(name: str):
    if name in __all__:
        from . import codec
        return getattr(codec, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
