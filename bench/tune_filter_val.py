"""A model's ms-ssim tune with its own post-filter, against the same tune through the model's filter, on
validation photos that neither the tune search nor the filter's validation read (never Kodak).

    OMP_NUM_THREADS=1 .venv/bin/python bench/tune_filter_val.py --run runs/shannon-v5-tune-filter \
        --model shannon-v5 -o bench/tune_filter_val.md

Real files of `--tune ms-ssim` at four q, each decoded twice from the same indices: through the filter the
file names (the tune's) and through the model's own (psnr) filter; `--tune psnr` files as the reference of
what the tune buys. BD-rates of (bpp, MS-SSIM dB) and of (bpp, PSNR). The weights ship when the tune's
filter lowers the MS-SSIM BD-rate here.
"""
import argparse
import json
import time
from pathlib import Path

import numpy as np

from ibc.codec.api import compress, decompress, read_header
from ibc.codec.image_io import read_image
from ibc.codec.metrics import bd_rate, db, ms_ssim, psnr
from ibc.codec.step_code import step_from_code
from ibc.codec.weights import load_model

QUALITIES = (20.0, 35.0, 50.0, 65.0)


def curves(lm, photos: list) -> dict:
    """{decoder: (bpp, MS-SSIM dB, PSNR) arrays over QUALITIES}, means over the photos."""
    rows = {k: ([], [], []) for k in ("psnr tune", "ms-ssim tune, model's filter", "ms-ssim tune, its filter")}
    for q in QUALITIES:
        acc = {k: [0, 0, [], []] for k in rows}
        for rgb in photos:
            plain_file, tuned = compress(rgb, lm, quality=q), compress(rgb, lm, quality=q, tune="ms-ssim")
            step = step_from_code(read_header(tuned).step_code)
            outs = {"psnr tune": (plain_file, decompress(plain_file, lm)),
                    "ms-ssim tune, model's filter": (tuned, lm.postfilter(decompress(tuned, lm, postfilter=False), step)),
                    "ms-ssim tune, its filter": (tuned, decompress(tuned, lm))}
            for k, (data, img) in outs.items():
                acc[k][0] += 8 * len(data)
                acc[k][1] += rgb.shape[0] * rgb.shape[1]
                acc[k][2].append(db(ms_ssim(rgb, img))), acc[k][3].append(psnr(rgb, img))
        for k, (bits, pixels, m, p) in acc.items():
            rows[k][0].append(bits / pixels), rows[k][1].append(np.mean(m)), rows[k][2].append(np.mean(p))
    return {k: tuple(map(np.array, v)) for k, v in rows.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", required=True, help="the run folder of `ibc train` (its files.json)")
    ap.add_argument("--model", required=True)
    ap.add_argument("--images", type=int, default=12, help="the last N validation photos of the run")
    ap.add_argument("-o", "--output", required=True)
    args = ap.parse_args()
    t0 = time.time()
    lm = load_model(args.model)
    if not lm.tune_filters:
        raise SystemExit(f"{args.model} has no tune filter installed")
    val = json.loads((Path(args.run) / "files.json").read_text())["val"][-args.images:]
    photos = [rgb for rgb in map(read_image, val) if min(rgb.shape[:2]) > 160]
    c = curves(lm, photos)
    ref, base = c["ms-ssim tune, model's filter"], c["psnr tune"]
    lines = [f"# {args.model}: the ms-ssim tune's own post-filter on {len(photos)} validation photos", "",
             f"`OMP_NUM_THREADS=1 .venv/bin/python bench/tune_filter_val.py --run {args.run} --model {args.model} "
             f"--images {args.images} -o {args.output}` ({time.time() - t0:.0f} s): the last {args.images} validation "
             "photos of the run (read by neither the tune search nor the filter's validation), q "
             f"{', '.join(f'{q:g}' for q in QUALITIES)}.", "",
             "| decoder | bpp at each q | MS-SSIM dB | PSNR | BD-rate MS-SSIM vs model's filter | BD-rate PSNR vs model's filter | BD-rate MS-SSIM vs psnr tune |",
             "|---|---|---|---|---:|---:|---:|"]
    for k, (r, m, p) in c.items():
        lines.append(f"| {k} | {' '.join(f'{v:.3f}' for v in r)} | {' '.join(f'{v:.2f}' for v in m)} | "
                     f"{' '.join(f'{v:.2f}' for v in p)} | {bd_rate(ref[0], ref[1], r, m):+.2f} % | "
                     f"{bd_rate(ref[0], ref[2], r, p):+.2f} % | {bd_rate(base[0], base[1], r, m):+.2f} % |")
    gain = bd_rate(ref[0], ref[1], *c["ms-ssim tune, its filter"][:2])
    lines += ["", f"The tune's own filter: **{gain:+.2f} %** BD-rate of MS-SSIM against the model's filter on the "
              f"same files ({'it pays' if gain < 0 else 'it does not pay'})."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
