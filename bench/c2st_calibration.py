"""The realism judge (C2ST, codec.evaluation.c2st) calibrated on Kodak: what it says of an identical copy, of
WebP at its lowest quality and of a 4× down-and-up copy, plain and conditional, over a few seeds.

    python bench/c2st_calibration.py --kodak ../shared/data/kodak -o bench/c2st_calibration.md

Kodak is read for evaluation only: nothing here is tuned on it. One CPU thread.
"""
import argparse
import io
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ibc.codec.evaluation import c2st as judge
from ibc.codec.image_io import read_image
from ibc.codec.metrics import SlicedWasserstein, psnr


def webp_lowest(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    """WebP at quality 0, method 6 (as `ibc eval` runs it): the reconstruction and the file's bytes."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="WEBP", quality=0, method=6)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return np.asarray(im.convert("RGB")), len(buf.getvalue())


def down_up(rgb: np.ndarray, factor: int = 4) -> np.ndarray:
    """Pillow bicubic down by `factor` and back up."""
    h, w = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((w // factor, h // factor), Image.BICUBIC)
    return np.asarray(small.resize((w, h), Image.BICUBIC))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kodak", default="../shared/data/kodak")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("-o", "--output", default="bench/c2st_calibration.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    files = sorted(Path(args.kodak).glob("*.png"))
    originals = [read_image(f) for f in files]
    pixels = sum(x.shape[0] * x.shape[1] for x in originals)
    webp = [webp_lowest(x) for x in originals]
    cases = {"identical copy": ([x.copy() for x in originals], None),
             "WebP, quality 0, method 6": ([r for r, _ in webp], sum(n for _, n in webp) * 8 / pixels),
             "4× down and up (bicubic)": ([down_up(x) for x in originals], None)}
    swd = SlicedWasserstein(originals)
    s = judge.settings()
    lines = ["# The realism judge (C2ST) calibrated on Kodak", "",
             f"`python bench/c2st_calibration.py` ({len(files)} Kodak images, one CPU thread, seeds "
             f"{', '.join(map(str, args.seeds))}): a CNN ({s['width']} channels) trained from scratch for {s['steps']} "
             f"Adam steps of {s['batch']} places per fold, on {s['patch']}-px patches of the originals and the "
             f"reconstructions at the same places; {s['folds']} folds split by image, each tested on the other's "
             "non-overlapping grid of patches. Accuracy: 0.5, the network cannot tell; the 95 % threshold is a "
             "coin's over as many test patches (exact binomial). Conditional: the network also sees the "
             f"original's low-pass ({s['lowpass']}×{s['lowpass']} block means) beside every patch. Mean over the "
             "seeds, range in brackets; seconds: CPU time of one C2ST.", "",
             "| reconstruction | bpp | PSNR dB | SWD | C2ST | C2ST cond. | 95 % threshold (n) | s per C2ST |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, (recons, bpp) in cases.items():
        accs, seconds, result = {False: [], True: []}, [], None
        for seed in args.seeds:
            for conditional in (False, True):
                t0 = time.process_time()
                result = judge.c2st(originals, recons, conditional=conditional, seed=seed)
                seconds.append(time.process_time() - t0)
                accs[conditional].append(result.accuracy)
                print(f"{name}, seed {seed}, conditional {conditional}: {result}", flush=True)
        cells = [f"{np.mean(a):.3f} [{min(a):.3f}–{max(a):.3f}]" for a in accs.values()]
        quality = np.mean([psnr(x, r) for x, r in zip(originals, recons)])
        lines.append(f"| {name} | {'–' if bpp is None else f'{bpp:.3f}'} | "
                     f"{'∞' if not np.isfinite(quality) else f'{quality:.2f}'} | {swd.distance(recons)[0]:.4f} | "
                     f"{cells[0]} | {cells[1]} | {result.threshold95:.3f} ({result.n_test}) | {np.mean(seconds):.1f} |")
        print(lines[-1], flush=True)
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"{args.output}: written")


if __name__ == "__main__":
    main()
