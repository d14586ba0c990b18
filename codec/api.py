"""compress(image) → .ibc bytes and decompress(bytes) → image: the whole codec behind one pair of calls.

    encode: RGB uint8 ─► per tile (with a margin): [0,1] pixels ─ model.encode ─► indices (L,G,h,w)
            ─► one range-coded payload per tile ─► container
    decode: container ─► header, payloads ─► indices                           (read_indices: the bytes)
            ─► per window (with a margin): model.decode(indices, seed, realism) ─► RGB uint8   (render)

Working tile by tile keeps memory bounded whatever the image size; the margins make tiles seamless.
Wavelet (Shannon-AE v2) models take the same calls; their coding path is `codec.wavelet_api`.
"""
import math
from dataclasses import dataclass

import numpy as np
import torch

from ..models.generator import seeded_noise

from .bitstream import MAX_SIDE, Header, parse_chunks, parse_header, serialise
from .errors import CodecError
from .image_io import as_rgb
from .step_code import COARSEST_CODE, FINEST_CODE
from .threads import one_thread
from .tiles import decode_tile, encode_tile
from .wavelet_api import compress_wavelet, decode_tiles, render_tiles, tile_count
from .weights import LoadedModel, find_by_hash, find_generative, load_model

TILE = 32           # tile side in latent positions (256 pixels at block 8): one chunk each
ENCODE_WINDOW = 32  # side of the windows the encoder runs on: its vector search is fastest on small ones
DECODE_WINDOW = 64  # side of the windows the decoder runs on: fewer margins to compute
DEFAULT_SEED = 0    # the decoder noise's seed when none is chosen
SEEDS = 2 ** 32     # seeds are stored as u32 in the header
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


def compress(rgb: np.ndarray, lm: LoadedModel | None = None, level: int | None = None,
             target_bpp: float | None = None, size: int | None = None, seed: int = DEFAULT_SEED,
             progress=None, quality: float | None = None) -> bytes:
    """Encode an (H,W,3) uint8 image. Pick the quality by `quality`: a wavelet model's q in 0..100 (fine
    steps; default 50), a block model's level 1..S (also as `level`; default: its middle level); or the
    finest setting whose real file fits `target_bpp` bits per pixel or `size` bytes.
    A generative model (mode "gc") writes the same payload as its Shannon-AE base, marks the file for its
    randomized decoder and stores `seed`, the decoder noise's seed.
    `progress(done, total)` is called as the image's windows are encoded.
    `rgb` may also be a path or a PIL image (read as `ibc compress` reads files)."""
    rgb = as_rgb(rgb)
    lm = lm or load_model()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise CodecError("expected an (H,W,3) uint8 RGB image")
    H, W, _ = rgb.shape
    if max(H, W) > MAX_SIDE:
        raise CodecError(f"image sides are limited to {MAX_SIDE} pixels (this one is {W}×{H})")
    check_seed(seed)
    if level is not None and quality is not None:
        raise CodecError("give the quality or the level, not both")
    if lm.arch == "wavelet":
        if level is not None:
            raise CodecError(f"model {lm.name} takes a quality q in 0..100, not a level")
        return compress_wavelet(rgb, lm, quality, target_bpp, size, seed, progress)
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


def read_header(data: bytes) -> Header:
    return parse_header(data)[0]


def check_seed(*seeds: int) -> None:
    """Decoder-noise seeds must fit the header's u32."""
    if not all(0 <= s < SEEDS for s in seeds):
        raise CodecError(f"the seed must lie in 0..{SEEDS - 1}")


def decoding_choices(header: Header, seed: int | None = None, realism: float | None = None) -> tuple[int, float]:
    """The seed and realism a file decodes with, checked: by default its own seed, and its generative
    reconstruction (realism 1) if it was compressed in mode "gc", else the Shannon-AE one (0)."""
    realism = (1.0 if header.mode == "gc" else 0.0) if realism is None else float(realism)
    if not 0 <= realism <= 1:
        raise CodecError("realism must lie in [0, 1]")
    seed = header.seed if seed is None else seed
    check_seed(seed)
    return seed, realism


