"""Probe: the entropy coder's tile size and the weight of its trained priors, on BSDS500 validation photos
(never Kodak), with shannon-v3 and its post-filter.

Contexts and adaptive counts restart at every tile edge (so each tile's payload decodes alone); a larger
tile lets the counts learn more of an image. PRIOR_WEIGHT (models.subband_context) is how many symbols a
trained row is worth against a tile's own counts. Both are set here for encoder and decoder alike (the
tables stay shannon-v3's), so each row is a real codec; BD-rate (PSNR, real files at the eval sweep)
against the first row.

    OMP_NUM_THREADS=1 .venv/bin/python bench/tile_probe.py --images 12 --md bench/tile_probe.md
"""
import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import val_compare  # noqa: E402  (bench/val_compare.py: the same curve)
from val_compare import add_val_options, val_photos  # noqa: E402

from ibc.codec.evaluation.plot import bd_rate  # noqa: E402
from ibc.codec.weights import load_model  # noqa: E402
from ibc.models import subband_context  # noqa: E402

ROWS = [(256, 32), (512, 32), (1024, 32), (256, 16), (256, 64), (512, 64), (512, 128), (512, 256)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_val_options(ap, 12, "shannon-v3")
    args = ap.parse_args()
    images = val_photos(args)
    lm = load_model(args.model)
    context, own = lm.coder.context, (lm.coder.tile, subband_context.PRIOR_WEIGHT[lm.coder.context])
    t0, base, rows = time.time(), None, []
    try:
        for tile, weight in ROWS:
            lm.coder.tile, subband_context.PRIOR_WEIGHT[context] = tile, weight
            r, d = val_compare.curve(lm, images, True)
            base = base or (r, d)
            rows.append(f"| {tile} | {weight} | {' '.join(f'{a:.3f}/{b:.2f}' for a, b in zip(r, d))} | {bd_rate(*base, r, d):+.2f} % |")
            print(rows[-1], flush=True)
    finally:
        lm.coder.tile, subband_context.PRIOR_WEIGHT[context] = own
    table = [f"# Tile size and prior weight, {args.model} + post-filter, {len(images)} BSDS500 validation photos", "",
             f"`python bench/tile_probe.py --images {args.images}` ({time.time() - t0:.0f} s; see its docstring): "
             "bpp/PSNR at q 18 … 75, BD-rate (PSNR) against the first row (shannon-v3 as shipped).", "",
             "| tile (px) | prior weight (symbols) | bpp/PSNR per q | BD-rate |", "|---:|---:|---|---:|"] + rows
    if args.md:
        Path(args.md).write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
