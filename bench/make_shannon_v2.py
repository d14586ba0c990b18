"""Build the shipped weights/shannon-v2.pt, shannon-v3.pt and shannon-v4.pt: the v2 model's start
(codec.training.wavelet_start) designed on training images of the BSDS500 training split (+ the ImageNet
sample); BSDS500 val and Kodak are never used. shannon-v3 is the same design with context version 2
(models.subband_context); shannon-v4 with context version 3 and 512-pixel tiles (bench/tile_probe.md).

Usage: OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/make_shannon_v2.py [--data DIR] [--images N] [--default]
       OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/make_shannon_v2.py --name shannon-v4 --default
"""
import argparse
import time
from pathlib import Path

import torch

from ibc.codec.training.export import DATA_SOURCES
from ibc.codec.dataset import list_images, split_train_val
from ibc.codec.training.wavelet_start import ROUNDS, STEPS, new_wavelet_model
from ibc.codec.weights import WEIGHTS_DIR, add_to_manifest
from ibc.codec.training.export_onnx import write_coding_bundle
from ibc.codec.weights_torch import save_weights

DESIGNS = {"shannon-v2": (1, 256), "shannon-v3": (2, 256), "shannon-v4": (3, 512)}  # context version, tile


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/work/shared/data/train")
    p.add_argument("--images", type=int, default=30)
    p.add_argument("--default", action="store_true", help="make it the manifest's default model")
    p.add_argument("--name", default="shannon-v2", choices=sorted(DESIGNS))
    p.add_argument("--context", type=int, help="context version (default: the name's)")
    p.add_argument("--tile", type=int, help="tile side in pixels (default: the name's)")
    p.add_argument("-o", "--output", help="default: weights/NAME.pt")
    args = p.parse_args()
    context = args.context or DESIGNS[args.name][0]
    tile = args.tile or DESIGNS[args.name][1]
    torch.set_num_threads(1)
    train, _ = split_train_val(list_images(Path(args.data)))  # BSDS500's val images held out
    t0 = time.time()
    model = new_wavelet_model(train, n=args.images, log=print, context=context, tile=tile)
    seconds = time.time() - t0
    training = {
        "steps": 0,
        "data": f"{args.images} photographs of {args.data} (training split: BSDS500 train/test + the ImageNet "
                "sample; BSDS500 val held out), chosen with seed 0, centre crops to multiples of 64",
        "how": f"closed-form colour transform + 5-level CDF 9/7 lifting (no learned correction); ECVQ codebooks "
               f"of 2×2 subband blocks and integer context priors designed by entropy-constrained k-means "
               f"({ROUNDS} rounds) pooled over steps {list(STEPS)}; context version {context}, {tile}-pixel tiles",
        "wall_hours": round(seconds / 3600, 2), "cpu_core_hours": round(seconds / 3600, 2),
        "command": "python bench/make_shannon_v2.py" + (f" --name {args.name}" if args.name != "shannon-v2" else "")
                   + (f" --images {args.images}" if args.images != 30 else ""),
    }
    out = Path(args.output or WEIGHTS_DIR / f"{args.name}.pt")
    digest = save_weights(model, out, args.name, {"training": training})
    print(f"{out}: sha256 {digest}, {out.stat().st_size:,} bytes, {seconds:.0f} s")
    print(f"{write_coding_bundle(out)}: ONNX coding graphs and tables")  # what the torch-free path loads
    if out.resolve().parent == WEIGHTS_DIR.resolve():
        add_to_manifest(out, {"data_sources": DATA_SOURCES}, default=args.default)


if __name__ == "__main__":
    main()
