"""compress(image) → .ibc bytes and decompress(bytes) → image: the whole codec behind one pair of calls.

    encode: RGB uint8 ─ model ─► indices ─► one range-coded payload per tile ─► container
    decode: container ─► header, payloads ─► indices                           (read_indices: the bytes)
            ─► pixels (render; a gc model's with its seeded noise and realism)

The models (Shannon-AE v2, wavelet) code through `codec.wavelet_api` (numpy, on ONNX Runtime or torch).
Files of the block models, retired in 0.2.0, are refused by name (`codec.retired`).
"""
from dataclasses import dataclass

import numpy as np

from .bitstream import MAX_SIDE, Header, parse_chunks, parse_header
from .errors import CodecError, CorruptData
from .image_io import as_rgb
from .retired import LAST_VERSION, RETIRED_IN, check_not_retired
from .step_code import COARSEST_CODE, FINEST_CODE
from .wavelet_api import compress_wavelet, decode_tiles, render_tiles, tile_count
from .weights import LoadedModel, find_by_hash, find_generative, load_model

DEFAULT_SEED = 0    # the decoder noise's seed when none is chosen
SEEDS = 2 ** 32     # seeds are stored as u32 in the header


def compress(rgb: np.ndarray, lm: LoadedModel | None = None, level: int | None = None,
             target_bpp: float | None = None, size: int | None = None, seed: int = DEFAULT_SEED,
             progress=None, quality: float | None = None, tune: str = "psnr") -> bytes:
    """Encode an (H,W,3) uint8 image. Pick the quality by `quality`, q in 0..100 (fine steps; default 50),
    or the finest setting whose real file fits `target_bpp` bits per pixel or `size` bytes. (`level`
    was the block models' setting: they were retired in 0.2.0, and it is refused with a message.)
    A generative model (mode "gc") writes the same payload as its Shannon-AE base, marks the file for its
    randomized decoder and stores `seed`, the decoder noise's seed.
    `progress(done, total)` is called as the image's windows are encoded, or as a wavelet model's
    size search tries step codes (total: the trials done plus at most those left, so it shrinks).
    `rgb` may also be a path, a PIL image (read as `ibc compress` reads files) or an (H,W) greyscale array.
    A greyscale image (R = G = B everywhere) is coded as one channel, marked in the header (`Header.grey`).
    `tune` ("psnr", or a tune the model was trained with, e.g. "ms-ssim") picks the bands' step weights,
    which the file carries."""
    rgb = as_rgb(rgb)
    lm = lm or load_model()
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8 or min(rgb.shape[:2]) < 1:
        raise CodecError("expected an (H,W,3) uint8 RGB image")
    H, W, _ = rgb.shape
    if max(H, W) > MAX_SIDE:
        raise CodecError(f"image sides are limited to {MAX_SIDE} pixels (this one is {W}×{H})")
    check_seed(seed)
    if level is not None:
        raise CodecError(f"model {lm.name} takes a quality q in 0..100, not a level (levels were the block "
                         f"models', retired in ibc {RETIRED_IN}; ibc {LAST_VERSION} is the last version with them)")
    return compress_wavelet(rgb, lm, quality, target_bpp, size, seed, progress, tune)


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


def model_for(header: Header, lm: LoadedModel | None = None, realism: float = 0.0,
              backend: str = "auto") -> LoadedModel:
    """The model that decodes this file: the given one if it reads it, else a shipped one by hash (on
    `backend`). With `realism` > 0 the model must hold a randomized decoder: a Shannon-AE file then
    takes the shipped generative model built on its model. A file of a retired model is refused, naming
    the last ibc that decodes it."""
    check_not_retired(header)
    if lm is not None:
        if not _reads(lm, header):
            raise CodecError(f"this file was made by model {header.model!r} ({header.weights_hash.hex()}), "
                             f"not by {lm.name!r} ({lm.weights_hash.hex()})")
    else:
        lm = find_by_hash(header.weights_hash, backend=backend)
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
    check_not_retired(header)
    if (not FINEST_CODE <= header.step_code <= COARSEST_CODE or header.mode not in ("shannon", "gc")
            or header.tile != lm.coder.tile):
        raise CorruptData(f"corrupt header (step code {header.step_code} or tile {header.tile} not of model {lm.name})")
    if realism > 0 and lm.noise is None:
        raise CodecError(f"model {lm.name!r} has no generative decoder (use --realism 0)")


