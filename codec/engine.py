"""The coding engine of Shannon-AE v2, in numpy: pixels ⇄ coefficients (windowed lifting on any backend),
coefficients ⇄ indices (the RD choice of ECVQ under the real contexts) and indices → pixels.

    encode: (H,W,3) uint8 ─ pad to 64 ─ WindowedLifting.forward ─► y ─ ÷ step, per tile (the model's side, 256 or 512):
              LL: q = round(u)                     ─► TileIndices.ll
              details: 2×2 blocks u ─ argmin ‖u − c‖² + λ·bits(row) ─► TileIndices.idx (+ escq)
                       bits(row) from the tile's adaptive counts: frozen priors + a fixed increment per symbol
    decode: TileIndices ─ codewords / dequant ─ × step ─ WindowedLifting.inverse ─ crop ─► uint8

A greyscale image (H,W,1) is transformed as its RGB (R = G = B) and codes its luma channel only; its
decode synthesises with the chroma at zero.

Nothing here imports torch (it is the coding path, which installs without it): the same object codes with
the torch steps (`codec.training.wavelet_model.WaveletCodec.coder()`) or the exported ONNX graphs
(`codec.onnx_steps`), and both give the same indices for the same coefficients.
"""
import math

import numpy as np

from .lifting import ORIENTATIONS, WINDOW, WindowedLifting, band_reader
from .step_code import UNIFORM, level_weight
from .subband_context import ESC, MAX_EXP, Counts, TileIndices, check_context, ll_residual, tile_bands, walk
from .subband_vq import LEVELS, NC, Codebooks, blocks, dequant, grid_index, quant, unblocks, vq_class

TILE = 256                  # tile side in pixels: contexts and counts never cross a tile's edge
ALIGN = 2 << LEVELS         # images are padded (edge replication) to multiples of this
LMBDA = 0.12                # RD trade-off of the encoder, in step² per bit (2 ln2 / 12 ≈ 0.116 for a uniform quantiser)


def band_weights(bands: list, codes: tuple) -> list[float]:
    """The step weight of each band of a tile (tile_bands order) under the header's weight codes."""
    return [level_weight(codes, b.level, b.orientation == "LL") for b in bands]


def eg_bits(m: np.ndarray) -> np.ndarray:
    """Bits of the Exp-Golomb tail of magnitudes m ≥ ESC (zero below): the exponent, then its bits."""
    e = np.maximum(m - ESC, 0)
    return np.where(m >= ESC, math.log2(MAX_EXP + 1) + np.floor(np.log2(e + 1)), 0.0)


def scalar_bits(counts, which: str, rows: np.ndarray, values: np.ndarray) -> float:
    """Bits of signed integers `values` as codec.subband_tiles codes them: a magnitude symbol on `rows` of
    counts[which], the Exp-Golomb tail of escapes, a sign per non-zero."""
    m = np.abs(values)
    table, local = counts.bit_rows(which, rows)
    return float(table[local, np.minimum(m, ESC)].sum() + eg_bits(m).sum() + np.count_nonzero(m))


