"""Probe: what an encoder-chosen post-filter strength buys, on BSDS500 validation photos (never Kodak).
The decoder shows x̂ + s·(f(x̂) − x̂), s = k/8 chosen by the encoder per image or per tile (least squares
against the original, rounded); s = 1 is today's filter. Real files at the eval sweep.

    OMP_NUM_THREADS=1 .venv/bin/python bench/filter_strength_probe.py --images 12 --md bench/filter_strength_probe.md
"""
import argparse
import time

import numpy as np

from val_compare import add_val_options, val_photos
from ibc.codec.api import compress, decompress
from ibc.codec.metrics import bd_rate
from ibc.codec.metrics import psnr
from ibc.codec.weights import load_model

QUALITIES = (26, 34, 42, 50, 58, 66)
LEVELS = 16  # s = k/8, k = 0 … 15


def blend(plain, filtered, rgb, block):
    """Per block×block region: the rounded least-squares s in k/8, applied."""
    out = filtered.copy()
    H, W, _ = rgb.shape
    for r in range(0, H, block):
        for c in range(0, W, block):
            p, f, x = (a[r:r + block, c:c + block].astype(np.float64) for a in (plain, filtered, rgb))
            d = f - p
            s = (d * (x - p)).sum() / max((d * d).sum(), 1e-9)
            k = np.clip(np.rint(s * 8), 0, LEVELS - 1)
            out[r:r + block, c:c + block] = np.clip(np.rint(p + k / 8 * d), 0, 255).astype(np.uint8)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_val_options(ap, 12, "shannon-v4")
    args = ap.parse_args()
    lm = load_model(args.model)
    images = val_photos(args)
    t0 = time.time()
    names = ["no filter", "filter (s = 1)", "s per image", "s per 256 px", "s per 128 px"]
    rate, quality = [], {n: [] for n in names}
    for q in QUALITIES:
        bits = pixels = 0
        vals = {n: [] for n in names}
        for rgb in images:
            data = compress(rgb, lm, quality=q)
            bits, pixels = bits + 8 * len(data) + 4, pixels + rgb.shape[0] * rgb.shape[1]  # + a byte per tile
            plain = decompress(data, lm, realism=0.0, postfilter=False)
            filtered = decompress(data, lm, realism=0.0, postfilter=True)
            big = max(rgb.shape[:2])
            for n, img in zip(names, [plain, filtered, blend(plain, filtered, rgb, big),
                                      blend(plain, filtered, rgb, 256), blend(plain, filtered, rgb, 128)]):
                vals[n].append(psnr(rgb, img))
        rate.append(bits / pixels)
        for n in names:
            quality[n].append(np.mean(vals[n]))
    lines = [f"# Encoder-chosen post-filter strength, {args.model}, {len(images)} validation photos", "",
             f"`python bench/filter_strength_probe.py --images {args.images}` ({time.time() - t0:.0f} s); "
             "BD-rate (PSNR) against the filter at s = 1; rates include a byte per tile for s.", "",
             "| decoder | PSNR at each q | BD-rate |", "|---|---|---:|"]
    for n in names:
        lines.append(f"| {n} | {' '.join(f'{v:.2f}' for v in quality[n])} | "
                     f"{bd_rate(rate, quality[names[1]], rate, quality[n]):+.2f} % |")
    print("\n".join(lines))
    if args.md:
        open(args.md, "w").write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
