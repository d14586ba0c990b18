"""An orthonormal colour transform and a multi-level 2-D CDF 9/7 lifting wavelet, in torch.

The closed-form codec's transform: a YCoCg-like orthonormal colour matrix, then JPEG 2000's irreversible
9/7 wavelet. Lifting is invertible by construction: each step adds to one half a function of the other
half only. (Learned nonlinear corrections to the lifting steps, iWave-style, were tried and never
shipped; they were removed in ibc 0.2.0.)
"""
import math

import torch
from torch import nn

# CDF 9/7 lifting factorisation (Daubechies & Sweldens 1998): predict, update, predict, update, scale.
ALPHA, BETA, GAMMA, DELTA = -1.586134342059924, -0.052980118572961, 0.882911075530934, 0.443506852043971
ZETA = 1.149604398860241
LIFTS = (ALPHA, BETA, GAMMA, DELTA)

# Orthonormal rows ∝ (1,1,1), (1,0,-1), (1,-2,1): equal quantiser steps stay MSE-optimal in RGB.
COLOR = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, -1.0], [1.0, -2.0, 1.0]])
COLOR = COLOR / COLOR.norm(dim=1, keepdim=True)

ORIENTATIONS = ("HL", "LH", "HH")  # HL: high-pass along the width (vertical edges), LH: along the height


def _right(v: torch.Tensor) -> torch.Tensor:
    """v[n+1] along the last dim, whole-sample symmetric at the end (x[N] = x[N-2])."""
    return torch.cat([v[..., 1:], v[..., -1:]], -1)


def _left(v: torch.Tensor) -> torch.Tensor:
    """v[n-1] along the last dim, whole-sample symmetric at the start (x[-1] = x[1])."""
    return torch.cat([v[..., :1], v[..., :-1]], -1)


def _with_top_left(y: torch.Tensor, block: torch.Tensor) -> torch.Tensor:
    """y with its top-left corner replaced by block, out of place (autograd-safe)."""
    h, w = block.shape[-2:]
    if (h, w) == y.shape[-2:]:
        return block
    return torch.cat([torch.cat([block, y[..., :h, w:]], -1), y[..., h:, :]], -2)


def _linear_step(k: int, other: torch.Tensor) -> torch.Tensor:
    """The closed-form part of lifting step k: even k predicts d from s, odd k updates s from d."""
    return LIFTS[k] * (other + (_right(other) if k % 2 == 0 else _left(other)))