@dataclass
class ReadFile:
    header: Header
    indices: list                # what the file carries, all that decoding needs besides the model: one
                                 # TileIndices per tile
    damaged_tiles: list[int]     # tiles whose CRC failed and were filled in (only with salvage)
    missing_tiles: list[int]     # tiles a file cut short lacks, filled in (only with salvage)


def _chunks(data: bytes, offset: int, expected: int, salvage: bool) -> tuple[list, list[int], list[int]]:
    """The payloads (None: to be filled in), the tiles whose CRC failed and the tiles a file cut short
    lacks: either kind is an error, or with `salvage` listed."""
    payloads = parse_chunks(data, offset, expected, salvage)
    missing = list(range(len(payloads), expected))
    damaged = [i for i, p in enumerate(payloads) if p is None]
    if damaged and not salvage:
        raise CorruptData(f"corrupt file: CRC mismatch in tile(s) {', '.join(map(str, damaged))} "
                         "(--salvage decodes the rest)")
    return payloads + [None] * len(missing), damaged, missing


def read_indices(data: bytes, lm: LoadedModel, salvage: bool = False) -> ReadFile:
    """.ibc bytes → header and indices, range-decoded with `lm`'s tables (a gc model reads its base's files).
    A tile whose CRC fails, or that a file cut short lacks, is an error, or with `salvage` is filled in
    (details zero, LL at mid-grey) and listed; a cut inside the header is always an error. The indices
    do not depend on the seed or the realism: `render` them as often as wanted."""
    header, offset = parse_header(data)
    _check_decodes(lm, header, 0.0)
    payloads, damaged, missing = _chunks(data, offset, tile_count(lm, header.height, header.width), salvage)
    return ReadFile(header, decode_tiles(lm, payloads, header.height, header.width, header.step_code,
                                         1 if header.grey else 3, header.step_weights), damaged, missing)


def render(lm: LoadedModel, header: Header, indices: list, seed: int, realism: float,
           progress=None, postfilter: bool = True) -> np.ndarray:
    """The indices of a file (`read_indices`) → its (H,W,3) uint8 pixels, window by window.

    `realism` A blends the Shannon-AE reconstruction (0) with the generative one (1, `lm` in mode "gc"),
    whose noise comes from `seed`: the same indices and seed give the same pixels.
    `progress(done, total)` is called as the image's windows are decoded. `postfilter` False leaves out
    the model's post-filter (codec.postfilter) from the realism-0 reconstruction."""
    _check_decodes(lm, header, realism)
    return render_tiles(lm, indices, header.height, header.width, header.step_code, progress, seed, realism,
                        postfilter, header.step_weights, header.filter)


@dataclass
class Decoded:
    image: np.ndarray            # (H,W,3) uint8 (a greyscale file's: R = G = B)
    damaged_tiles: list[int]     # tiles whose CRC failed and were filled in (only with salvage)
    missing_tiles: list[int]     # tiles a file cut short lacks, filled in (only with salvage)


def decode(data: bytes, lm: LoadedModel | None = None, salvage: bool = False, progress=None,
           seed: int | None = None, realism: float | None = None, postfilter: bool = True) -> Decoded:
    """.ibc bytes → image: `read_indices`, then `render` with the file's defaults for what is not given
    (`decoding_choices`). A tile whose CRC fails or that a file cut short lacks is an error, or with
    `salvage` is filled in and listed."""
    header = read_header(data)
    seed, realism = decoding_choices(header, seed, realism)
    lm = model_for(header, lm, realism)
    read = read_indices(data, lm, salvage)
    return Decoded(render(lm, header, read.indices, seed, realism, progress, postfilter), read.damaged_tiles,
                   read.missing_tiles)


def decompress(data: bytes, lm: LoadedModel | None = None, seed: int | None = None,
               realism: float | None = None, postfilter: bool = True) -> np.ndarray:
    """.ibc bytes → (H,W,3) uint8. Raises CodecError on any corruption. A greyscale file (`read_header(data)
    .grey`) gives R = G = B, so code written for colour needs no second case; `ibc decompress` writes it
    as a one-channel (mode L) PNG."""
    return decode(data, lm, seed=seed, realism=realism, postfilter=postfilter).image