def _reads(lm: LoadedModel, header: Header) -> bool:
    """Whether `lm` decodes this file: it made it, or it is a generative model built on the model that did."""
    return header.weights_hash in (lm.weights_hash, lm.base_hash)


def model_for(header: Header, lm: LoadedModel | None = None, realism: float = 0.0) -> LoadedModel:
    """The model that decodes this file: the given one if it reads it, else a shipped one by hash. With
    `realism` > 0 the model must hold a randomized decoder: a Shannon-AE file then takes the shipped
    generative model built on its model."""
    if lm is not None:
        if not _reads(lm, header):
            raise CodecError(f"this file was made by model {header.model!r} ({header.weights_hash.hex()}), "
                             f"not by {lm.name!r} ({lm.weights_hash.hex()})")
    else:
        lm = find_by_hash(header.weights_hash)
        if lm is None:
            raise CodecError(f"this file needs model {header.model!r} (weights {header.weights_hash.hex()}), "
                             "which is not installed; pass it with --model PATH")
    if realism > 0 and lm.mode != "gc":
        gen = find_generative(lm.sha256)
        if gen is None:
            raise CodecError(f"--realism above 0 needs a generative (gc) model built on {lm.name!r}; "
                             "none is installed")
        lm = gen
    _check_decodes(lm, header, realism)
    return lm


def _check_decodes(lm: LoadedModel, header: Header, realism: float) -> None:
    if lm.arch == "wavelet" or header.step:
        if (lm.arch != "wavelet" or not FINEST_CODE <= header.step <= COARSEST_CODE or header.mode != "shannon"
                or header.tile != lm.model.tile):
            raise CodecError(f"corrupt header (step code {header.step} or tile {header.tile} "
                             f"not of model {lm.name})")
        if realism > 0:
            raise CodecError(f"model {lm.name!r} has no generative decoder (use --realism 0)")
        return
    cfg = lm.model.cfg
    if header.level > cfg.stages or (header.mode == "gc" and cfg.mode != "gc"):
        raise CodecError(f"corrupt header (level {header.level} or mode {header.mode} not in model {lm.name})")
    if realism > 0 and header.level > cfg.gc_levels:
        raise CodecError(f"the generative decoder of {lm.name!r} covers levels 1..{cfg.gc_levels}; "
                         f"this file is level {header.level} (use --realism 0)")


def fallback_indices(lm: LoadedModel, level: int) -> np.ndarray:
    """(level,G) the most probable index of every stage: what a damaged tile is filled with."""
    idx = [lm.freqs[0, :, 0].argmax(-1)]
    for s in range(1, level):
        idx.append(lm.freqs[s, np.arange(lm.freqs.shape[1]), idx[-1]].argmax(-1))
    return np.stack(idx)


@dataclass
class ReadFile:
    header: Header
    indices: np.ndarray | list   # what the file carries, all that decoding needs besides the model: block
                                 # models (level,G,h,w); wavelet models one TileIndices per tile
    damaged_tiles: list[int]     # tiles whose CRC failed and were filled in (only with salvage)


def _damaged(payloads: list, salvage: bool) -> list[int]:
    """The tiles whose CRC failed: an error, or with `salvage` the list of them."""
    damaged = [i for i, p in enumerate(payloads) if p is None]
    if damaged and not salvage:
        raise CodecError(f"corrupt file: CRC mismatch in tile(s) {', '.join(map(str, damaged))} "
                         "(--salvage decodes the rest)")
    return damaged


