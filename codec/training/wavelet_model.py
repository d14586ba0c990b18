"""Shannon-AE v2: lifting wavelet + ECVQ of 2×2 subband blocks + checkerboard/parent/colour contexts.

The designed model (torch: transform, codebooks and tables as one module, saved as a .pt). Coding runs
in the numpy engine `codec.engine`, on this model's transform (`TorchSteps`) or on its exported ONNX
graphs; `coder()` hands it the frozen tables. It lives in training, not models/, because it is built on
the engine, and models/ (the torch networks) imports nothing of the codec."""
import copy

import numpy as np
import torch
from torch import nn

from ...models.wavelet import WaveletTransform
from ..engine import ALIGN, LMBDA, TILE, WaveletCoder
from ..lifting import WINDOW, LiftingSpec, WindowedLifting
from ..subband_context import ACT_START, K_MAG, PRIOR_TOTAL, TileIndices, check_context, n_rows, rows_per_band
from ..subband_vq import LEVELS, N_CLASSES, NC, Codebooks, grid_codebook


class SubbandVQ(nn.Module):
    """The codebooks (N_CLASSES, NC, 4) in step units as a parameter: the design moves them by k-means.
    Lookups and distances are `Codebooks`' (numpy)."""

    def __init__(self):
        super().__init__()
        self.codebooks = nn.Parameter(torch.from_numpy(np.tile(grid_codebook(), (N_CLASSES, 1, 1))))

    def books(self) -> np.ndarray:
        return self.codebooks.detach().cpu().numpy()

    def lookup(self, cls: int, idx: np.ndarray, escq: np.ndarray) -> np.ndarray:
        return Codebooks(self.books()).lookup(cls, idx, escq)

    def distortions(self, cls: int, u: np.ndarray) -> np.ndarray:
        return Codebooks(self.books()).distortions(cls, u)

    def requantise(self, cls: int, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return Codebooks(self.books()).requantise(cls, v)

    @torch.no_grad()
    def update(self, sums: np.ndarray, counts: np.ndarray) -> None:
        """k-means step: codewords used (counts (N_CLASSES,NC) > 0) move to the mean sums/counts of their
        blocks; unused ones stay where they are (still a scalar grid point)."""
        book = self.books().copy()
        used = counts > 0
        book[used] = sums[used] / counts[used][:, None]
        self.codebooks.data.copy_(torch.from_numpy(book))


def lifting_spec(transform: WaveletTransform) -> LiftingSpec:
    """What the numpy drivers need of a transform besides its steps."""
    w = transform.wavelet
    return LiftingSpec(w.levels, w.margin(), tuple(float(e) for e in w.phi_energy),
                       tuple(float(e) for e in w.psi_energy),
                       transform.color.weight.detach().double().cpu().numpy().copy())


class TorchSteps:
    """The lifting levels of a transform on torch, in float64, on one thread's worth of calls."""

    def __init__(self, transform: WaveletTransform):
        self.wavelet = copy.deepcopy(transform.wavelet).double().eval()

    @torch.no_grad()
    def analysis_2d(self, x: np.ndarray, level: int) -> np.ndarray:
        return self.wavelet._analysis_2d(torch.from_numpy(x)[None], level)[0].numpy()

    @torch.no_grad()
    def synthesis_2d(self, y: np.ndarray, level: int) -> np.ndarray:
        return self.wavelet._synthesis_2d(torch.from_numpy(np.ascontiguousarray(y))[None], level)[0].numpy()


class WaveletCodec(nn.Module):
    """One model for every rate (the step is a per-image number); `encode`/`decode` code.

        x (H,W,3) ─ pad to 64 ─ colour + 5-level CDF 9/7 lifting ─► y
          ─ ÷ step, per tile (`tile` pixels square), in decode order (codec.subband_context):
              LL: q = round(u)                     ─► TileIndices.ll
              details: 2×2 blocks u ─ argmin ‖u − c‖² + λ·bits(row) ─► TileIndices.idx (+ escq)
                       bits(row) from the tile's adaptive counts: frozen priors + a fixed increment per symbol
        decode: indices ─ codewords / dequant ─ × step ─ synthesis ─ crop ─► x̂ (H,W,3) uint8

    `mode` "vq" is the ECVQ codec; "scalar" keeps the scalar dead-zone quantiser (grid codewords, no RD
    choice) through the same contexts and coder. `freeze()` turns the design statistics (stat_*) into
    the integer priors and the codewords' integer magnitudes once. A model of context 4 also holds its
    learned activity weights, `prior_act` (integers, set by the design; codec.subband_context).
    """

    def __init__(self, mode: str = "vq", lmbda: float = LMBDA, tile: int = TILE, context: int = 1):
        super().__init__()
        if mode not in ("vq", "scalar") or tile % ALIGN:
            raise ValueError("mode must be vq or scalar, tile a multiple of 64")
        self.mode, self.lmbda, self.tile, self.context = mode, lmbda, tile, check_context(context)
        self.transform = WaveletTransform(LEVELS)
        self.vq = SubbandVQ()
        for name, k in (("vec", NC + 1), ("mag", K_MAG)):
            self.register_buffer(f"stat_{name}", torch.zeros(n_rows(context), k, dtype=torch.float64))
            self.register_buffer(f"prior_{name}", torch.ones(n_rows(context), k, dtype=torch.int64))
        if context >= 4:
            self.register_buffer("prior_act", torch.from_numpy(ACT_START.copy()))
        self.register_buffer("stat_ll", torch.zeros(3, K_MAG, dtype=torch.float64))
        self.register_buffer("prior_ll", torch.ones(3, K_MAG, dtype=torch.int64))
        self.register_buffer("cmag", torch.zeros(self.vq.codebooks.shape, dtype=torch.int64))
        self._coding = None  # the windowed transform on a float64 copy of the steps, for coding

    # -- integer tables -----------------------------------------------------------------------------
    @torch.no_grad()
    def freeze(self) -> None:
        """Design statistics → integer priors (rows ≈ PRIOR_TOTAL, every entry ≥ 1); codewords → magnitudes."""
        for name in ("vec", "mag", "ll"):
            s = getattr(self, f"stat_{name}").numpy()
            K = s.shape[-1]
            g = s.reshape(-1, rows_per_band(self.context) if name != "ll" else 3, K)
            marginal = (g.sum(1, keepdims=True) + 0.5) / (g.sum((1, 2), keepdims=True) + K / 2)
            p = (g + 2 * marginal) / (g.sum(-1, keepdims=True) + 2)
            f = np.floor(p * (PRIOR_TOTAL - K)).astype(np.int64) + 1
            getattr(self, f"prior_{name}").copy_(torch.from_numpy(f.reshape(s.shape)))
        self.cmag.copy_(torch.from_numpy(np.floor(np.abs(self.vq.books()) + 0.5).astype(np.int64)))
        self._coding = None

    def priors(self) -> dict:
        out = {"vec": self.prior_vec.numpy(), "mag": self.prior_mag.numpy(), "ll": self.prior_ll.numpy()}
        if self.context >= 4:
            out["act"] = self.prior_act.numpy()
        return out

    # -- coding: the numpy engine on the torch steps ------------------------------------------------
    def coder(self) -> WaveletCoder:
        """The coding engine on this model's current codebooks and tables (live views, no copy) and a
        float64 copy of its transform, made once (until `freeze`)."""
        if self._coding is None:
            self._coding = WindowedLifting(lifting_spec(self.transform), TorchSteps(self.transform))
        return WaveletCoder(self._coding, self.vq.books(), self.priors(), self.cmag.numpy(), self.mode,
                            self.lmbda, self.tile, self.context)

    def analysis(self, rgb: np.ndarray, window: int = WINDOW) -> np.ndarray:
        return self.coder().analysis(rgb, window)

    def synthesis(self, y: np.ndarray, H: int, W: int, window: int = WINDOW) -> np.ndarray:
        return self.coder().synthesis(y, H, W, window)

    def tiles(self, H: int, W: int) -> list[tuple]:
        return self.coder().tiles(H, W)

    band_slices = staticmethod(WaveletCoder.band_slices)

    def encode_tile(self, u_bands: list, bands: list, collect=None) -> TileIndices:
        return self.coder().encode_tile(u_bands, bands, collect)

    def dequantise_tile(self, t: TileIndices, bands: list) -> list:
        return self.coder().dequantise_tile(t, bands)

    def encode(self, rgb: np.ndarray, step: float, collect=None) -> list[TileIndices]:
        return self.coder().encode(rgb, step, collect)

    def decode(self, tiles: list, H: int, W: int, step: float, window: int = WINDOW, fill=None) -> np.ndarray:
        return self.coder().decode(tiles, H, W, step, window, fill)

