"""Classical anchors through Pillow (JPEG, WebP, AVIF, JPEG 2000): real files in memory, real bytes.

Each codec sweeps its own quality parameter so that Kodak spans about 0.05–2 bpp (as far as the format
goes: WebP and JPEG cannot get much below 0.15 bpp on Kodak).
"""
import io
from dataclasses import dataclass
from typing import Callable

import numpy as np
import PIL
from PIL import Image, features

from ..errors import CodecError
from .codecs import OneDecoder


@dataclass(frozen=True)
class Classical(OneDecoder):
    """A Pillow format and the keyword arguments one quality setting maps to."""
    name: str
    label: str
    fmt: str
    feature: str                          # PIL.features name, checked before any work starts
    sweep: tuple                          # default quality settings, low to high
    options: Callable[[float], dict]      # setting → Image.save keyword arguments

    @property
    def key(self) -> str:
        """Identity for the result cache: a new Pillow (and its bundled libraries) may change the bytes."""
        return f"{self.name}@pillow-{PIL.__version__}-{features.version(self.feature)}"

    def check(self) -> None:
        if not features.check(self.feature):
            raise CodecError(f"codec {self.name}: this Pillow was built without {self.feature} support")

    def encode(self, rgb: np.ndarray, setting: float) -> bytes:
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=self.fmt, **self.options(setting))
        return buf.getvalue()

    def decode(self, data: bytes) -> np.ndarray:
        with Image.open(io.BytesIO(data)) as im:
            return np.asarray(im.convert("RGB"), dtype=np.uint8)


CODECS = {c.name: c for c in [
    # Baseline JPEG, 4:2:0 chroma, optimised Huffman tables (what `cjpeg -optimize` writes).
    Classical("jpeg", "JPEG", "JPEG", "jpg", (2, 5, 10, 20, 30, 50, 70, 85, 92),
              lambda q: {"quality": int(q), "subsampling": 2, "optimize": True}),
    Classical("webp", "WebP", "WEBP", "webp", (0, 5, 15, 30, 50, 70, 85, 92),
              lambda q: {"quality": int(q), "method": 6}),
    Classical("avif", "AVIF", "AVIF", "avif", (0, 10, 20, 35, 50, 65, 80, 88),
              lambda q: {"quality": int(q)}),
    # Settings are target bpp; OpenJPEG's "rates" are compression ratios against 24-bit RGB.
    Classical("jpeg2000", "JPEG 2000", "JPEG2000", "jpg_2000", (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0),
              lambda bpp: {"quality_mode": "rates", "quality_layers": [24 / bpp], "irreversible": True,
                           "mct": 1, "no_jp2": True}),
]}
