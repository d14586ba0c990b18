"""Speed of the `--size` search of wavelet models: the search before and after trials on estimated lengths.

    OMP_NUM_THREADS=1 python bench/rate_search_speed.py --images 6 --bpp 0.15 0.3 0.6 -o bench/rate_search_speed.md
    OMP_NUM_THREADS=1 python bench/rate_search_speed.py --fit    # the proxy's constants, on training photos

For each Kodak image and budget (bpp, turned into bytes), `compress(size=)` once with the search before
(every trial range-coded, starting from the coarsest and finest codes, stopping at 0.97 of the budget) and
once with today's; it reports seconds (the model loaded, one thread), RD passes over the image (range-coded
ones in brackets), the file's share of its budget and whether its step code is the finest that fits
(code − 1's real file is over the budget). Kodak is for evaluation only: `--fit` chooses the
proxy's constants (wavelet_api.PROXY_FROM, PROXY_BITS, PROXY_RATIO) on training photos.
"""
import argparse
import os
import time
from pathlib import Path

import numpy as np
import torch

from ibc.codec import wavelet_api
from ibc.codec.api import compress, read_header
from ibc.codec.training.dataset import list_images
from ibc.codec.errors import CodecError
from ibc.codec.image_io import read_image, write_atomic
from ibc.codec.step_code import COARSEST_CODE, FINEST_CODE, step_from_code
from ibc.codec.threads import one_thread
from ibc.codec.weights import load_model

SEARCH_AFTER = wavelet_api.encode_payloads
TILE_PAYLOADS = wavelet_api._tile_payloads


def search_before(rgb, lm, quality=None, budget=None, progress=None):
    """The search as it was (commit 3e55a9d): real lengths only, from the coarsest and the finest code."""
    model, (H, W, _) = lm.coder, rgb.shape
    with one_thread():
        y = model.analysis(rgb)
    sizes = {}

    def trial(code):
        if code not in sizes:
            sizes[code] = wavelet_api._tile_payloads(model, y, H, W, step_from_code(code))[1]
        return sum(map(len, sizes[code]))

    fits, over = COARSEST_CODE, FINEST_CODE
    if trial(fits) > budget:
        raise CodecError("cannot reach the target")
    if trial(over) <= budget:
        return over, sizes[over]
    bisect = False
    while fits - over > 1 and trial(fits) < 0.97 * budget:
        if bisect:
            code = (fits + over) // 2
        else:
            lf, lo = np.log(trial(fits)), np.log(trial(over))
            code = over + round((fits - over) * (lo - np.log(0.985 * budget)) / (lo - lf))
            code = min(max(code, over + 1), fits - 1)
        bisect = not bisect
        if trial(code) <= budget:
            fits = code
        else:
            over = code
    return fits, sizes[fits]


def measure(rgb, lm, budget: int, search) -> dict:
    passes = []

    def counted(*args, **kwargs):
        passes.append(kwargs.get("code", True))
        return TILE_PAYLOADS(*args, **kwargs)

    wavelet_api.encode_payloads, wavelet_api._tile_payloads = search, counted
    try:
        start = time.perf_counter()
        data = compress(rgb, lm, size=budget)
        seconds = time.perf_counter() - start
        code = read_header(data).step_code
    finally:
        wavelet_api.encode_payloads, wavelet_api._tile_payloads = SEARCH_AFTER, TILE_PAYLOADS
    overhead = len(data) - sum_payloads(rgb, lm, code)
    finer = overhead + sum_payloads(rgb, lm, code - 1)
    return {"seconds": seconds, "passes": len(passes), "coded": sum(passes), "share": len(data) / budget,
            "exact": finer > budget}


def sum_payloads(rgb, lm, code: int) -> int:
    H, W, _ = rgb.shape
    return TILE_PAYLOADS(lm.coder, lm.coder.analysis(rgb), H, W, step_from_code(code))[0]


