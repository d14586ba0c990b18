"""The coding side of the lifting wavelet in numpy: the colour matrix, the subband gains and the windowed
(overlap-save) drivers, over any per-level 2-D lifting step (torch in `codec.training.wavelet_model`,
ONNX Runtime in `codec.onnx_steps`). Both backends run this same arithmetic around their steps, so their
coefficients agree to the bit wherever their steps do.

    analysis:  RGB window ─ colour ─► level 1 step ─► … ─► level L step ─► × gain per subband ─► y
    synthesis: y ─ ÷ gain ─► level L step⁻¹ ─► … ─► level 1 step⁻¹ ─ colour⁻¹ ─► RGB window

A window carries `margin` samples of context on each side (the steps' reach), so windowed results
equal whole-image ones and memory stays at one window's temporaries plus a quarter-size LL.
"""
import math
from dataclasses import dataclass
from typing import Callable, Protocol

import numpy as np

ORIENTATIONS = ("HL", "LH", "HH")  # HL: high-pass along the width (vertical edges), LH: along the height
WINDOW = 512  # core side of the windows, in samples of a level


class LevelSteps(Protocol):
    """One 2-D lifting level: (3,h,w) float64 ⇄ (3,h,w) as [[LL, HL], [LH, HH]], h and w even."""

    def analysis_2d(self, x: np.ndarray, level: int) -> np.ndarray: ...

    def synthesis_2d(self, y: np.ndarray, level: int) -> np.ndarray: ...


@dataclass(frozen=True)
class LiftingSpec:
    """What the windowed drivers need besides the steps; exported beside the ONNX graphs."""
    levels: int
    margin: int               # samples of context a window needs on each side (Wavelet2d.margin)
    phi_energy: tuple         # (levels,) ‖φ_j‖² of the 1-D synthesis scaling functions
    psi_energy: tuple         # (levels,) ‖ψ_j‖² of the 1-D synthesis wavelets
    color: np.ndarray         # (3,3) float64, RGB → the transform's channels

    def gain(self, level: int, orientation: str) -> float:
        return subband_gain(self.phi_energy, self.psi_energy, level, orientation)

    def subbands(self, H: int, W: int) -> list[tuple[int, str, slice, slice]]:
        return subbands(self.levels, H, W)


def subband_gain(phi_energy, psi_energy, level: int, orientation: str) -> float:
    """√ of the squared norm of the 2-D synthesis basis function of a subband (a product of 1-D ones)."""
    phi, psi = float(phi_energy[level - 1]), float(psi_energy[level - 1])
    across_width = psi if orientation in ("HL", "HH") else phi
    across_height = psi if orientation in ("LH", "HH") else phi
    return math.sqrt(across_width * across_height)


def subbands(levels: int, H: int, W: int) -> list[tuple[int, str, slice, slice]]:
    """(level, orientation, rows, cols) of every subband in the Mallat layout, coarsest first.
    Level `levels` holds "LL" too; level 1 is the finest."""
    out = [(levels, "LL", slice(0, H >> levels), slice(0, W >> levels))]
    for j in range(levels, 0, -1):
        h, w = H >> j, W >> j
        out += [(j, "HL", slice(0, h), slice(w, 2 * w)), (j, "LH", slice(h, 2 * h), slice(0, w)),
                (j, "HH", slice(h, 2 * h), slice(w, 2 * w))]
    return out


def band_reader(y: np.ndarray, H: int | None = None, W: int | None = None) -> Callable:
    """read(level, orientation, rows, cols) → (C, n, m) of one subband of y (C,H,W) (or of its top-left
    corner, with the whole H and W given), for `WindowedLifting.inverse`."""
    H, W = H or y.shape[-2], W or y.shape[-1]

    def read(level, o, rows, cols):
        r0 = (H >> level) if o in ("LH", "HH") else 0
        c0 = (W >> level) if o in ("HL", "HH") else 0
        return y[:, r0 + rows.start:r0 + rows.stop, c0 + cols.start:c0 + cols.stop]
    return read


