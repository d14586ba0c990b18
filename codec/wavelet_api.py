"""The coding path of wavelet (Shannon-AE v2) models behind `codec.api`: a quality number q, rate
control over real payload lengths, one chunk per tile (the model's side: 512 pixels for shannon-v4, 256 before), and salvage of damaged tiles.

    encode: RGB uint8 ─ analysis once (whole image) ─► y ─ per tile: ÷ step, RD choice, range coding
            ─► one payload per tile                      (a --size search repeats only this part, mostly
                                                          without the range coding: encode_payloads)
    decode: payloads ─► TileIndices per tile (a damaged one: details 0, LL at mid-grey)
            ─ × step, synthesis (whole image) ─► RGB uint8

The transform spans the whole image, so tiles join without seams by construction; contexts and counts
stop at a tile's edge, so each tile's payload decodes alone. The header stores the step as a u16 code.

A greyscale image (R = G = B everywhere) codes its luma alone, flagged in the header: its chroma would be
zero anyway, and coding it costs bytes and, through the post-filter, a colour cast. It decodes with the
chroma at zero and renders as the mean of R, G and B, so R = G = B again.
"""
import numpy as np

from .bitstream import Header, serialise
from .engine import ALIGN, band_weights
from .errors import CodecError, CorruptData
from .image_io import is_grey
from .step_code import (COARSEST_CODE, FINEST_CODE, STEP_SCALE, UNIFORM, code_of_quality,  # noqa: F401
                        quality_of_code, step_from_code)
from .subband_context import TileIndices, tile_bands
from .subband_tiles import TileWriter, decode_tile
from .subband_vq import NC
from .threads import one_thread
from .weights import LoadedModel

DEFAULT_QUALITY = 50.0
EVAL_QUALITIES = (18, 26, 34, 42, 50, 58, 66, 75)  # `ibc eval`'s default sweep: about 0.1 … 1.4 bpp on Kodak
# A --size search tries step codes on estimated lengths (the encoder's ideal code lengths, no range coding)
CODER_BYTES = 6       # a tile's payload beyond its ideal code length (end mark, flush, last word): 3.7 … 8 measured
EXACT_WITHIN = 8      # bytes per tile: an estimate this near the budget is range-coded to decide
PROXY_FROM, PROXY_BITS = 0.7, 3  # _proxy_bytes: fitted on training photos (bench/rate_search_speed.py --fit)
PROXY_RATIO = 1.11    # estimate / proxy on those photos, shannon-v4 (sd 5 % across images): the first trial


def _tile_payloads(model, y: np.ndarray, H: int, W: int, step: float, progress=None,
                   code: bool = True, weights: tuple = UNIFORM) -> tuple[float, list[bytes] | None]:
    """Coefficients y (C,Hp,Wp) → (payload bytes, one payload per tile) at `step` (quantise + code only),
    each band's step divided by its weight (codec.step_code). With `code` False no tile is range-coded:
    (an estimate of the bytes, None), a rate search's trial."""
    Hp, Wp = y.shape[1:]
    layout = model.tiles(H, W)
    out, bits = [], None if code else []
    for k, tile in enumerate(layout):
        bands = tile_bands(tile[2], tile[3])
        writer = TileWriter() if code else None  # chosen and written in one walk
        steps = [step / w for w in band_weights(bands, weights)]  # uniform weights: exactly `step`
        model.encode_tile([y[:, r, c] / s for (r, c), s in zip(model.band_slices(Hp, Wp, tile), steps)], bands,
                          bits=bits, writer=writer)
        if code:
            out.append(writer.payload())
        if progress:
            progress(k + 1, len(layout))
    return (sum(map(len, out)), out) if code else (sum(bits) / 8 + CODER_BYTES * len(layout), None)