def fit(lm, train: Path) -> None:
    """The proxy's constants on ten training photos: for each (PROXY_FROM, PROXY_BITS), the spread of
    ln(estimate / proxy) over codes 380 … 760 where the estimate lies in 0.05 … 3 bpp, within an image
    (what the search's interpolation needs small) and across images; exp(its mean) is PROXY_RATIO."""
    files = list_images(train)
    photos = [p for p in files if p.name.startswith("bsds_train_")][::40][:5] + \
             [p for p in files if p.name.startswith("imagenet_")][::60][:5]
    variants = [(t, k) for t in (0.6, 0.7, 0.8) for k in (2, 3, 4)]
    ratios = {v: [] for v in variants}
    for path in photos:
        rgb = read_image(path)
        H, W, _ = rgb.shape
        y = lm.coder.analysis(rgb)
        codes = np.arange(380, 761, 20)
        est = np.array([TILE_PAYLOADS(lm.coder, y, H, W, step_from_code(c), code=False)[0] for c in codes])
        keep = (est * 8 / (H * W) >= 0.05) & (est * 8 / (H * W) <= 3)
        for v in variants:
            wavelet_api.PROXY_FROM, wavelet_api.PROXY_BITS = v
            proxy = wavelet_api._proxy_bytes(y)[codes - FINEST_CODE]
            ratios[v].append(np.log(est / proxy)[keep])
    for (t, k), r in ratios.items():
        print(f"PROXY_FROM {t}, PROXY_BITS {k}: within an image sd {np.mean([x.std() for x in r]):.3f}, "
              f"across sd {np.concatenate(r).std():.3f}, PROXY_RATIO {np.exp(np.concatenate(r).mean()):.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default="../shared/data/kodak")
    ap.add_argument("--train", default="../shared/data/train")
    ap.add_argument("--images", type=int, default=6, help="the first N Kodak images, by name")
    ap.add_argument("--bpp", type=float, nargs="+", default=[0.15, 0.3, 0.6])
    ap.add_argument("--model", help="default: the shipped default model")
    ap.add_argument("--fit", action="store_true", help="fit the proxy's constants on training photos")
    ap.add_argument("-o", "--output", default="bench/rate_search_speed.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    if args.fit:
        return fit(lm, Path(args.train))
    rows, runs, load = [], {"before": [], "after": []}, os.getloadavg()[0]
    for path in list_images(Path(args.kodak))[:args.images]:
        rgb = read_image(path)
        H, W, _ = rgb.shape
        for bpp in args.bpp:
            budget = int(bpp * W * H / 8)
            for name, search in (("before", search_before), ("after", SEARCH_AFTER)):
                r = measure(rgb, lm, budget, search)
                runs[name].append(r)
                rows.append(f"| {path.name} | {bpp:g} | {name} | {r['seconds']:.2f} | {r['passes']} ({r['coded']}) "
                            f"| {r['share']:.3f} | {'yes' if r['exact'] else 'no'} |")
    summary = [f"| {name} | {np.mean([r['seconds'] for r in rs]):.2f} | "
               f"{np.mean([r['passes'] for r in rs]):.1f} ({np.mean([r['coded'] for r in rs]):.1f}) | "
               f"{min(r['share'] for r in rs):.3f}–{max(r['share'] for r in rs):.3f} "
               f"(mean {np.mean([r['share'] for r in rs]):.3f}) | {sum(r['exact'] for r in rs)} of {len(rs)} |"
               for name, rs in runs.items()]
    table = "\n".join([
        f"`compress(size=)` on {args.images} Kodak images × budgets {', '.join(f'{b:g}' for b in args.bpp)} bpp, "
        f"model `{lm.name}`, one thread (`python bench/rate_search_speed.py`). Seconds per file, the model loaded; "
        "passes: RD passes over the image, range-coded ones in brackets; finest: code − 1's file is over the budget. "
        f"Load average {load:.1f} → {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (a shared machine: the two "
        "searches alternate, so they saw the same load).",
        "", "| search | mean s | mean passes | share of budget | finest code |", "|---|---:|---:|---|---:|",
        *summary, "", "| image | budget (bpp) | search | s | passes | share | finest |",
        "|---|---:|---|---:|---:|---:|---|", *rows, ""])
    write_atomic(Path(args.output), table.encode(), force=True)
    print(table)


if __name__ == "__main__":
    main()