class WindowedLifting:
    """The whole transform of one image, level by level and window by window, on `steps`."""

    def __init__(self, spec: LiftingSpec, steps: LevelSteps):
        self.spec, self.steps = spec, steps
        self.color = np.asarray(spec.color, np.float64)
        self.color_inverse = np.linalg.inv(self.color)

    @property
    def levels(self) -> int:
        return self.spec.levels

    def _windows(self, h: int, w: int, window: int):
        """(core, with margin) as (r0, r1, c0, c1) pairs tiling an h×w level; all even."""
        if window % 2:
            raise ValueError("window must be even")
        m = self.spec.margin
        for r0 in range(0, h, window):
            for c0 in range(0, w, window):
                r1, c1 = min(r0 + window, h), min(c0 + window, w)
                yield (r0, r1, c0, c1), (max(r0 - m, 0), min(r1 + m, h), max(c0 - m, 0), min(c1 + m, w))

    def forward(self, read, y: np.ndarray, window: int = WINDOW) -> None:
        """The analysis into y (3,H,W); read(r0, r1, c0, c1) gives RGB samples (3, r1-r0, c1-c0) float64."""
        C, H, W = y.shape
        L = self.spec.levels
        if H % (1 << L) or W % (1 << L):
            raise ValueError(f"H and W must be multiples of {1 << L}, got {H}×{W}")

        def read_level(r0, r1, c0, c1):
            return np.einsum("oc,chw->ohw", self.color, read(r0, r1, c0, c1))
        for j in range(L):
            h, w = H >> j, W >> j
            for (r0, r1, c0, c1), (R0, R1, C0, C1) in self._windows(h, w, window):
                t = self.steps.analysis_2d(read_level(R0, R1, C0, C1), j)  # [[LL, HL], [LH, HH]] of the window
                th, tw = (R1 - R0) // 2, (C1 - C0) // 2
                for qr in (0, 1):
                    for qc in (0, 1):
                        y[:, qr * h // 2 + r0 // 2:qr * h // 2 + r1 // 2, qc * w // 2 + c0 // 2:qc * w // 2 + c1 // 2] = \
                            t[:, qr * th + (r0 - R0) // 2:qr * th + (r1 - R0) // 2,
                              qc * tw + (c0 - C0) // 2:qc * tw + (c1 - C0) // 2]
            ll = y[:, :h // 2, :w // 2].copy()  # the next level's input; its place in y is overwritten

            def read_level(r0, r1, c0, c1, ll=ll):
                return ll[:, r0:r1, c0:c1]
        for level, o, rows, cols in self.spec.subbands(H, W):
            y[:, rows, cols] *= self.spec.gain(level, o)

    def inverse(self, read, shape: tuple, write, window: int = WINDOW) -> None:
        """The synthesis. read(level, orientation, rows, cols) gives (3, n, m) coefficients of one subband
        (`band_reader`; a decoder can read its tiles instead of a whole y); shape: y's (3,H,W);
        write(r0, r1, c0, c1, rgb) receives the output's (3, r1-r0, c1-c0) float64 samples per window."""
        C, H, W = shape
        L = self.spec.levels
        ll = read(L, "LL", slice(0, H >> L), slice(0, W >> L)) / self.spec.gain(L, "LL")
        for j in reversed(range(L)):
            h, w = H >> j, W >> j
            out = None
            g = [self.spec.gain(j + 1, o) for o in ORIENTATIONS]
            for (r0, r1, c0, c1), (R0, R1, C0, C1) in self._windows(h, w, window):
                rows, cols = slice(R0 // 2, R1 // 2), slice(C0 // 2, C1 // 2)
                HL, LH, HH = (read(j + 1, o, rows, cols) / gain for o, gain in zip(ORIENTATIONS, g))
                block = np.concatenate([np.concatenate([ll[:, rows, cols], HL], -1),
                                        np.concatenate([LH, HH], -1)], -2)
                x = self.steps.synthesis_2d(block, j)[:, r0 - R0:r1 - R0, c0 - C0:c1 - C0]
                if j:
                    out = np.empty((C, h, w)) if out is None else out
                    out[:, r0:r1, c0:c1] = x
                else:
                    write(r0, r1, c0, c1, np.einsum("oc,chw->ohw", self.color_inverse, x))
            ll = out
