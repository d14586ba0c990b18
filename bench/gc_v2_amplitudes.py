"""Crops of gc-v2 at raised noise amplitudes on BSDS500 validation photos (never Kodak): what MAX_AMPLITUDE
in bench/make_gc_v2.py was chosen by looking at. Columns: original, Shannon-AE v2 (realism 0), then gc at
amplitudes 1.4 (shipped), 1.6 and 1.8, all from one file at q 22, seed 0.

    .venv/bin/python bench/gc_v2_amplitudes.py -o bench/gc_v2_amplitude_crops.png
"""
import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ibc.codec.image_io import read_image
from ibc.codec.step_code import code_of_quality, step_from_code
from ibc.codec.weights import load_model

IMAGES = ("bsds_val_103070.jpg", "bsds_val_12084.jpg", "bsds_val_163085.jpg", "bsds_val_21077.jpg")
AMPLITUDES = (1.4, 1.6, 1.8)
SHIPPED = 1.4  # gc-v2's σ is the fitted one × this: realism a/SHIPPED draws amplitude a


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("-o", "--output", default="bench/gc_v2_amplitude_crops.png")
    args = ap.parse_args()
    gc = load_model("gc-v2")
    step = step_from_code(code_of_quality(22))
    rows = []
    for name in IMAGES:
        im = read_image(Path(args.data) / name)
        im = im[:im.shape[0] // 64 * 64, :im.shape[1] // 64 * 64]
        t = gc.coder.encode(im, step)
        outs = [im, gc.coder.decode(t, *im.shape[:2], step)]
        outs += [gc.coder.decode(t, *im.shape[:2], step, fill=gc.noise.filler(0, a / SHIPPED)) for a in AMPLITUDES]
        rows.append(np.concatenate([o[:192, :256] for o in outs], 1))
    Image.fromarray(np.concatenate(rows, 0)).save(args.output)
    print(f"{args.output}: rows {', '.join(IMAGES)}; columns original, Shannon-AE, amplitude "
          + ", ".join(map(str, AMPLITUDES)))


if __name__ == "__main__":
    main()