def _proxy_bytes(y: np.ndarray) -> np.ndarray:
    """A rough payload size at every step code FINEST_CODE … COARSEST_CODE from a strided sample of the
    coefficients (a quarter, at most about 300 K): each above PROXY_FROM steps costs PROXY_BITS and its
    octaves above that. Its ratio to the estimate has an sd of 3 % across the codes of one image
    (training photos): the search's model of size against code, scaled by the trials."""
    s = max(2, round(np.sqrt(y.size / 3e5)))
    v = np.sort(np.log2(np.abs(y[:, ::s, ::s]).ravel() + 1e-30))
    tail = np.append(np.cumsum(v[::-1])[::-1], 0.0)  # sums of v[i:]
    t = np.arange(FINEST_CODE, COARSEST_CODE + 1) / STEP_SCALE - 2 + np.log2(PROXY_FROM)  # log2(PROXY_FROM·step)
    i = np.searchsorted(v, t, side="right")
    n = v.size - i
    return np.maximum((tail[i] - n * t + PROXY_BITS * n) * y.size / v.size / 8, 1.0)


def _next_code(proxy: np.ndarray, sizes: dict, tried: list, budget: float, over: int, fits: int) -> tuple[int, bool]:
    """The next code a search tries inside (over, fits), and whether it should be the answer (then it is
    range-coded). Between measured ends of the bracket, size is the proxy times a ratio interpolated
    (log) between theirs; while all trials lie on one side, log size is linear through the last two, or
    it is the proxy times the one trial's ratio, or PROXY_RATIO before any. After a trial over the budget
    it tries the finest code predicted to fit, after one that fits the code below that, so the two around
    the crossing come next; after three trials in a row on one side of a bracket (a poor model) it bisects."""
    codes = np.arange(over + 1, fits)
    ends = [c for c in (over, fits) if c in sizes]
    if len(ends) == 2 and len({sizes[c] <= budget for c in tried[-3:]}) == 1 and len(tried) >= 3:
        return (over + fits) // 2, False
    last = list(dict.fromkeys(reversed(tried)))[:2]  # the last two codes tried, most recent first
    slope = np.log(sizes[last[0]] / sizes[last[1]]) / (last[0] - last[1]) if len(last) == 2 else 0
    if len(ends) == 2:
        log_ratio = [np.log(sizes[c] / proxy[c - FINEST_CODE]) for c in ends]
        predicted = proxy[codes - FINEST_CODE] * np.exp(np.interp(codes, ends, log_ratio))
    elif slope < 0:
        predicted = sizes[last[0]] * np.exp(slope * (codes - last[0]))
    else:
        ratio = sizes[last[0]] / proxy[last[0] - FINEST_CODE] if last else PROXY_RATIO
        predicted = proxy[codes - FINEST_CODE] * ratio
    fit = codes[predicted <= budget]
    aim = fit[0] if fit.size else fits
    if not tried:
        return min(aim, fits - 1), False
    last_fit = sizes[tried[-1]] <= budget
    return min(max(aim - last_fit, over + 1), fits - 1), not last_fit


