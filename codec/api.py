"""compress(image) → .ibc bytes and decompress(bytes) → image: the whole codec behind one pair of calls.

    encode: RGB uint8 ─► [0,1], edge-padded to the block ─ model.encode ─► indices (S,G,h,w)
            ─ split into tiles ─► range-coded payloads ─► container
    decode: container ─► header, payloads ─► indices ─ model.decode ─► crop ─► RGB uint8
"""
import math
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as F

from .bitstream import Header, parse_chunks, parse_header, serialise
from .errors import CodecError
from .tiles import decode_tile, encode_tile
from .weights import LoadedModel, find_by_hash, load_model

TILE = 32  # tile side in latent positions (256 pixels at block 8): a chunk each


def _to_tensor(rgb: np.ndarray, block: int) -> torch.Tensor:
    """(H,W,3) uint8 → (1,3,H',W') float in [0,1], edge-padded up to a multiple of `block`."""
    H, W, _ = rgb.shape
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float().div(255).unsqueeze(0)
    pad_h, pad_w = -H % block, -W % block
    return F.pad(x, (0, pad_w, 0, pad_h), mode="replicate") if pad_h or pad_w else x


def _tiles(h: int, w: int, tile: int):
    """Latent tile windows, row-major: (row slice, column slice)."""
    for i in range(0, h, tile):
        for j in range(0, w, tile):
            yield slice(i, min(i + tile, h)), slice(j, min(j + tile, w))


def _pack(lm: LoadedModel, indices: np.ndarray, level: int, width: int, height: int, seed: int) -> bytes:
    cfg = lm.model.cfg
    idx = indices[:level]
    levels = lm.model.quantizer.levels
    payloads = [encode_tile(np.ascontiguousarray(idx[:, :, rs, cs]), lm.freqs, levels, cfg.ctx_buckets)
                for rs, cs in _tiles(idx.shape[2], idx.shape[3], TILE)]
    header = Header(cfg.mode, level, width, height, seed, TILE, lm.name, lm.weights_hash, len(payloads))
    return serialise(header, payloads)


@torch.inference_mode()
def encode_levels(rgb: np.ndarray, lm: LoadedModel, levels: int) -> np.ndarray:
    """(H,W,3) uint8 → indices (levels,G,h,w) int64. Stages are chosen greedily, one after another,
    so the first L stages are the same whatever `levels` is: level L sends the first L."""
    x = _to_tensor(rgb, lm.model.cfg.block)
    return lm.model.encode(x, levels)[0].numpy()


def compress(rgb: np.ndarray, lm: LoadedModel | None = None, level: int | None = None,
             target_bpp: float | None = None, size: int | None = None, seed: int = 0) -> bytes:
    """Encode an (H,W,3) uint8 image. Pick the quality by `level` (1..S), or the highest level whose real
    file fits `target_bpp` bits per pixel or `size` bytes; default: the model's middle level."""
    lm = lm or load_model()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise CodecError("expected an (H,W,3) uint8 RGB image")
    H, W, _ = rgb.shape
    S = lm.model.cfg.stages
    if level is not None and not 1 <= level <= S:
        raise CodecError(f"level must be 1..{S} for model {lm.name}")
    if target_bpp is None and size is None:
        level = level or default_level(lm)
        return _pack(lm, encode_levels(rgb, lm, level), level, W, H, seed)
    indices = encode_levels(rgb, lm, S)
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


def default_level(lm: LoadedModel) -> int:
    return math.ceil(lm.model.cfg.stages / 2)


def read_header(data: bytes) -> Header:
    return parse_header(data)[0]


def model_for(header: Header, lm: LoadedModel | None = None) -> LoadedModel:
    """The model that made this file: the given one if its hash matches, else a shipped one by hash."""
    if lm is not None:
        if lm.weights_hash != header.weights_hash:
            raise CodecError(f"this file was made by model {header.model!r} ({header.weights_hash.hex()}), "
                             f"not by {lm.name!r} ({lm.weights_hash.hex()})")
        return lm
    found = find_by_hash(header.weights_hash)
    if found is None:
        raise CodecError(f"this file needs model {header.model!r} (weights {header.weights_hash.hex()}), "
                         "which is not installed; pass it with --model PATH")
    return found


@torch.inference_mode()
def decompress(data: bytes, lm: LoadedModel | None = None) -> np.ndarray:
    """.ibc bytes → (H,W,3) uint8. Raises CodecError on any corruption."""
    header, offset = parse_header(data)
    lm = model_for(header, lm)
    cfg = lm.model.cfg
    if header.level > cfg.stages or header.mode != cfg.mode:
        raise CodecError(f"corrupt header (level {header.level} or mode {header.mode} not in model {lm.name})")
    h, w = -(-header.height // cfg.block), -(-header.width // cfg.block)
    windows = list(_tiles(h, w, header.tile))
    payloads = parse_chunks(data, offset, len(windows))
    bad = [i for i, p in enumerate(payloads) if p is None]
    if bad:
        raise CodecError(f"corrupt file: CRC mismatch in tile(s) {', '.join(map(str, bad))}")
    indices = np.zeros((header.level, cfg.groups, h, w), dtype=np.int64)
    levels = lm.model.quantizer.levels
    for (rs, cs), payload in zip(windows, payloads):
        shape = (header.level, cfg.groups, rs.stop - rs.start, cs.stop - cs.start)
        indices[:, :, rs, cs] = decode_tile(payload, shape, lm.freqs, levels, cfg.ctx_buckets)
    x_hat = synthesize(lm, indices[None])[0, :, :header.height, :header.width]
    return x_hat.mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


@contextmanager
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def synthesize(lm: LoadedModel, indices: np.ndarray) -> torch.Tensor:
    """indices (B,L,G,h,w) → x̂ (B,3,H,W). On one thread: a multi-threaded convolution sums in another
    order, which moves some pixels by one level; one thread makes the pixels the same whatever the
    caller's thread count (indices are exact either way)."""
    with _one_thread():
        return lm.model.decode(torch.from_numpy(indices))