def read_indices(data: bytes, lm: LoadedModel, salvage: bool = False) -> ReadFile:
    """.ibc bytes → header and indices, range-decoded with `lm`'s tables (a gc model reads its base's files).
    A tile whose CRC fails is an error, or with `salvage` is filled in and listed (block models: each
    stage's most probable index; wavelet models: details zero, LL at mid-grey). The indices do not
    depend on the seed or the realism: `render` them as often as wanted."""
    header, offset = parse_header(data)
    _check_decodes(lm, header, 0.0)
    if lm.arch == "wavelet":
        payloads = parse_chunks(data, offset, tile_count(lm, header.height, header.width))
        damaged = _damaged(payloads, salvage)
        return ReadFile(header, decode_tiles(lm, payloads, header.height, header.width, header.step),
                        damaged)
    cfg = lm.model.cfg
    h, w = -(-header.height // cfg.block), -(-header.width // cfg.block)
    windows = list(_windows(h, w, header.tile))
    payloads = parse_chunks(data, offset, len(windows))
    damaged = _damaged(payloads, salvage)
    indices = np.zeros((header.level, cfg.groups, h, w), dtype=_index_dtype(cfg.codebook_size))
    bins = lm.model.quantizer.bins
    for i, ((rs, cs), payload) in enumerate(zip(windows, payloads)):
        if payload is None:
            indices[:, :, rs, cs] = fallback_indices(lm, header.level)[:, :, None, None]
            continue
        shape = (header.level, cfg.groups, rs.stop - rs.start, cs.stop - cs.start)
        indices[:, :, rs, cs] = decode_tile(payload, shape, lm.freqs, bins, cfg.ctx_buckets)
    return ReadFile(header, indices, damaged)


@torch.inference_mode()
def render(lm: LoadedModel, header: Header, indices: np.ndarray, seed: int, realism: float,
           progress=None) -> np.ndarray:
    """Indices (level,G,h,w) of a file → its (H,W,3) uint8 pixels, window by window.

    `realism` A blends the Shannon-AE reconstruction (0) with the generative one (1, `lm` in mode "gc"),
    whose noise comes from `seed`: the same indices and seed give the same pixels.
    `progress(done, total)` is called as the image's windows are decoded."""
    _check_decodes(lm, header, realism)
    if lm.arch == "wavelet":
        return render_tiles(lm, indices, header.height, header.width, header.step, progress)
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


@dataclass
class Decoded:
    image: np.ndarray            # (H,W,3) uint8
    damaged_tiles: list[int]     # tiles whose CRC failed and were filled in (only with salvage)


def decode(data: bytes, lm: LoadedModel | None = None, salvage: bool = False, progress=None,
           seed: int | None = None, realism: float | None = None) -> Decoded:
    """.ibc bytes → image: `read_indices`, then `render` with the file's defaults for what is not given
    (`decoding_choices`). A tile whose CRC fails is an error, or with `salvage` is filled in and listed."""
    header = read_header(data)
    seed, realism = decoding_choices(header, seed, realism)
    lm = model_for(header, lm, realism)
    read = read_indices(data, lm, salvage)
    return Decoded(render(lm, header, read.indices, seed, realism, progress), read.damaged_tiles)


def decompress(data: bytes, lm: LoadedModel | None = None, seed: int | None = None,
               realism: float | None = None) -> np.ndarray:
    """.ibc bytes → (H,W,3) uint8. Raises CodecError on any corruption."""
    return decode(data, lm, seed=seed, realism=realism).image


def synthesize(lm: LoadedModel, indices: np.ndarray, u: tuple | None = None, realism: float = 0.0) -> torch.Tensor:
    """indices (B,L,G,h,w) → x̂ (B,3,H,W); `u` as from `seeded_noise`. One image at a time on one thread:
    a batched or multi-threaded convolution sums in another order, which moves some pixels by one level;
    this makes the pixels the same whatever the caller's batch and thread count (indices are exact
    either way)."""
    with one_thread():
        return torch.cat([lm.model.decode(torch.from_numpy(indices[i:i + 1]), u, realism)
                          for i in range(len(indices))])