def encode_payloads(rgb: np.ndarray, lm: LoadedModel, quality: float | None = None,
                    budget: float | None = None, progress=None, weights: tuple = UNIFORM) -> tuple[int, list[bytes]]:
    """(H,W,C) uint8 → (step code, payloads): at `quality` q (default DEFAULT_QUALITY), or with `budget`
    bytes for the payloads the finest step code whose real payloads fit, code − 1's not. The search reuses
    the analysis and tries codes on estimated lengths; a code it expects to be the answer, or whose
    estimate lies too near the budget to decide, is range-coded, and the answer always is. One code finer
    adds 1–2 %, so files land within 0.9–1.0 of their budget (on Kodak 0.985–1.0 in 3.3 trials, 1.3
    range-coded, where coding every trial took 6.7: bench/rate_search_speed.md). `progress(done, total)`
    counts the trials: total is done plus at most the trials left. `weights`: the bands' step weights."""
    model, (H, W, _) = lm.coder, rgb.shape
    with one_thread():
        y = model.analysis(rgb)
    if budget is None:
        code = code_of_quality(DEFAULT_QUALITY if quality is None else quality)
        return code, _tile_payloads(model, y, H, W, step_from_code(code), progress, weights=weights)[1]
    sizes, payloads, tried = {}, {}, []  # size falls as the code (the step) grows
    near = EXACT_WITHIN * len(model.tiles(H, W))

    def trial(code: int, real: bool) -> None:
        n, p = _tile_payloads(model, y, H, W, step_from_code(code), code=real, weights=weights)
        if p is None and abs(n - budget) <= near:
            n, p = _tile_payloads(model, y, H, W, step_from_code(code), weights=weights)
        sizes[code] = n
        if p is not None:
            payloads[code] = p
        tried.append(code)

    proxy, over, fits, total = _proxy_bytes(y), FINEST_CODE - 1, COARSEST_CODE + 1, np.inf
    while not (over == COARSEST_CODE or (fits - over == 1 and fits in payloads)):
        if progress:  # the trials done, and at most: bisection's trials left, then the answer's range coding
            total = min(total, len(tried) + 1 + int(np.ceil(np.log2(fits - over))))
            progress(len(tried), max(total, len(tried) + 1))
        trial(*((fits, True) if fits - over == 1 else _next_code(proxy, sizes, tried, budget, over, fits)))
        over = max((c for c, n in sizes.items() if n > budget), default=FINEST_CODE - 1)
        fits = min((c for c, n in sizes.items() if c > over and n <= budget), default=COARSEST_CODE + 1)
    if progress:
        progress(len(tried), len(tried))
    if over == COARSEST_CODE:
        need = sizes[over] if over in payloads else _tile_payloads(model, y, H, W, step_from_code(over),
                                                                   weights=weights)[0]
        raise CodecError("cannot reach the target: the coarsest step needs "
                         f"{need} bytes of payload ({need * 8 / (W * H):.3f} bpp)")
    return fits, payloads[fits]


def compress_wavelet(rgb: np.ndarray, lm: LoadedModel, quality: float | None, target_bpp: float | None,
             size: int | None, seed: int, progress=None, tune: str = "psnr") -> bytes:
    """The .ibc file of a checked (H,W,3) uint8 image at `quality`, or within `size` bytes or
    `target_bpp` (the container's bytes included); a greyscale one codes one channel (its R). `tune`
    picks the step weights the header carries (LoadedModel.step_weights) and the post-filter it names
    (the tune's own, when the model has one)."""
    H, W, _ = rgb.shape
    weights, pf = lm.step_weights(tune), lm.filter_of(tune)
    n = tile_count(lm, H, W)
    grey = is_grey(rgb)
    if grey:
        rgb = rgb[..., :1]  # the coder transforms (H,W,1) as R = G = B and keeps the luma

    def header(code: int) -> Header:
        return Header(lm.mode, 0, W, H, seed, lm.coder.tile, lm.name, lm.weights_hash, n, code, grey, weights, pf)

    budget = None
    if target_bpp is not None or size is not None:
        overhead = len(serialise(header(1), [b""] * n))
        budget = (size if size is not None else target_bpp * W * H / 8) - overhead
        if budget <= 0:
            raise CodecError(f"cannot reach the target: the container alone needs {overhead} bytes")
    code, payloads = encode_payloads(rgb, lm, quality, budget, progress, weights)
    return serialise(header(code), payloads)


def grey_ll(model, step: float) -> np.ndarray:
    """(3,) the LL indices of a mid-grey image at `step`: what a damaged tile's LL is filled with."""
    with one_thread():
        y = model.analysis(np.full((ALIGN, ALIGN, 3), 128, np.uint8))
    ll = y[:, :ALIGN >> model.transform.levels, :ALIGN >> model.transform.levels]
    return np.rint(ll.mean((1, 2)) / step).astype(np.int64)