class WaveletCoder:
    """Frozen tables and codebooks plus a transform: everything `encode` and `decode` need.

    `mode` "vq" is the ECVQ codec; "scalar" keeps the scalar dead-zone quantiser (grid codewords, no RD
    choice) through the same contexts and coder. books (N_CLASSES,NC,4) float64 in step units; priors
    {"vec", "mag", "ll"} int64 tables; cmag (N_CLASSES,NC,4) int64 rounded codeword magnitudes;
    `context` the context version the priors were designed with (codec.subband_context).
    """

    def __init__(self, transform: WindowedLifting, books: np.ndarray, priors: dict, cmag: np.ndarray,
                 mode: str = "vq", lmbda: float = LMBDA, tile: int = TILE, context: int = 1):
        if mode not in ("vq", "scalar") or tile % ALIGN:
            raise ValueError("mode must be vq or scalar, tile a multiple of 64")
        self.transform, self.vq, self._priors, self.cmag = transform, Codebooks(books), priors, cmag
        self.mode, self.lmbda, self.tile, self.context = mode, lmbda, tile, check_context(context)

    def priors(self) -> dict:
        return self._priors

    # -- pixels ⇄ coefficients --------------------------------------------------------------------
    def analysis(self, rgb: np.ndarray, window: int = WINDOW) -> np.ndarray:
        """(H,W,C) uint8 → y (C,Hp,Wp) float64, the image edge-padded to multiples of ALIGN. Computed in
        windows: the same numbers as the whole-image transform, in memory for y plus a quarter. A
        greyscale image (C = 1) is transformed as R = G = B, and only its luma is kept."""
        H, W, C = rgb.shape
        Hp, Wp = -(-H // ALIGN) * ALIGN, -(-W // ALIGN) * ALIGN
        x = np.pad(rgb, ((0, Hp - H), (0, Wp - W), (0, 0)), mode="edge")
        y = np.empty((3, Hp, Wp))

        def read(r0, r1, c0, c1):
            return np.broadcast_to(x[r0:r1, c0:c1].transpose(2, 0, 1), (3, r1 - r0, c1 - c0)).astype(np.float64)

        self.transform.forward(read, y, window)
        return y if C == 3 else y[:1].copy()

    def synthesis(self, y: np.ndarray, H: int, W: int, window: int = WINDOW) -> np.ndarray:
        """y (3,Hp,Wp) float64 → (H,W,3) uint8, synthesised in windows (y is not modified)."""
        return self._synthesise(band_reader(y), y.shape, H, W, window)

    def _synthesise(self, read, shape: tuple, H: int, W: int, window: int) -> np.ndarray:
        out = np.empty((H, W, 3), np.uint8)

        def write(r0, r1, c0, c1, x):
            if r0 < H and c0 < W:
                x = x[:, :H - r0, :W - c0]
                out[r0:r0 + x.shape[1], c0:c0 + x.shape[2]] = np.clip(np.round(x), 0, 255).astype(np.uint8).transpose(1, 2, 0)

        self.transform.inverse(read, shape, write, window)
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

    def encode_tile(self, u_bands: list, bands: list, collect=None, bits: list | None = None,
                    writer=None) -> TileIndices:
        """u_bands: the tile's bands of y/step (tile_bands order; C channels, 1 for greyscale) →
        TileIndices; `collect(b, ch, u, idx, rows)` sees every decision (for the design). `bits`, a list,
        gets the ideal code length of each coded part under the real counts: the range coder's payload to
        within a few bytes, without coding (what a rate search tries codes on). `writer`, a
        codec.subband_tiles.TileWriter, range-codes each part as it is chosen: one walk per tile."""
        out = TileIndices(np.rint(u_bands[0]).astype(np.int64), [], [])
        C = len(out.ll)
        for band in bands[1:]:
            hv, wv = band.shape[0] // 2, band.shape[1] // 2
            out.idx.append(np.zeros((C, hv, wv), np.int64))
            out.escq.append(np.zeros((C, hv, wv, 4), np.int64))
        vec = [None] + [blocks(u) for u in u_bands[1:]]

        def visit_pass(b, ch, part, rows, counts):
            u = vec[b][ch][part]
            idx, escq = self._choose(vq_class(bands[b].level, bands[b].orientation, ch), u, rows, counts)
            out.idx[b - 1][ch][part], out.escq[b - 1][ch][part] = idx, escq
            if collect:
                collect(b, ch, u, idx, rows, escq)
            if writer is not None:
                writer.part(idx, escq, rows, counts)
            if bits is not None:
                table, local = counts.bit_rows("vec", rows)
                esc = idx == NC
                escaped = scalar_bits(counts, "mag", np.repeat(rows[esc], 4), escq[esc].ravel())
                bits.append(table[local, idx].sum() + escaped)
            return idx, escq

        def visit_ll(counts):
            if writer is not None:
                writer.ll(out.ll, counts)

        walk(bands, self.priors(), self.cmag, visit_ll, visit_pass, self.context, C)
        if bits is not None:  # LL is coded first, under the priors
            rows = np.repeat(np.arange(C), out.ll[0].size)
            bits.append(scalar_bits(Counts(self.priors(), self.context), "ll", rows, ll_residual(out.ll).ravel()))
        return out

    def dequantise_tile(self, t: TileIndices, bands: list, weights: tuple | None = None) -> list:
        """TileIndices → the tile's bands of ŷ/step (LL as is, blocks from codewords or escapes); with step
        `weights` (codec.step_code, format version 4) each band divided by its weight."""
        out = [t.ll.astype(np.float64)]
        for b, band in enumerate(bands[1:]):
            rec = np.stack([self.vq.lookup(vq_class(band.level, band.orientation, ch), t.idx[b][ch], t.escq[b][ch])
                            for ch in range(len(t.ll))])
            out.append(unblocks(rec))
        if weights is not None and tuple(weights) != UNIFORM:
            out = [u / w for u, w in zip(out, band_weights(bands, weights))]
        return out

    def encode(self, rgb: np.ndarray, step: float, collect=None) -> list[TileIndices]:
        """(H,W,C) uint8 → one TileIndices per tile (row-major), of C channels (1: greyscale)."""
        y = self.analysis(rgb)
        y /= step
        Hp, Wp = y.shape[1:]
        out = []
        for tile in self.tiles(*rgb.shape[:2]):
            bands = tile_bands(tile[2], tile[3])
            out.append(self.encode_tile([y[:, r, c] for r, c in self.band_slices(Hp, Wp, tile)], bands, collect))
        return out

    def decode(self, tiles: list, H: int, W: int, step: float, window: int = WINDOW, fill=None,
               weights: tuple | None = None) -> np.ndarray:
        """One TileIndices per tile → (H,W,3) uint8 (greyscale tiles: chroma zero). Levels 2… are gathered
        into a quarter-size array; level 1 (three quarters of the coefficients) is dequantised from the
        tiles as the synthesis windows reach them, so no whole-image coefficient array is held. `fill(k, bands, infos)`, if
        given, changes tile k's dequantised bands (step units) before synthesis: the randomized decoder
        (codec.noise_fill); it must give the same bands each time it is called for a tile. `weights`: the
        file's step weights (codec.step_code; None: uniform)."""
        Hp, Wp = -(-H // ALIGN) * ALIGN, -(-W // ALIGN) * ALIGN
        layout = self.tiles(H, W)

        def dequantised(k: int, infos: list) -> list:
            bands = self.dequantise_tile(tiles[k], infos, weights)
            if len(bands[0]) == 3:
                return fill(k, bands, infos) if fill else bands
            bands = [np.concatenate([b, np.zeros((2,) + b.shape[1:])]) for b in bands]  # greyscale: no chroma
            return [np.concatenate([b[:1], np.zeros_like(b[1:])]) for b in fill(k, bands, infos)] if fill else bands

        coarse = np.zeros((3, Hp // 2, Wp // 2))  # the top-left quarter of y: LL and levels 2 … LEVELS
        for k, tile in enumerate(layout):
            bands = tile_bands(tile[2], tile[3])
            for (r, c), band, info in zip(self.band_slices(Hp, Wp, tile), dequantised(k, bands), bands):
                if info.level > 1:
                    coarse[:, r, c] = band * step
        read_coarse = band_reader(coarse, Hp, Wp)
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
                    fine[k] = [b * step for b in dequantised(k, bands)[-3:]]
                band = fine[k][ORIENTATIONS.index(o)]
                x[:, r0 - rows.start:r1 - rows.start, c0 - cols.start:c1 - cols.start] = \
                    band[:, r0 - py // 2:r1 - py // 2, c0 - px // 2:c1 - px // 2]
            return x

        return self._synthesise(read, (3, Hp, Wp), H, W, window)
