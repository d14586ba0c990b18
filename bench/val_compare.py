"""Installed wavelet models against each other on BSDS500 validation photos (never Kodak): real files at the
eval sweep, PSNR with and without each model's post-filter, BD-rate against the first model's plain
decoder. What a model must win here before it is shipped as the default.

    OMP_NUM_THREADS=1 .venv/bin/python bench/val_compare.py shannon-v2 shannon-v3 --images 24 --md bench/val_compare.md

`--lmbda L …` codes each model once per encoder λ (the RD trade-off of the index choice, in step² per
bit; the decoder and the tables stay as they are, so every such file decodes with the model), a probe of
the encoder alone; `--filtered-only` skips the plain decoder of models with a post-filter.
"""
import argparse
import time
from pathlib import Path

import numpy as np

from ibc.codec.api import compress, decompress
from ibc.codec.wavelet_api import EVAL_QUALITIES
from ibc.codec.training.dataset import list_images, split_train_val
from ibc.codec.metrics import bd_rate
from ibc.codec.image_io import read_image
from ibc.codec.metrics import psnr
from ibc.codec.weights import load_model


def add_val_options(ap: argparse.ArgumentParser, images: int, model: str | None = None) -> None:
    """The options every validation probe shares: the photos, how many, the model, the table."""
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--images", type=int, default=images, help="the first N of BSDS500's val split")
    if model:
        ap.add_argument("--model", default=model)
    ap.add_argument("--md", help="also write the table here")


def val_photos(args) -> list[np.ndarray]:
    """The first `args.images` BSDS500 validation photos under `args.data` (never Kodak)."""
    _, val = split_train_val(list_images(Path(args.data)))
    return [read_image(p) for p in val[:args.images]]


def curve(lm, images: list, postfilter: bool) -> tuple[np.ndarray, np.ndarray]:
    rates, quality = [], []
    for q in EVAL_QUALITIES:
        bits = pixels = 0
        values = []
        for rgb in images:
            data = compress(rgb, lm, quality=q)
            bits, pixels = bits + 8 * len(data), pixels + rgb.shape[0] * rgb.shape[1]
            values.append(psnr(rgb, decompress(data, lm, realism=0.0, postfilter=postfilter)))
        rates.append(bits / pixels)
        quality.append(float(np.mean(values)))
    return np.array(rates), np.array(quality)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    add_val_options(ap, 24)
    ap.add_argument("--lmbda", type=float, nargs="+", help="encoder λ values to try (default: the model's own)")
    ap.add_argument("--filtered-only", action="store_true")
    args = ap.parse_args()
    images = val_photos(args)
    rows, anchor = [], None
    t0 = time.time()
    for name in args.models:
        lm = load_model(name)
        own = lm.coder.lmbda
        for lmbda in args.lmbda or [own]:
            lm.coder.lmbda = lmbda  # the encoder's choice only
            choices = [True] if args.filtered_only else [False, True]
            for filtered in (choices if lm.postfilter is not None else [False]):
                r, d = curve(lm, images, filtered)
                anchor = anchor or (r, d)
                label = f"{name}" + (" + post-filter" if filtered else "") + (f", λ {lmbda:g}" if args.lmbda else "")
                rows.append(f"| {label} | {' '.join(f'{a:.3f}/{b:.2f}' for a, b in zip(r, d))} | "
                            f"{bd_rate(*anchor, r, d):+.2f} % |")
                print(rows[-1], flush=True)
        lm.coder.lmbda = own
    table = [f"# Wavelet models on {len(images)} BSDS500 validation photos", "",
             f"`python bench/val_compare.py {' '.join(args.models)} --images {args.images}"
             + (f" --lmbda {' '.join(map(str, args.lmbda))}" if args.lmbda else "")
             + (" --filtered-only" if args.filtered_only else "") + f"` ({time.time() - t0:.0f} s): "
             f"real files at q {', '.join(map(str, EVAL_QUALITIES))}; mean PSNR; BD-rate (PSNR) against the first row.", "",
             "| model | bpp/PSNR per q | BD-rate |", "|---|---|---:|"] + rows
    if args.md:
        Path(args.md).write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
