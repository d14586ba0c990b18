"""What `ibc eval` asks of a codec (the `Coder` protocol), and ours behind it."""
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # the coding path imports torch: only ibc's own coder loads it, when it runs
    from ..weights import LoadedModel


class Coder(Protocol):
    """A codec as `ibc eval` runs it: real bytes at each quality setting, then their reconstructions."""
    name: str        # the series' id in results
    label: str       # its legend entry
    key: str         # identity for the result cache: it changes whenever the bytes could
    sweep: tuple     # default quality settings, low to high
    realisms: tuple  # decoder settings each file is reconstructed at, one series each; (None,): the only decoder

    def encode(self, rgb: np.ndarray, setting) -> bytes:
        """(H,W,3) uint8 → the codec's real file."""

    def reconstruct(self, data: bytes, realisms: tuple) -> list[tuple[np.ndarray, float]]:
        """One (reconstruction (H,W,3) uint8, decoding seconds) per entry of `realisms`."""


class OneDecoder:
    """The `reconstruct` of a codec with one decoder, built on its `decode(data) -> rgb`."""
    realisms = (None,)

    def reconstruct(self, data: bytes, realisms: tuple = (None,)) -> list[tuple[np.ndarray, float]]:
        t0 = time.perf_counter()
        rgb = self.decode(data)
        return [(rgb, time.perf_counter() - t0)]


@dataclass(frozen=True)
class IbcCoder:
    """The learned codec; settings are q values. A gc
    model also has `realisms`, the decoder blends A it is evaluated at (one series each), and the decoder
    noise's seed. A file is range-decoded once and rendered per A; each A's decoding time counts the
    reading too."""
    lm: "LoadedModel"
    sweep: tuple
    realisms: tuple = (None,)
    seed: int = 0
    tune: str = "psnr"    # codec.tune: the step weights the encoder writes

    @property
    def gc(self) -> bool:
        return self.lm.mode == "gc"

    @property
    def name(self) -> str:
        return f"ibc-gc:{self.lm.name}" if self.gc else f"ibc:{self.lm.name}" + self._at

    @property
    def label(self) -> str:
        return f"ibc-gc ({self.lm.name})" if self.gc else f"ibc ({self.lm.name}{', tune ' + self.tune if self._at else ''})"

    @property
    def _at(self) -> str:
        return "" if self.tune == "psnr" else f"@{self.tune}"

    @property
    def key(self) -> str:
        pf = self.lm.postfilter_for(self.lm.filter_of(self.tune))  # changes the pixels, not the weights' sha256
        weights = "" if self.tune == "psnr" else "+w" + bytes(self.lm.step_weights(self.tune)).hex()
        return f"{self.name}@{self.lm.sha256[:16]}" + (f"+pf{pf.sha256[:16]}" if pf is not None else "") + weights

    def encode(self, rgb: np.ndarray, setting: float) -> bytes:
        from ..api import compress
        return compress(rgb, self.lm, quality=setting, seed=self.seed, tune=self.tune)

    def reconstruct(self, data: bytes, realisms: tuple) -> list[tuple[np.ndarray, float]]:
        from ..api import decoding_choices, model_for, read_header, read_indices, render
        t0 = time.perf_counter()
        header = read_header(data)
        read = read_indices(data, model_for(header, self.lm))
        reading = time.perf_counter() - t0
        out = []
        for realism in realisms:
            t1 = time.perf_counter()
            seed, realism = decoding_choices(header, realism=realism)
            rgb = render(model_for(header, self.lm, realism), header, read.indices, seed, realism)
            out.append((rgb, reading + time.perf_counter() - t1))
        return out
