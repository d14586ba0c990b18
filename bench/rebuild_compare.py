"""A model `ibc train` rebuilt against the shipped one it replaces, on the validation photos its run held
out (never Kodak): real files at the eval sweep, PSNR with each model's post-filter, BD-rate.

    IBC_MODEL_PATH=runs/weights .venv/bin/python bench/rebuild_compare.py --run runs/weights-run \
        --model shannon-v5 --against shannon-v4 -o bench/rebuild.md

The rebuilt model passes when its BD-rate against the shipped one is at most +1 % (DESIGN.md, principle 1).
"""
import argparse
import json
from pathlib import Path

from val_compare import curve

from ibc.codec.metrics import bd_rate
from ibc.codec.image_io import read_image
from ibc.codec.weights import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="the run folder of `ibc train` (its files.json)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--against", default="shannon-v4")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    val = json.loads((Path(args.run) / "files.json").read_text())["val"][:args.images]
    images = [read_image(Path(p)) for p in val]
    shipped, rebuilt = (curve(load_model(name), images, True) for name in (args.against, args.model))
    d = bd_rate(*shipped, *rebuilt)
    lines = [f"# {args.model} (rebuilt by `ibc train`) against {args.against}", "",
             f"`python bench/rebuild_compare.py --run {args.run} --model {args.model} --against {args.against}`: "
             f"{len(images)} validation photos the run held out, PSNR with each model's post-filter.", "",
             "| model | bpp/PSNR at the eval sweep |", "|---|---|",
             *(f"| {n} | {' '.join(f'{a:.3f}/{b:.2f}' for a, b in zip(*c))} |"
               for n, c in ((args.against, shipped), (args.model, rebuilt))), "",
             f"BD-rate of {args.model} against {args.against}: **{d:+.2f} %** "
             f"({'within' if d <= 1 else 'outside'} the 1 % bound)."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
