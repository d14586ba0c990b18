"""The generative decoders against the issue's targets on Kodak at about 0.1 bpp, every codec at the gc file's
size, in one run: PSNR, MSE against the Shannon-AE decoder (realism 0, the same file), SWD and the
calibrated C2ST (plain and conditional, codec.evaluation.c2st), and the decode time at realism 1.

    python bench/gc_head_targets.py --models gc-v4 gc-v5 -o bench/gc_head_targets.md

Each image is coded once by the gc models' base at --quality; WebP is the file nearest in size to it over
WebP's quality scale (method 6); the Shannon-AE row decodes the same file at realism 0; each gc model decodes
it at realism 1 with seed 0. Kodak is read for evaluation only.
"""
import argparse
import time
from pathlib import Path

import numpy as np
import torch

from ibc.codec.api import compress, decompress
from ibc.codec.evaluation.c2st import c2st
from ibc.codec.evaluation.classical import CODECS
from ibc.codec.image_io import read_image
from ibc.codec.metrics import SlicedWasserstein, psnr
from ibc.codec.weights import load_model

from gc_crops import nearest_size


def decode_seconds(data: bytes, lm, repeats: int = 3) -> float:
    """The fastest of `repeats` decodes at realism 1 (the model loaded and its sessions open)."""
    decompress(data, lm, realism=1.0)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        decompress(data, lm, realism=1.0)
        best = min(best, time.perf_counter() - t)
    return best


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kodak", default="../shared/data/kodak")
    p.add_argument("--models", nargs="+", default=["gc-v4", "gc-v5"], help="gc models on one base")
    p.add_argument("--quality", type=float, default=22, help="ibc q (default: 22, about 0.1 bpp on Kodak)")
    p.add_argument("-o", "--output", default="bench/gc_head_targets.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    gcs = [load_model(m) for m in args.models]
    base = load_model(gcs[0].meta["base"]["name"])
    files = sorted(Path(args.kodak).glob("*.png"))
    originals = [read_image(f) for f in files]
    rows = {"WebP (same size)": [], "Shannon-AE (A = 0)": []} | {f"{g.name} (A = 1)": [] for g in gcs}
    sizes = {k: [] for k in rows}
    seconds = {}
    for k, rgb in enumerate(originals):
        data = compress(rgb, base, quality=args.quality)
        webp = nearest_size(CODECS["webp"], rgb, len(data))
        rows["WebP (same size)"].append(CODECS["webp"].decode(webp))
        sizes["WebP (same size)"].append(len(webp))
        rows["Shannon-AE (A = 0)"].append(decompress(data, base, realism=0.0))
        sizes["Shannon-AE (A = 0)"].append(len(data))
        for g in gcs:
            rows[f"{g.name} (A = 1)"].append(decompress(data, g, realism=1.0, seed=0))
            sizes[f"{g.name} (A = 1)"].append(len(data))
            if k == 0:
                seconds[g.name] = decode_seconds(data, g)
        print(f"{files[k].name} coded", flush=True)
    pixels = np.array([x.shape[0] * x.shape[1] for x in originals])
    swd = SlicedWasserstein(originals)
    mse0 = np.mean([np.mean((a.astype(float) - b) ** 2) for a, b in zip(originals, rows["Shannon-AE (A = 0)"])])
    lines = ["# Generative decoders at about 0.1 bpp on Kodak (24 images), every codec at the same size",
             "", f"`python bench/gc_head_targets.py --models {' '.join(args.models)} --quality {args.quality:g}`: "
             f"each image coded once by {base.name} at q {args.quality:g}; WebP (method 6) at the quality whose file "
             "is nearest in size; C2ST on 64-pixel patches, two folds split by image (accuracy, 0.5 = cannot tell; "
             "the 95 % null threshold beside it); conditional: the classifier also sees the original's low-pass. "
             "MSE against the Shannon-AE decoder on the same files.", "",
             "| decoder | bpp | PSNR dB | MSE ÷ A=0 | SWD | C2ST | C2ST cond. |", "|---|---|---|---|---|---|---|"]
    for name, images in rows.items():
        bpp = float(np.mean(np.array(sizes[name]) * 8 / pixels))
        mse = np.mean([np.mean((a.astype(float) - b) ** 2) for a, b in zip(originals, images)])
        plain, cond = c2st(originals, images), c2st(originals, images, conditional=True)
        lines.append(f"| {name} | {bpp:.3f} | {np.mean([psnr(a, b) for a, b in zip(originals, images)]):.2f} | "
                     f"{mse / mse0:.2f} | {swd.distance(images)[0]:.4f} | {plain.accuracy:.3f} (null 95 %: {plain.threshold95:.3f}) | "
                     f"{cond.accuracy:.3f} (null 95 %: {cond.threshold95:.3f}) |")
        print(lines[-1], flush=True)
    lines += ["", "Decode at realism 1 of " + files[0].name + ", one thread, fastest of 3: "
              + ", ".join(f"{n} {s:.2f} s" for n, s in seconds.items()) + "."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"{args.output}: written")


if __name__ == "__main__":
    main()
