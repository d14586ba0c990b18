"""Rate control of the default model: `--size` files against their budgets on Kodak images.

    python bench/rate_control.py --kodak ../shared/data/kodak --images 6 --bpp 0.15 0.3 0.6 -o bench/rate_control.md

For each image and budget (in bpp, turned into bytes), compress with `size=` and report the real file's
share of its budget (it must lie in 0.9 … 1.0) and the seconds the search took. Evaluation only: nothing
is fitted here.
"""
import argparse
import time
from pathlib import Path

import torch

from ibc.codec.api import compress
from ibc.codec.dataset import list_images
from ibc.codec.image_io import read_image, write_atomic
from ibc.codec.weights import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default="../shared/data/kodak")
    ap.add_argument("--images", type=int, default=6, help="the first N images, by name")
    ap.add_argument("--bpp", type=float, nargs="+", default=[0.15, 0.3, 0.6])
    ap.add_argument("--model", help="default: the shipped default model")
    ap.add_argument("-o", "--output", default="bench/rate_control.md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    lm = load_model(args.model)
    rows, shares = [], []
    for path in list_images(Path(args.kodak))[:args.images]:
        rgb = read_image(path)
        H, W, _ = rgb.shape
        for bpp in args.bpp:
            budget = int(bpp * W * H / 8)
            start = time.perf_counter()
            data = compress(rgb, lm, size=budget)
            seconds = time.perf_counter() - start
            share = len(data) / budget
            shares.append(share)
            rows.append(f"| {path.name} | {bpp:g} | {budget:,} | {len(data):,} | {share:.3f} | {seconds:.1f} |")
    inside = sum(0.9 <= s <= 1.0 for s in shares)
    table = "\n".join([
        f"`--size` on {args.images} Kodak images × budgets {', '.join(f'{b:g}' for b in args.bpp)} bpp, model "
        f"`{lm.name}`: {inside} of {len(shares)} files within 0.9–1.0 of their budget "
        f"(share {min(shares):.3f}–{max(shares):.3f}).", "",
        "| image | budget (bpp) | budget (bytes) | file (bytes) | share | search (s) |",
        "|---|---:|---:|---:|---:|---:|", *rows, ""])
    write_atomic(Path(args.output), table.encode(), force=True)
    print(table)


if __name__ == "__main__":
    main()
