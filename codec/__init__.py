"""The coding core, everything between an image file and bytes: image I/O, the numpy coding engine (lifting,
subband_vq, subband_context, engine, noise_fill), the range coder, the .ibc container, tiles, the API and
the shipped weights; training/ and evaluation/ build on it. Nothing here imports models/, nor torch at
module level (tests/test_imports.py), so the coding path runs on numpy and ONNX Runtime alone.

The names below load on first use, so that importing a light module such as `ibc.codec.bitstream`
(all `ibc info` needs) does not import torch."""
from .errors import CodecError

__all__ = ["compress", "decompress", "load_model", "CodecError"]


def __getattr__(name: str):
    if name in ("compress", "decompress"):
        from . import api
        return getattr(api, name)
    if name == "load_model":
        from .weights import load_model
        return load_model
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
