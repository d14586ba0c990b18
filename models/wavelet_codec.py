"""Shannon-AE v2: lifting wavelet + ECVQ of 2×2 subband blocks + checkerboard/parent/colour contexts."""
import copy
import math

import numpy as np
import torch
from torch import nn

from .subband_context import (ESC, K_MAG, MAX_EXP, N_ROWS, PRIOR_TOTAL, SUB, TileIndices, tile_bands, walk)
from .subband_vq import LEVELS, NC, ORIENTATIONS, SubbandVQ, blocks, dequant, grid_index, quant, unblocks, vq_class
from .wavelet import WINDOW, WaveletTransform

TILE = 256                  # tile side in pixels: contexts and counts never cross a tile's edge
ALIGN = 2 << LEVELS         # images are padded (edge replication) to multiples of this
LMBDA = 0.12                # RD trade-off of the encoder, in step² per bit (2 ln2 / 12 ≈ 0.116 for a uniform quantiser)


def eg_bits(m: np.ndarray) -> np.ndarray:
    """Bits of the Exp-Golomb tail of magnitudes m ≥ ESC (zero below): the exponent, then its bits."""
    e = np.maximum(m - ESC, 0)
    return np.where(m >= ESC, math.log2(MAX_EXP + 1) + np.floor(np.log2(e + 1)), 0.0)


