"""The coding path of wavelet (Shannon-AE v2) models behind `codec.api`: a quality number q, rate
control over real payload lengths, one chunk per tile (the model's side: 512 pixels for shannon-v4, 256 before), and salvage of damaged tiles.

    encode: RGB uint8 ─ analysis once (whole image) ─► y ─ per tile: ÷ step, RD choice, range coding
            ─► one payload per tile                      (a --size search repeats only this part)
    decode: payloads ─► TileIndices per tile (a damaged one: details 0, LL at mid-grey)
            ─ × step, synthesis (whole image) ─► RGB uint8

The transform spans the whole image, so tiles join without seams by construction; contexts and counts
stop at a tile's edge, so each tile's payload decodes alone. The header stores the step as a u16 code.
"""
import numpy as np

from ..models.subband_context import TileIndices, tile_bands
from ..models.subband_vq import NC
from ..models.wavelet_coder import ALIGN

from .bitstream import Header, serialise
from .errors import CodecError
from .step_code import COARSEST_CODE, FINEST_CODE, code_of_quality, quality_of_code, step_from_code  # noqa: F401
from .subband_tiles import decode_tile, encode_tile
from .threads import one_thread
from .weights import LoadedModel

DEFAULT_QUALITY = 50.0
EVAL_QUALITIES = (18, 26, 34, 42, 50, 58, 66, 75)  # `ibc eval`'s default sweep: about 0.1 … 1.4 bpp on Kodak
CLOSE_ENOUGH = 0.97  # a rate search stops once a file fills this share of its budget


def _tile_payloads(model, y: np.ndarray, H: int, W: int, step: float, progress=None) -> list[bytes]:
    """Coefficients y (3,Hp,Wp) → one payload per tile at `step` (quantise + code only)."""
    Hp, Wp = y.shape[1:]
    priors, cmag = model.priors(), model.cmag
    layout = model.tiles(H, W)
    out = []
    for k, tile in enumerate(layout):
        bands = tile_bands(tile[2], tile[3])
        t = model.encode_tile([y[:, r, c] / step for r, c in model.band_slices(Hp, Wp, tile)], bands)
        out.append(encode_tile(t, bands, priors, cmag, model.context))
        if progress:
            progress(k + 1, len(layout))
    return out


def encode_payloads(rgb: np.ndarray, lm: LoadedModel, quality: float | None = None,
                    budget: float | None = None, progress=None) -> tuple[int, list[bytes]]:
    """(H,W,3) uint8 → (step code, payloads): at `quality` q (default DEFAULT_QUALITY), or with `budget`
    bytes for the payloads the finest step whose payloads fit (a search over real lengths that reuses
    the analysis)."""
    model, (H, W, _) = lm.coder, rgb.shape
    with one_thread():
        y = model.analysis(rgb)
    if budget is None:
        code = code_of_quality(DEFAULT_QUALITY if quality is None else quality)
        return code, _tile_payloads(model, y, H, W, step_from_code(code), progress)
    sizes = {}

    def trial(code: int) -> int:
        if code not in sizes:
            sizes[code] = _tile_payloads(model, y, H, W, step_from_code(code))
        return sum(map(len, sizes[code]))

    fits, over = COARSEST_CODE, FINEST_CODE  # size falls as the code (the step) grows
    if trial(fits) > budget:
        raise CodecError("cannot reach the target: the coarsest step needs "
                         f"{trial(fits)} bytes of payload ({trial(fits) * 8 / (W * H):.3f} bpp)")
    if trial(over) <= budget:
        return over, sizes[over]
    bisect = False
    while fits - over > 1 and trial(fits) < CLOSE_ENOUGH * budget:
        if bisect:  # every other trial halves the bracket, so the search ends in ~2·log2(range) trials
            code = (fits + over) // 2
        else:  # log size is about linear in the code: aim a little under the budget
            lf, lo = np.log(trial(fits)), np.log(trial(over))
            code = over + round((fits - over) * (lo - np.log(0.985 * budget)) / (lo - lf))
            code = min(max(code, over + 1), fits - 1)
        bisect = not bisect
        if trial(code) <= budget:
            fits = code
        else:
            over = code
    if progress:
        progress(1, 1)
    return fits, sizes[fits]


