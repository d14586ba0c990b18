"""The probe behind the C2ST's training budget (codec.evaluation.c2st: STEPS, LR, WIDTH, HF_GAIN), on 24 BSDS500
validation photos (never Kodak): WebP at quality 0 and 50 (method 6), one seed, each setting changed alone.

    python bench/c2st_budget.py --data ../shared/data/train -o bench/c2st_budget.md
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

# (what changes, {constant: value}, steps); None: the default
VARIANTS = [("the default", {}, None),
            ("200 steps", {}, 200),
            ("500 steps", {}, 500),
            ("learning rate 2e-3, 200 steps", {"LR": 2e-3}, 200),
            ("twice as wide (16, 32, 64)", {"WIDTH": (16, 32, 64)}, None),
            ("no detail channels (HF_GAIN 0)", {"HF_GAIN": 0.0}, None)]


def webp(rgb: np.ndarray, q: int) -> tuple[np.ndarray, int]:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="WEBP", quality=q, method=6)
    with Image.open(io.BytesIO(buf.getvalue())) as im:
        return np.asarray(im.convert("RGB")), len(buf.getvalue())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="../shared/data/train")
    p.add_argument("--images", type=int, default=24)
    p.add_argument("-o", "--output", default="bench/c2st_budget.md")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    files = sorted(Path(args.data).glob("bsds_val_*"))[:args.images]
    originals = [read_image(f) for f in files]
    pixels = sum(x.shape[0] * x.shape[1] for x in originals)
    qualities = (0, 50)
    coded = {q: [webp(x, q) for x in originals] for q in qualities}
    s = judge.settings()
    lines = ["# The C2ST's training budget, probed on BSDS500 validation photos", "",
             f"`python bench/c2st_budget.py`: the first {len(files)} `bsds_val_*` photos of ../shared/data/train "
             f"(never Kodak), WebP method 6, seed 0, one CPU thread. The default: {s['steps']} Adam steps of "
             f"{s['batch']} places per fold, learning rate {s['lr']:g}, widths {tuple(s['width'])}, detail gain "
             f"{s['hf_gain']:g}; each row changes one thing. Seconds: CPU time of one C2ST (WebP q 0).", "",
             "| variant | " + " | ".join(f"WebP q {q} ({sum(n for _, n in coded[q]) * 8 / pixels:.3f} bpp)"
                                        for q in qualities) + " | s |",
             "|---|" + "---:|" * (len(qualities) + 1)]
    defaults = {name: getattr(judge, name) for name in ("LR", "WIDTH", "HF_GAIN")}
    for name, change, steps in VARIANTS:
        for constant, value in change.items():
            setattr(judge, constant, value)
        cells, seconds = [], None
        for q in qualities:
            t0 = time.process_time()
            result = judge.c2st(originals, [r for r, _ in coded[q]], steps=steps or judge.STEPS)
            seconds = seconds or time.process_time() - t0
            cells.append(f"{result.accuracy:.3f}")
        for constant, value in defaults.items():
            setattr(judge, constant, value)
        lines.append(f"| {name} | {' | '.join(cells)} | {seconds:.1f} |")
        print(lines[-1], flush=True)
    lines += ["", f"95 % null threshold: {result.threshold95:.3f} ({result.n_test} test patches)."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"{args.output}: written")


if __name__ == "__main__":
    main()