class WaveletCodec(nn.Module):
    """One model for every rate (the step is a per-image number); `forward` trains, `encode`/`decode` code.

        x (H,W,3) ─ pad to 64 ─ colour + 5-level CDF 9/7 lifting (+ learned corrections) ─► y
          ─ ÷ step, per 256×256 tile, in decode order (models.subband_context):
              LL: q = round(u)                     ─► TileIndices.ll
              details: 2×2 blocks u ─ argmin ‖u − c‖² + λ·bits(row) ─► TileIndices.idx (+ escq)
                       bits(row) from the tile's adaptive counts: frozen priors + INC per symbol
        decode: indices ─ codewords / dequant ─ × step ─ synthesis ─ crop ─► x̂ (H,W,3) uint8

    `mode` "vq" is the ECVQ codec; "scalar" keeps the scalar dead-zone quantiser (grid codewords, no RD
    choice) through the same contexts and coder. `freeze()` turns the design statistics (stat_*) into
    the integer priors and the codewords' integer magnitudes once.
    """

    def __init__(self, hidden: int = 0, mode: str = "vq", lmbda: float = LMBDA, tile: int = TILE):
        super().__init__()
        if mode not in ("vq", "scalar") or tile % ALIGN:
            raise ValueError("mode must be vq or scalar, tile a multiple of 64")
        self.mode, self.lmbda, self.tile = mode, lmbda, tile
        self.transform = WaveletTransform(LEVELS, hidden)
        self.vq = SubbandVQ()
        for name, k in (("vec", NC + 1), ("mag", K_MAG)):
            self.register_buffer(f"stat_{name}", torch.zeros(N_ROWS, k, dtype=torch.float64))
            self.register_buffer(f"prior_{name}", torch.ones(N_ROWS, k, dtype=torch.int64))
        self.register_buffer("stat_ll", torch.zeros(3, K_MAG, dtype=torch.float64))
        self.register_buffer("prior_ll", torch.ones(3, K_MAG, dtype=torch.int64))
        self.register_buffer("cmag", torch.zeros(self.vq.codebooks.shape, dtype=torch.int64))
        self._coding = None  # float64 copy of the transform for coding

    # -- integer tables -----------------------------------------------------------------------------
    @torch.no_grad()
    def freeze(self) -> None:
        """Design statistics → integer priors (rows ≈ PRIOR_TOTAL, every entry ≥ 1); codewords → magnitudes."""
        for name in ("vec", "mag", "ll"):
            s = getattr(self, f"stat_{name}").numpy()
            K = s.shape[-1]
            g = s.reshape(-1, SUB if name != "ll" else 3, K)
            marginal = (g.sum(1, keepdims=True) + 0.5) / (g.sum((1, 2), keepdims=True) + K / 2)
            p = (g + 2 * marginal) / (g.sum(-1, keepdims=True) + 2)
            f = np.floor(p * (PRIOR_TOTAL - K)).astype(np.int64) + 1
            getattr(self, f"prior_{name}").copy_(torch.from_numpy(f.reshape(s.shape)))
        self.cmag.copy_(torch.from_numpy(np.floor(np.abs(self.vq.books()) + 0.5).astype(np.int64)))
        self._coding = None

    def priors(self) -> dict:
        return {"vec": self.prior_vec.numpy(), "mag": self.prior_mag.numpy(), "ll": self.prior_ll.numpy()}

    # -- pixels ⇄ coefficients --------------------------------------------------------------------
    def _coder_transform(self) -> WaveletTransform:
        if self._coding is None:
            self._coding = copy.deepcopy(self.transform).double().eval()
        return self._coding

    @torch.no_grad()
    def analysis(self, rgb: np.ndarray, window: int = WINDOW) -> np.ndarray:
        """(H,W,3) uint8 → y (3,Hp,Wp) float64, the image edge-padded to multiples of ALIGN. Computed in
        windows: the same numbers as the whole-image transform, in memory for y plus a quarter."""
        H, W, _ = rgb.shape
        Hp, Wp = -(-H // ALIGN) * ALIGN, -(-W // ALIGN) * ALIGN
        x = np.pad(rgb, ((0, Hp - H), (0, Wp - W), (0, 0)), mode="edge")
        y = np.empty((3, Hp, Wp))

        def read(r0, r1, c0, c1):
            return torch.from_numpy(x[r0:r1, c0:c1].transpose(2, 0, 1).astype(np.float64))

        self._coder_transform().forward_windowed(read, torch.from_numpy(y), window)
        return y

    @torch.no_grad()
    def synthesis(self, y: np.ndarray, H: int, W: int, window: int = WINDOW) -> np.ndarray:
        """y (3,Hp,Wp) float64 → (H,W,3) uint8, synthesised in windows (y is not modified)."""
        y = torch.from_numpy(y)
        return self._synthesise(self._coder_transform().wavelet.band_reader(y), y.shape, H, W, window)

    def _synthesise(self, read, shape: tuple, H: int, W: int, window: int) -> np.ndarray:
        out = np.empty((H, W, 3), np.uint8)

        def write(r0, r1, c0, c1, x):
            if r0 < H and c0 < W:
                x = x[:, :H - r0, :W - c0].numpy()
                out[r0:r0 + x.shape[1], c0:c0 + x.shape[2]] = np.clip(np.round(x), 0, 255).astype(np.uint8).transpose(1, 2, 0)

        self._coder_transform().inverse_windowed(read, shape, write, window)
        return out

    def tiles(self, H: int, W: int) -> list[tuple]:
        """(py, px, th, tw) of every tile of the padded image, row-major."""
        Hp, Wp = -(-H // ALIGN) * ALIGN, -(-W // ALIGN) * ALIGN
        return [(py, px, min(self.tile, Hp - py), min(self.tile, Wp - px))
                for py in range(0, Hp, self.tile) for px in range(0, Wp, self.tile)]

    @staticmethod
    def band_slices(Hp: int, Wp: int, tile: tuple) -> list[tuple]:
        """(rows, cols) in the Mallat layout of every band of one tile, in tile_bands order."""
        py, px, th, tw = tile
        out = []
        for b in tile_bands(th, tw):
            j = b.level
            r0 = (Hp >> j) if b.orientation in ("LH", "HH") else 0
            c0 = (Wp >> j) if b.orientation in ("HL", "HH") else 0
            out.append((slice(r0 + (py >> j), r0 + ((py + th) >> j)), slice(c0 + (px >> j), c0 + ((px + tw) >> j))))
        return out

    # -- coefficients ⇄ indices --------------------------------------------------------------------
    def _choose(self, cls: int, u: np.ndarray, rows: np.ndarray, counts) -> tuple[np.ndarray, np.ndarray]:
        """RD choice of blocks u (n,4) under their real rows: ‖u − c‖² + λ·bits, escape included."""
        q = quant(u)
        if self.mode == "scalar":
            idx = grid_index(q)
        else:
            m = np.abs(q)
            # bits per row used (≤ SUB rows in a pass), gathered per block only where needed
            mag_bits, local = counts.bit_rows("mag", rows)
            mag_bits = mag_bits[local[:, None], np.minimum(m, ESC)].sum(-1)
            esc_bits = mag_bits + (m > 0).sum(-1) + eg_bits(m).sum(-1)
            vec_bits, _ = counts.bit_rows("vec", rows)
            cost = self.vq.distortions(cls, u) + (self.lmbda * vec_bits[:, :NC])[local]
            esc_cost = ((u - dequant(q)) ** 2).sum(-1) + self.lmbda * (vec_bits[local, NC] + esc_bits)
            best = cost.argmin(-1)
            idx = np.where(esc_cost < cost[np.arange(best.size), best], NC, best)
            # an escape must not reconstruct onto a codeword: each reconstruction has one index
            esc = np.flatnonzero(idx == NC)
            if esc.size:
                onto = self.vq.distortions(cls, dequant(q[esc])).min(-1) == 0
                idx[esc[onto]] = cost[esc[onto]].argmin(-1)
        return idx, np.where((idx == NC)[:, None], q, 0)

    def encode_tile(self, u_bands: list, bands: list, collect=None) -> TileIndices:
        """u_bands: the tile's bands of y/step (tile_bands order) → TileIndices; `collect(b, ch, u,
        idx, rows)` sees every decision (for the design)."""
        out = TileIndices(np.rint(u_bands[0]).astype(np.int64), [], [])
        for band in bands[1:]:
            hv, wv = band.shape[0] // 2, band.shape[1] // 2
            out.idx.append(np.zeros((3, hv, wv), np.int64))
            out.escq.append(np.zeros((3, hv, wv, 4), np.int64))
        vec = [None] + [blocks(u) for u in u_bands[1:]]

        def visit_pass(b, ch, part, rows, counts):
            u = vec[b][ch][part]
            idx, escq = self._choose(vq_class(bands[b].level, bands[b].orientation, ch), u, rows, counts)
            out.idx[b - 1][ch][part], out.escq[b - 1][ch][part] = idx, escq
            if collect:
                collect(b, ch, u, idx, rows, escq)
            return idx, escq

        walk(bands, self.priors(), self.cmag.numpy(), lambda counts: out.ll, visit_pass)
        return out

    def dequantise_tile(self, t: TileIndices, bands: list) -> list:
        """TileIndices → the tile's bands of ŷ/step (LL as is, blocks from codewords or escapes)."""
        out = [t.ll.astype(np.float64)]
        for b, band in enumerate(bands[1:]):
            rec = np.stack([self.vq.lookup(vq_class(band.level, band.orientation, ch), t.idx[b][ch], t.escq[b][ch])
                            for ch in range(3)])
            out.append(unblocks(rec))
        return out

    def encode(self, rgb: np.ndarray, step: float, collect=None) -> list[TileIndices]:
        """(H,W,3) uint8 → one TileIndices per tile (row-major)."""
        y = self.analysis(rgb)
        y /= step
        Hp, Wp = y.shape[1:]
        out = []
        for tile in self.tiles(*rgb.shape[:2]):
            bands = tile_bands(tile[2], tile[3])
            out.append(self.encode_tile([y[:, r, c] for r, c in self.band_slices(Hp, Wp, tile)], bands, collect))
        return out

    @torch.no_grad()
    def decode(self, tiles: list, H: int, W: int, step: float, window: int = WINDOW) -> np.ndarray:
        """One TileIndices per tile → (H,W,3) uint8. Levels 2… are gathered into a quarter-size array;
        level 1 (three quarters of the coefficients) is dequantised from the tiles as the synthesis
        windows reach them, so no whole-image coefficient array is held."""
        Hp, Wp = -(-H // ALIGN) * ALIGN, -(-W // ALIGN) * ALIGN
        layout = self.tiles(H, W)
        coarse = np.zeros((3, Hp // 2, Wp // 2))  # the top-left quarter of y: LL and levels 2 … LEVELS
        for tile, t in zip(layout, tiles):
            bands = tile_bands(tile[2], tile[3])
            for (r, c), band, info in zip(self.band_slices(Hp, Wp, tile), self.dequantise_tile(t, bands), bands):
                if info.level > 1:
                    coarse[:, r, c] = band * step
        read_coarse = self._coder_transform().wavelet.band_reader(torch.from_numpy(coarse), Hp, Wp)
        fine = {}  # tile number → its three level-1 bands × step, while synthesis windows still need them

        def read(level, o, rows, cols):
            if level > 1:
                return read_coarse(level, o, rows, cols)
            x = np.empty((3, rows.stop - rows.start, cols.stop - cols.start))
            for k, (py, px, th, tw) in enumerate(layout):
                r0, r1 = max(rows.start, py // 2), min(rows.stop, (py + th) // 2)
                c0, c1 = max(cols.start, px // 2), min(cols.stop, (px + tw) // 2)
                if (py + th) // 2 <= rows.start:  # never needed again: the windows go down the image
                    fine.pop(k, None)
                if r0 >= r1 or c0 >= c1:
                    continue
                if k not in fine:
                    bands = tile_bands(th, tw)
                    fine[k] = [b * step for b in self.dequantise_tile(tiles[k], bands)[-3:]]
                band = fine[k][ORIENTATIONS.index(o)]
                x[:, r0 - rows.start:r1 - rows.start, c0 - cols.start:c1 - cols.start] = \
                    band[:, r0 - py // 2:r1 - py // 2, c0 - px // 2:c1 - px // 2]
            return torch.from_numpy(x)

        return self._synthesise(read, (3, Hp, Wp), H, W, window)

    def forward(self, x: torch.Tensor, step: float) -> dict:
        """Training: x (B,3,H,W) in [0,1], H and W multiples of 64 → {x_hat, bits, bpp, mse, loss}."""
        from .wavelet_rate import rate_distortion
        return rate_distortion(self, x, step)