def compress_wavelet(rgb: np.ndarray, lm: LoadedModel, quality: float | None, target_bpp: float | None,
             size: int | None, seed: int, progress=None) -> bytes:
    """The .ibc file of a checked (H,W,3) uint8 image at `quality`, or within `size` bytes or
    `target_bpp` (the container's bytes included)."""
    H, W, _ = rgb.shape
    n = tile_count(lm, H, W)

    def header(code: int) -> Header:
        return Header(lm.mode, 0, W, H, seed, lm.coder.tile, lm.name, lm.weights_hash, n, code)

    budget = None
    if target_bpp is not None or size is not None:
        overhead = len(serialise(header(1), [b""] * n))
        budget = (size if size is not None else target_bpp * W * H / 8) - overhead
        if budget <= 0:
            raise CodecError(f"cannot reach the target: the container alone needs {overhead} bytes")
    code, payloads = encode_payloads(rgb, lm, quality, budget, progress)
    return serialise(header(code), payloads)


def grey_ll(model, step: float) -> np.ndarray:
    """(3,) the LL indices of a mid-grey image at `step`: what a damaged tile's LL is filled with."""
    with one_thread():
        y = model.analysis(np.full((ALIGN, ALIGN, 3), 128, np.uint8))
    ll = y[:, :ALIGN >> model.transform.levels, :ALIGN >> model.transform.levels]
    return np.rint(ll.mean((1, 2)) / step).astype(np.int64)


def filler_tile(model, tile: tuple, step: float) -> TileIndices:
    """A damaged tile's stand-in: every detail block escaped with zero coefficients, LL at mid-grey."""
    bands = tile_bands(tile[2], tile[3])
    ll = np.broadcast_to(grey_ll(model, step)[:, None, None], (3,) + bands[0].shape).copy()
    return TileIndices(ll, [np.full((3, b.shape[0] // 2, b.shape[1] // 2), NC, np.int64) for b in bands[1:]],
                       [np.zeros((3, b.shape[0] // 2, b.shape[1] // 2, 4), np.int64) for b in bands[1:]])


def decode_tiles(lm: LoadedModel, payloads: list, H: int, W: int, step_code: int) -> list[TileIndices]:
    """One payload per tile (None: damaged) → TileIndices per tile, damaged ones filled in."""
    model = lm.coder
    layout = model.tiles(H, W)
    if len(payloads) != len(layout):
        raise CodecError(f"corrupt header ({len(payloads)} chunks for {len(layout)} tiles)")
    priors, cmag = model.priors(), model.cmag
    return [filler_tile(model, tile, step_from_code(step_code)) if p is None
            else decode_tile(p, tile_bands(tile[2], tile[3]), priors, cmag, model.context) for p, tile in zip(payloads, layout)]


def render_tiles(lm: LoadedModel, tiles: list[TileIndices], H: int, W: int, step_code: int,
                 progress=None, seed: int = 0, realism: float = 0.0, postfilter: bool = True) -> np.ndarray:
    """TileIndices per tile → (H,W,3) uint8, synthesised over the whole image on one thread; with
    `realism` above 0, through `lm`'s randomized decoder with noise from `seed`.

    With `postfilter` on and a model that has one, the Shannon-AE reconstruction x̂ goes through it; the
    noise's detail is added after it, unfiltered (the filter was trained to remove what the noise puts
    back): filter(x̂) + (x̂_A − x̂), which the linear synthesis makes A times the detail of realism 1, so
    realism still moves continuously from the filtered Shannon-AE image."""
    fill = lm.noise.filler(seed, realism) if realism > 0 else None
    step = step_from_code(step_code)
    with one_thread():
        image = lm.coder.decode(tiles, H, W, step, fill=fill)
        if postfilter and lm.postfilter is not None:
            if fill is None:
                image = lm.postfilter(image, step)
            else:
                plain = lm.coder.decode(tiles, H, W, step)
                detail = image.astype(np.int16) - plain
                image = np.clip(lm.postfilter(plain, step) + detail, 0, 255).astype(np.uint8)
    if progress:
        progress(1, 1)
    return image


def tile_count(lm: LoadedModel, H: int, W: int) -> int:
    return len(lm.coder.tiles(H, W))
