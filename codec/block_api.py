"""Block (v1) and generative (gc) models behind `codec.api`: torch encoders and decoders over latent tiles.

    encode: RGB uint8 ─► per tile (with a margin): [0,1] pixels ─ model.encode ─► indices (L,G,h,w)
            ─► one range-coded payload per tile ─► container
    decode: indices ─► per window (with a margin): model.decode(indices, seed, realism) ─► RGB uint8

Working tile by tile keeps memory bounded whatever the image size; the margins make tiles seamless.
This module imports torch; `codec.api` loads it only for files and models of these architectures.
"""
import math

import numpy as np
import torch

from ..models.generator import seeded_noise

from .bitstream import Header, serialise
from .errors import CodecError
from .threads import one_thread
from .tiles import decode_tile, encode_tile
from .weights import LoadedModel

TILE = 32           # tile side in latent positions (256 pixels at block 8): one chunk each
ENCODE_WINDOW = 32  # side of the windows the encoder runs on: its vector search is fastest on small ones
DECODE_WINDOW = 64  # side of the windows the decoder runs on: fewer margins to compute
MARGIN = 4          # latent positions of context around a window: covers the 3 latent-resolution and the
                    # 3 pixel-resolution 3×3 convolutions, so windows join without seams


def _windows(h: int, w: int, tile: int):
    """Latent tile windows, row-major: (row slice, column slice)."""
    for i in range(0, h, tile):
        for j in range(0, w, tile):
            yield slice(i, min(i + tile, h)), slice(j, min(j + tile, w))


def _counted(windows, progress):
    """Report each finished window to `progress(done, total)` (a progress bar), if given."""
    windows = list(windows)
    for i, window in enumerate(windows):
        yield window
        if progress:
            progress(i + 1, len(windows))


def _grow(sl: slice, n: int, margin: int = MARGIN) -> slice:
    return slice(max(0, sl.start - margin), min(n, sl.stop + margin))


def _inner(sl: slice, grown: slice) -> slice:
    """Where `sl` lies inside `grown`."""
    return slice(sl.start - grown.start, sl.stop - grown.start)


def _pixels(rgb: np.ndarray, rows: slice, cols: slice, block: int) -> torch.Tensor:
    """Latent rows/cols → (1,3,·,·) float pixels in [0,1]; beyond the image edge, edge pixels repeat
    (the image is padded up to a multiple of the block)."""
    H, W, _ = rgb.shape
    r = np.minimum(np.arange(rows.start * block, rows.stop * block), H - 1)
    c = np.minimum(np.arange(cols.start * block, cols.stop * block), W - 1)
    return torch.from_numpy(rgb[r][:, c]).permute(2, 0, 1).float().div(255).unsqueeze(0)


def _index_dtype(K: int):
    return np.uint8 if K <= 256 else np.int16


