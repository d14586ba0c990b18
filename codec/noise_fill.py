"""The randomized decoder of Shannon-AE v2 (eq. 36's g_θ(ẑ, u)), from a closed-form start: texture where
the bits sent none.

At low rates most fine-scale blocks decode to zero, and their texture is lost (blur). This decoder puts
back coefficients of the energy the encoder discarded, drawn from a seeded generator:

    ŷ (step units, per tile) ─► for each detail band of the filled levels, each coefficient decoded as 0:
        ŷ + A · σ[class, ctx] · u          u: unit-variance uniform noise, Philox keyed by (seed, tile)
        ctx = (decoded parent magnitude bucket, non-zero decoded neighbours bucket)     ─► synthesis

σ²[class, ctx] is the mean squared coefficient of such places on training images (fitted by `fit`), times
the shipped amplitude; A is the realism (0: the Shannon-AE decoder, 1: this one). Coarse scales, and every
coefficient the file did send, are kept as sent. Noise from raw Philox words through integer and exact
float operations only, so the same file and seed give the same pixels on any machine and backend.
numpy only: decoding a gc file needs no torch.
"""
import math

import numpy as np

from .subband_context import tile_bands
from .subband_vq import N_CLASSES, vq_class

PARENT_EDGES = np.array([0.25, 1.5, 4.0])  # decoded parent magnitude (step units) → 4 buckets
NEIGH_EDGES = np.array([0.5, 2.5])        # non-zero decoded neighbours in the 3×3 window → 3 buckets
N_CTX = (len(PARENT_EDGES) + 1) * (len(NEIGH_EDGES) + 1)
ZERO = 0.25                               # a decoded coefficient this small counts as not sent


def tile_contexts(bands: list, infos: list) -> list:
    """Per detail band of one tile (tile_bands order, None for LL): (ctx (3,h,w) int, zero (3,h,w) bool),
    from its dequantised bands in step units alone."""
    out = [None]
    for band, info in zip(bands[1:], infos[1:]):
        h, w = band.shape[1:]
        if info.parent is not None:
            par = np.abs(bands[info.parent]).repeat(2, 1).repeat(2, 2)[:, :h, :w]
        else:
            par = np.zeros_like(band)
        nz = (np.abs(band) >= ZERO).astype(np.int64)
        p = np.pad(nz, ((0, 0), (1, 1), (1, 1)))
        neigh = sum(p[:, 1 + dr:1 + dr + h, 1 + dc:1 + dc + w] for dr in (-1, 0, 1) for dc in (-1, 0, 1)) - nz
        ctx = np.digitize(par, PARENT_EDGES) * (len(NEIGH_EDGES) + 1) + np.digitize(neigh, NEIGH_EDGES)
        out.append((ctx, np.abs(band) < ZERO))
    return out


def uniform_noise(seed: int, tile: int, n: int) -> np.ndarray:
    """n unit-variance uniform samples of the Philox stream keyed by (seed, tile): the top 53 bits of each
    raw 64-bit word as a fraction, centred and scaled (exact float operations only)."""
    raw = np.random.Philox(key=np.array([tile, seed], np.uint64)).random_raw(n)
    return ((raw >> np.uint64(11)).astype(np.float64) * 2.0 ** -53 - 0.5) * math.sqrt(12)


class NoiseFill:
    """σ (N_CLASSES, N_CTX) in step units and the wavelet levels filled (1 = finest)."""

    def __init__(self, sigma: np.ndarray, levels: tuple):
        if sigma.shape != (N_CLASSES, N_CTX):
            raise ValueError(f"sigma must be ({N_CLASSES}, {N_CTX})")
        self.sigma, self.levels = np.asarray(sigma, np.float64), tuple(int(j) for j in levels)

    def apply(self, bands: list, infos: list, seed: int, tile: int, realism: float) -> list:
        """One tile's dequantised bands (step units) → the same with noise where nothing was sent."""
        if realism <= 0:
            return bands
        out = list(bands)
        contexts = tile_contexts(bands, infos)
        sizes = [b.size for b, i in zip(bands[1:], infos[1:]) if i.level in self.levels]
        u = uniform_noise(seed, tile, sum(sizes))
        at = 0
        for b, info in enumerate(infos[1:], start=1):
            if info.level not in self.levels:
                continue
            ctx, zero = contexts[b]
            z = u[at:at + bands[b].size].reshape(bands[b].shape)
            at += bands[b].size
            sigma = np.stack([self.sigma[vq_class(info.level, info.orientation, ch)][ctx[ch]] for ch in range(3)])
            out[b] = bands[b] + np.where(zero, realism * sigma * z, 0.0)
        return out

    def filler(self, seed: int, realism: float):
        """fill(k, bands, infos) for WaveletCoder.decode: tile k's bands with this decoder's noise."""
        return lambda k, bands, infos: self.apply(bands, infos, seed, k, realism)


def fit(coder, images: list, steps: list, levels: tuple) -> tuple[np.ndarray, np.ndarray]:
    """σ (N_CLASSES, N_CTX) and the sample counts: the root mean squared coefficient (step units) of the
    places `tile_contexts` marks as not sent, per class and context, pooled over images and steps."""
    s2, n = np.zeros((N_CLASSES, N_CTX)), np.zeros((N_CLASSES, N_CTX))
    for rgb in images:
        H, W = rgb.shape[:2]
        y = coder.analysis(rgb)
        Hp, Wp = y.shape[1:]
        for step in steps:
            for tile, t in zip(coder.tiles(H, W), coder.encode(rgb, step)):
                infos = tile_bands(tile[2], tile[3])
                bands = coder.dequantise_tile(t, infos)
                truth = [y[:, r, c] / step for r, c in coder.band_slices(Hp, Wp, tile)]
                for b, (ctx, zero) in enumerate(tile_contexts(bands, infos)[1:], start=1):
                    if infos[b].level not in levels:
                        continue
                    for ch in range(3):
                        cls = vq_class(infos[b].level, infos[b].orientation, ch)
                        m = zero[ch]
                        np.add.at(s2[cls], ctx[ch][m], truth[b][ch][m] ** 2)
                        np.add.at(n[cls], ctx[ch][m], 1)
    return np.sqrt(s2 / np.maximum(n, 1)), n
