"""Probe: what per-level quantiser steps would buy in MS-SSIM and cost in PSNR, on BSDS500 validation
photos (never Kodak). shannon-v3 uses one step for every subband, the MSE-optimal choice for its
energy-normalised wavelet; MS-SSIM weighs the scales otherwise (its finest scale least).

Each row scales the steps by level (weights LL,5,4,3,2,1: a weight w divides that level's step, w > 1
is finer) in the encoder *and* the decoder, simulated by scaling the coefficients around the shipped
coder (its tables and post-filter were designed for w = 1, so a model designed with the weights would do
a little better). `--lmbda` rows scale the encoder's λ by level instead: decoder unchanged, files that
any shannon-v3 decoder reads. Real files at five qualities; BD-rates against the unweighted coder and
against Pillow's WebP (method 6) on the same photos.

    OMP_NUM_THREADS=1 .venv/bin/python bench/step_weights_probe.py --images 24 --md bench/step_weights_probe.md
"""
import argparse
import sys
import io
import time
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).parent))
from val_compare import add_val_options, val_photos  # noqa: E402  (bench/val_compare.py)

from ibc.codec.api import compress, decompress
from ibc.codec.evaluation.plot import bd_rate
from ibc.codec.metrics import db, ms_ssim, psnr
from ibc.codec.wavelet_api import EVAL_QUALITIES
from ibc.codec.weights import load_model
from ibc.models import wavelet_coder

STEP_ROWS = [(1, 1, 1, 1, 1, 1), (1, 1, 1, 1, 1, 0.85), (1.1, 1.1, 1.1, 1.05, 1, 0.92), (1.3, 1.3, 1.2, 1.1, 1, 1),
             (1.2, 1.2, 1.2, 1.1, 1, 0.85)]
LMBDA_ROWS = [(1, 1, 1, 1, 1, 1.6), (1, 0.8, 0.85, 0.9, 1, 1.3)]
QUALITIES = EVAL_QUALITIES[::2] + EVAL_QUALITIES[-1:]
WEBP_QUALITIES = (10, 30, 50, 70, 85, 93)


def weight(w: tuple, band) -> float:
    return w[0] if band.orientation == "LL" else w[6 - band.level]


def measure(images: list, code) -> tuple:
    """code(rgb, q) → (bytes, decoded) at each of the codec's qualities → (bpp, PSNR, MS-SSIM dB) arrays."""
    rows = []
    for q in code.qualities:
        bits = pixels = 0
        ps, ms = [], []
        for rgb in images:
            size, x = code(rgb, q)
            bits, pixels = bits + 8 * size, pixels + rgb.shape[0] * rgb.shape[1]
            ps.append(psnr(rgb, x)), ms.append(db(ms_ssim(rgb, x)))
        rows.append((bits / pixels, np.mean(ps), np.mean(ms)))
    return tuple(np.array(c) for c in zip(*rows))


def webp(rgb: np.ndarray, q: int) -> tuple:
    b = io.BytesIO()
    Image.fromarray(rgb).save(b, "WEBP", quality=q, method=6)
    return b.tell(), np.array(Image.open(io.BytesIO(b.getvalue())).convert("RGB"))


webp.qualities = WEBP_QUALITIES


class Weighted:
    """The shipped coder with its steps (or its λ) scaled by level, for the duration of a `with`."""

    def __init__(self, lm, w: tuple, on: str):
        self.lm, self.w, self.on, self.qualities = lm, w, on, QUALITIES
        self.saved = {}

    def __enter__(self):
        C, w = wavelet_coder.WaveletCoder, self.w
        self.saved = {k: getattr(C, k) for k in ("encode_tile", "dequantise_tile", "_choose")}
        enc, deq, choose = self.saved["encode_tile"], self.saved["dequantise_tile"], self.saved["_choose"]
        if self.on == "step":
            C.encode_tile = lambda s, u, bands, collect=None: enc(s, [a * weight(w, b) for a, b in zip(u, bands)], bands, collect)
            C.dequantise_tile = lambda s, t, bands: [a / weight(w, b) for a, b in zip(deq(s, t, bands), bands)]
        else:
            def scaled(s, cls, u, rows, counts):
                own = s.lmbda
                s.lmbda = own * w[6 - (cls // 6 + 1)]  # subband_vq.vq_class: level = cls // 6 + 1
                try:
                    return choose(s, cls, u, rows, counts)
                finally:
                    s.lmbda = own
            C._choose = scaled
        return self

    def __exit__(self, *_):
        for k, v in self.saved.items():
            setattr(wavelet_coder.WaveletCoder, k, v)

    def __call__(self, rgb, q):
        data = compress(rgb, self.lm, quality=q)
        return len(data), decompress(data, self.lm, realism=0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_val_options(ap, 24, "shannon-v3")
    args = ap.parse_args()
    images = val_photos(args)
    lm = load_model(args.model)
    t0 = time.time()
    W = measure(images, webp)
    rows, base = [], None
    for on, ws in (("step", STEP_ROWS), ("λ", LMBDA_ROWS)):
        for w in ws:
            with Weighted(lm, w, on) as code:
                r = measure(images, code)
            base = base or r
            rows.append(f"| {on} | {', '.join(f'{v:g}' for v in w)} | {bd_rate(base[0], base[1], r[0], r[1]):+.2f} % | "
                        f"{bd_rate(base[0], base[2], r[0], r[2]):+.2f} % | {bd_rate(W[0], W[1], r[0], r[1]):+.2f} % | "
                        f"{bd_rate(W[0], W[2], r[0], r[2]):+.2f} % |")
            print(rows[-1], flush=True)
    table = [f"# Per-level steps against MS-SSIM, {args.model} + post-filter, {len(images)} BSDS500 validation photos", "",
             f"`python bench/step_weights_probe.py --images {args.images}` ({time.time() - t0:.0f} s; see its docstring). "
             "Weights LL, level 5 … level 1 (w > 1: a finer step, or a smaller λ); BD-rates (negative: fewer bits) "
             "against the first row and against WebP on the same photos.", "",
             "| scaled | weights | PSNR vs w = 1 | MS-SSIM dB vs w = 1 | PSNR vs WebP | MS-SSIM dB vs WebP |",
             "|---|---|---:|---:|---:|---:|"] + rows
    if args.md:
        Path(args.md).write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