@torch.inference_mode()
def encode_indices(rgb: np.ndarray, lm: LoadedModel, levels: int, progress=None) -> np.ndarray:
    """(H,W,3) uint8 → indices (levels,G,h,w), tile by tile so memory does not grow with the image.
    Stages are chosen greedily one after another, so level L sends the first L whatever `levels` is."""
    cfg = lm.model.cfg
    H, W, _ = rgb.shape
    h, w = -(-H // cfg.block), -(-W // cfg.block)
    indices = np.zeros((levels, cfg.groups, h, w), dtype=_index_dtype(cfg.codebook_size))
    with one_thread():  # a multi-threaded kernel splits each window's shape differently: near-ties could flip
        for rs, cs in _counted(_windows(h, w, ENCODE_WINDOW), progress):
            grs, gcs = _grow(rs, h), _grow(cs, w)
            idx = lm.model.encode(_pixels(rgb, grs, gcs, cfg.block), levels)[0].numpy()
            indices[:, :, rs, cs] = idx[:, :, _inner(rs, grs), _inner(cs, gcs)]
    return indices


def _pack(lm: LoadedModel, indices: np.ndarray, level: int, width: int, height: int, seed: int) -> bytes:
    cfg = lm.model.cfg
    idx = indices[:level]
    bins = lm.model.quantizer.bins
    payloads = [encode_tile(idx[:, :, rs, cs].astype(np.int64), lm.freqs, bins, cfg.ctx_buckets)
                for rs, cs in _windows(idx.shape[2], idx.shape[3], TILE)]
    header = Header(cfg.mode, level, width, height, seed, TILE, lm.name, lm.weights_hash, len(payloads))
    return serialise(header, payloads)


def compress_block(rgb: np.ndarray, lm: LoadedModel, level: int | None, quality: float | None,
                   target_bpp: float | None, size: int | None, seed: int, progress=None) -> bytes:
    """The .ibc file of a checked (H,W,3) uint8 image with a block model: at `level` (or `quality` as an
    integer level; default: the middle level), or the highest level whose real file fits the target."""
    H, W, _ = rgb.shape
    if quality is not None:
        if float(quality) != int(quality):
            raise CodecError(f"model {lm.name} takes an integer level, not {quality:g}")
        level = int(quality)
    S = top_level(lm)
    if level is not None and not 1 <= level <= S:
        raise CodecError(f"level must be 1..{S} for model {lm.name}")
    if target_bpp is None and size is None:
        level = level or default_level(lm)
        return _pack(lm, encode_indices(rgb, lm, level, progress), level, W, H, seed)
    indices = encode_indices(rgb, lm, S, progress)
    budget = size if size is not None else target_bpp * W * H / 8
    best = None
    for L in range(1, S + 1):  # a short search over real bitstream lengths
        data = _pack(lm, indices, L, W, H, seed)
        if len(data) > budget:
            break
        best = data
    if best is None:
        smallest = len(_pack(lm, indices, 1, W, H, seed))
        raise CodecError(f"cannot reach the target: the lowest level needs {smallest} bytes "
                         f"({smallest * 8 / (W * H):.3f} bpp)")
    return best


def top_level(lm: LoadedModel) -> int:
    """The highest quality level the model codes: all stages, or the levels its generative decoder learned."""
    cfg = lm.model.cfg
    return cfg.gc_levels if cfg.mode == "gc" else cfg.stages


def default_level(lm: LoadedModel) -> int:
    return min(math.ceil(lm.model.cfg.stages / 2), top_level(lm))


def fallback_indices(lm: LoadedModel, level: int) -> np.ndarray:
    """(level,G) the most probable index of every stage: what a damaged tile is filled with."""
    idx = [lm.freqs[0, :, 0].argmax(-1)]
    for s in range(1, level):
        idx.append(lm.freqs[s, np.arange(lm.freqs.shape[1]), idx[-1]].argmax(-1))
    return np.stack(idx)


def block_tile_count(lm: LoadedModel, header: Header) -> int:
    cfg = lm.model.cfg
    h, w = -(-header.height // cfg.block), -(-header.width // cfg.block)
    return len(list(_windows(h, w, header.tile)))


def decode_block_tiles(lm: LoadedModel, header: Header, payloads: list) -> np.ndarray:
    """A block model's payloads (None: damaged, filled in) → indices (level,G,h,w)."""
    cfg = lm.model.cfg
    h, w = -(-header.height // cfg.block), -(-header.width // cfg.block)
    indices = np.zeros((header.level, cfg.groups, h, w), dtype=_index_dtype(cfg.codebook_size))
    bins = lm.model.quantizer.bins
    for (rs, cs), payload in zip(_windows(h, w, header.tile), payloads):
        if payload is None:
            indices[:, :, rs, cs] = fallback_indices(lm, header.level)[:, :, None, None]
            continue
        shape = (header.level, cfg.groups, rs.stop - rs.start, cs.stop - cs.start)
        indices[:, :, rs, cs] = decode_tile(payload, shape, lm.freqs, bins, cfg.ctx_buckets)
    return indices


@torch.inference_mode()
def render_block(lm: LoadedModel, header: Header, indices: np.ndarray, seed: int, realism: float,
                 progress=None) -> np.ndarray:
    """A block model's indices (level,G,h,w) → (H,W,3) uint8, window by window."""
    cfg = lm.model.cfg
    h, w = indices.shape[2:]
    image = np.empty((header.height, header.width, 3), dtype=np.uint8)
    b = cfg.block
    for rs, cs in _counted(_windows(h, w, DECODE_WINDOW), progress):
        grs, gcs = _grow(rs, h), _grow(cs, w)
        u = seeded_noise(cfg, seed, grs, gcs) if realism > 0 else None
        x_hat = synthesize(lm, indices[None, :, :, grs, gcs].astype(np.int64), u, realism)[0]
        ir, ic = _inner(rs, grs), _inner(cs, gcs)
        tile = x_hat[:, ir.start * b:ir.stop * b, ic.start * b:ic.stop * b]
        rows = slice(rs.start * b, min(rs.stop * b, header.height))
        cols = slice(cs.start * b, min(cs.stop * b, header.width))
        tile = tile[:, :rows.stop - rows.start, :cols.stop - cols.start]
        image[rows, cols] = tile.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return image




def synthesize(lm: LoadedModel, indices: np.ndarray, u: tuple | None = None, realism: float = 0.0) -> torch.Tensor:
    """indices (B,L,G,h,w) → x̂ (B,3,H,W); `u` as from `seeded_noise`. One image at a time on one thread:
    a batched or multi-threaded convolution sums in another order, which moves some pixels by one level;
    this makes the pixels the same whatever the caller's batch and thread count (indices are exact
    either way)."""
    with one_thread():
        return torch.cat([lm.model.decode(torch.from_numpy(indices[i:i + 1]), u, realism)
                          for i in range(len(indices))])