class ColorTransform(nn.Module):
    """A learnable 1×1 colour transform, initialised to the orthonormal COLOR matrix; inverted exactly."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(COLOR.clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,bchw->bohw", self.weight.to(x.dtype), x)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return torch.einsum("oc,bchw->bohw", torch.linalg.inv(self.weight.to(y.dtype)), y)


class Wavelet2d(nn.Module):
    """Multi-level 2-D CDF 9/7 lifting wavelet with per-subband gains.

        x (B,C,H,W) ── level 1 ──────────────────────────────────────────────────────────────────
          rows:    x ─split even/odd─► s, d                      (along the width, W → W/2 each)
                   d += α(s[n]+s[n+1])     s += β(d[n-1]+d[n])
                   d += γ(s[n]+s[n+1])     s += δ(d[n-1]+d[n])
                   L = ζ·s,  H = -d/ζ
          columns: the same on L and on H along the height ─► LL, LH  |  HL, HH
          ── level 2 … levels: the same on LL ────────────────────────────────────────────────
        y: Mallat layout, same shape as x        ┌────┬────┬─────────┐
           every subband multiplied by its gain  │LL₂ │HL₂ │         │
           √g (g = squared norm of its synthesis │────┼────┤   HL₁   │
           basis function), so each coefficient ├────┴────┼─────────┤
           carries unit synthesis energy and one │   LH₁   │   HH₁   │
           quantiser step is MSE-optimal.        └─────────┴─────────┘

    This is CDF 9/7 (PyWavelets' bior4.4, with symmetric boundaries instead of periodic ones). Inverse
    synthesis undoes the steps in reverse order, exact to float precision. H and W must be multiples of
    2**levels (pad by edge replication outside).
    """

    def __init__(self, levels: int = 5):
        super().__init__()
        self.levels = levels
        phi, psi = self._basis_energies(levels)
        self.register_buffer("phi_energy", phi)  # (levels,) ‖φ_j‖² of the 1-D synthesis scaling functions
        self.register_buffer("psi_energy", psi)  # (levels,) ‖ψ_j‖² of the 1-D synthesis wavelets

    # -- 1-D lifting along the last dim ------------------------------------------------------------
    @staticmethod
    def _analysis_1d(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s, d = x[..., 0::2], x[..., 1::2]
        for k in range(len(LIFTS)):
            if k % 2 == 0:
                d = d + _linear_step(k, s)
            else:
                s = s + _linear_step(k, d)
        return ZETA * s, d / -ZETA

    @staticmethod
    def _synthesis_1d(low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        s, d = low / ZETA, -ZETA * high
        for k in reversed(range(len(LIFTS))):
            if k % 2 == 0:
                d = d - _linear_step(k, s)
            else:
                s = s - _linear_step(k, d)
        return torch.stack((s, d), -1).flatten(-2)

    @classmethod
    def _basis_energies(cls, levels: int, n: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
        """Squared norms of the 1-D synthesis functions at each level, from impulses far from the edges."""
        N = n << levels
        phi, psi = [], []
        for j in range(1, levels + 1):
            for out, band in ((phi, 0), (psi, 1)):
                c = torch.zeros(2, N >> j, dtype=torch.float64)
                c[band, (N >> j) // 2] = 1.0
                x = cls._synthesis_1d(c[0], c[1])
                for _ in range(j - 1):
                    x = cls._synthesis_1d(x, torch.zeros_like(x))
                out.append(float(x.pow(2).sum()))
        return torch.tensor(phi), torch.tensor(psi)

    # -- one 2-D level --------------------------------------------------------------------------------
    def _analysis_2d(self, x: torch.Tensor, level: int) -> torch.Tensor:
        """(B,C,h,w) → (B,C,h,w) as [[LL, HL], [LH, HH]]; every level lifts alike (`level` is the
        `codec.lifting.LevelSteps` signature's)."""
        L, H = self._analysis_1d(x)  # along the width
        LL, LH = (t.transpose(-1, -2) for t in self._analysis_1d(L.transpose(-1, -2)))
        HL, HH = (t.transpose(-1, -2) for t in self._analysis_1d(H.transpose(-1, -2)))
        return torch.cat([torch.cat([LL, HL], -1), torch.cat([LH, HH], -1)], -2)

    def _synthesis_2d(self, y: torch.Tensor, level: int) -> torch.Tensor:
        h, w = y.shape[-2] // 2, y.shape[-1] // 2
        LL, HL, LH, HH = y[..., :h, :w], y[..., :h, w:], y[..., h:, :w], y[..., h:, w:]
        L = self._synthesis_1d(LL.transpose(-1, -2), LH.transpose(-1, -2)).transpose(-1, -2)
        H = self._synthesis_1d(HL.transpose(-1, -2), HH.transpose(-1, -2)).transpose(-1, -2)
        return self._synthesis_1d(L, H)

    # -- subbands and their gains ---------------------------------------------------------------------
    # The numpy engine (codec.lifting) states the layout and the gains again, since models/ imports nothing
    # of the codec: tests/models/test_wavelet.py holds the two to the same coefficients.
    def subbands(self, H: int, W: int) -> list[tuple[int, str, slice, slice]]:
        """(level, orientation, rows, cols) of every subband in the Mallat layout, coarsest first.
        Level `levels` holds "LL" too; level 1 is the finest."""
        out = [(self.levels, "LL", slice(0, H >> self.levels), slice(0, W >> self.levels))]
        for j in range(self.levels, 0, -1):
            h, w = H >> j, W >> j
            out += [(j, "HL", slice(0, h), slice(w, 2 * w)), (j, "LH", slice(h, 2 * h), slice(0, w)),
                    (j, "HH", slice(h, 2 * h), slice(w, 2 * w))]
        return out

    def gain(self, level: int, orientation: str) -> float:
        """√ of the squared norm of the 2-D synthesis basis function of a subband (a product of 1-D ones)."""
        phi, psi = float(self.phi_energy[level - 1]), float(self.psi_energy[level - 1])
        across_width = psi if orientation in ("HL", "HH") else phi
        across_height = psi if orientation in ("LH", "HH") else phi
        return math.sqrt(across_width * across_height)

    def _gain_map(self, H: int, W: int, like: torch.Tensor) -> torch.Tensor:
        g = torch.empty(H, W, dtype=like.dtype, device=like.device)
        for level, o, rows, cols in self.subbands(H, W):
            g[rows, cols] = self.gain(level, o)
        return g

    # -- the transform --------------------------------------------------------------------------------
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (B,C,H,W) → y (B,C,H,W), normalised subbands in the Mallat layout."""
        B, C, H, W = x.shape
        if H % (1 << self.levels) or W % (1 << self.levels):
            raise ValueError(f"H and W must be multiples of {1 << self.levels}, got {H}×{W}")
        y = x
        for j in range(self.levels):
            h, w = H >> j, W >> j
            y = _with_top_left(y, self._analysis_2d(y[..., :h, :w], j))
        return y * self._gain_map(H, W, y)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """y (B,C,H,W) from `forward` → x (B,C,H,W)."""
        B, C, H, W = y.shape
        x = y / self._gain_map(H, W, y)
        for j in reversed(range(self.levels)):
            h, w = H >> j, W >> j
            x = _with_top_left(x, self._synthesis_2d(x[..., :h, :w], j))
        return x

    # -- the reach of a level, for the windowed drivers of codec.lifting ---------------------------------
    def margin(self) -> int:
        """Input samples a window needs beyond its core on each side so that one level's outputs in the core
        equal the whole-image ones (its reach): each of the 4 lifting steps reaches 1 sample."""
        return 4


class WaveletTransform(nn.Module):
    """Analysis x (B,3,H,W) RGB → y = Wavelet2d(ColorTransform(x)); `inverse` is its exact synthesis."""

    def __init__(self, levels: int = 5):
        super().__init__()
        self.color = ColorTransform()
        self.wavelet = Wavelet2d(levels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wavelet(self.color(x))

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        return self.color.inverse(self.wavelet.inverse(y))