def filler_tile(model, tile: tuple, step: float, channels: int = 3, weights: tuple = UNIFORM) -> TileIndices:
    """A damaged tile's stand-in: every detail block escaped with zero coefficients, LL at mid-grey."""
    bands = tile_bands(tile[2], tile[3])
    ll = grey_ll(model, step / band_weights(bands, weights)[0])
    ll = np.broadcast_to(ll[:channels, None, None], (channels,) + bands[0].shape).copy()
    return TileIndices(ll, [np.full((channels, b.shape[0] // 2, b.shape[1] // 2), NC, np.int64) for b in bands[1:]],
                       [np.zeros((channels, b.shape[0] // 2, b.shape[1] // 2, 4), np.int64) for b in bands[1:]])


def decode_tiles(lm: LoadedModel, payloads: list, H: int, W: int, step_code: int,
                 channels: int = 3, weights: tuple = UNIFORM) -> list[TileIndices]:
    """One payload per tile (None: damaged) → TileIndices of `channels` (1: greyscale) per tile, damaged
    ones filled in (under the file's step `weights`)."""
    model = lm.coder
    layout = model.tiles(H, W)
    if len(payloads) != len(layout):
        raise CorruptData(f"corrupt header ({len(payloads)} chunks for {len(layout)} tiles)")
    priors, cmag = model.priors(), model.cmag
    return [filler_tile(model, tile, step_from_code(step_code), channels, weights) if p is None
            else decode_tile(p, tile_bands(tile[2], tile[3]), priors, cmag, model.context, channels)
            for p, tile in zip(payloads, layout)]


def render_tiles(lm: LoadedModel, tiles: list[TileIndices], H: int, W: int, step_code: int,
                 progress=None, seed: int = 0, realism: float = 0.0, postfilter: bool = True,
                 weights: tuple = UNIFORM, filter_name: str = "psnr") -> np.ndarray:
    """TileIndices per tile → (H,W,3) uint8, synthesised over the whole image on one thread; with
    `realism` above 0, through `lm`'s randomized decoder with noise from `seed`. Greyscale (one-channel)
    tiles give R = G = B: the mean of the rendered channels (the colour matrix's luma row weighs them alike;
    the post-filter, trained on colour, may tint).

    With `postfilter` on and a model that has one, the Shannon-AE reconstruction x̂ goes through it; the
    noise's detail is added after it, unfiltered (the filter was trained to remove what the noise puts
    back): filter(x̂) + (x̂_A − x̂), which the linear synthesis makes A times the detail of realism 1, so
    realism still moves continuously from the filtered Shannon-AE image. A gc model with a trained head
    (codec.generative_head) shows x̂ + A·head(x̂, d₁, u): d₁ the fill's detail at realism 1. `weights`: the
    file's step weights (codec.step_code); `filter_name`: the post-filter it names (LoadedModel.postfilter_for)."""
    pf = lm.postfilter_for(filter_name) if postfilter else None
    fill = lm.noise.filler(seed, 1.0 if lm.head is not None else realism) if realism > 0 else None
    step = step_from_code(step_code)
    with one_thread():
        image = lm.coder.decode(tiles, H, W, step, fill=fill, weights=weights)
        if fill is not None and lm.head is not None:  # x̂ + α·head(x̂, d, u): codec.generative_head
            plain = lm.coder.decode(tiles, H, W, step, weights=weights)
            x_hat = pf(plain, step) if pf is not None else plain
            image = lm.head(x_hat, image.astype(np.int16) - plain, step, seed, realism)
        elif pf is not None:
            if fill is None:
                image = pf(image, step)
            else:
                plain = lm.coder.decode(tiles, H, W, step, weights=weights)
                detail = image.astype(np.int16) - plain
                image = np.clip(pf(plain, step) + detail, 0, 255).astype(np.uint8)
    if tiles and len(tiles[0].ll) == 1:
        image = np.repeat(((image.sum(-1, dtype=np.uint16) + 1) // 3).astype(np.uint8)[..., None], 3, -1)
    if progress:
        progress(1, 1)
    return image


def tile_count(lm: LoadedModel, H: int, W: int) -> int:
    return len(lm.coder.tiles(H, W))
