"""Probe: would a post-filter trained for MS-SSIM pay on the MS-SSIM tune's files? On BSDS500 photos (never Kodak).

Two copies of one filter (a checkpoint of `ibc train`'s post-filter stage, 16×8) are trained for the same
time on the same pool of `--tune ms-ssim` decodes of training photos: one on squared error, one on
1 − MS-SSIM (192² crops: MS-SSIM's five scales fit). Both, and the shipped shannon-v4 filter, are then
measured on validation photos' real tuned files: BD-rate of MS-SSIM dB and of PSNR against the shipped filter.

    OMP_NUM_THREADS=1 .venv/bin/python bench/msssim_filter_probe.py --init runs/weights-run/postfilter/checkpoint.pt \
        --minutes 12 --md bench/msssim_filter_probe.md
"""
import argparse
import copy
import time
from pathlib import Path

import numpy as np
import torch
from pytorch_msssim import ms_ssim as torch_ms_ssim

from ibc.codec.api import compress, decompress
from ibc.codec.image_io import read_image
from ibc.codec.metrics import bd_rate, db, ms_ssim, psnr
from ibc.codec.postfilter import step_feature
from ibc.codec.step_code import code_of_quality, step_from_code
from ibc.codec.training.dataset import list_images, split_train_val
from ibc.codec.weights import load_model
from ibc.models.postfilter import PostFilter

CROP, QUALITIES = 192, (20.0, 35.0, 50.0, 65.0)


def pool(lm, files, rng, crops=3):
    xs, cs, ss = [], [], []
    for path in files:
        rgb = read_image(path)
        H, W = rgb.shape[:2]
        if min(H, W) < CROP:
            continue
        q = float(rng.uniform(18, 68))
        c = decompress(compress(rgb, lm, quality=q, tune="ms-ssim"), lm, postfilter=False)
        for _ in range(crops):
            r, k = int(rng.integers(H - CROP + 1)), int(rng.integers(W - CROP + 1))
            xs.append(rgb[r:r + CROP, k:k + CROP]), cs.append(c[r:r + CROP, k:k + CROP])
            ss.append(step_feature(step_from_code(code_of_quality(q))))
    return np.array(xs), np.array(cs), np.array(ss, np.float32)


def tensor(a):
    return torch.from_numpy(a).permute(0, 3, 1, 2).float() / 255


def train(f, data, loss_name, minutes, seed=0):
    x, c, s = data
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(f.parameters(), lr=1e-4)
    end, steps = time.time() + 60 * minutes, 0
    while time.time() < end:
        i = rng.integers(len(x), size=8)
        xt, ct = tensor(x[i]), tensor(c[i])
        y = f(ct, torch.from_numpy(s[i]))
        loss = ((y - xt) ** 2).mean() if loss_name == "mse" else 1 - torch_ms_ssim(y.clamp(0, 1), xt, data_range=1.0)
        opt.zero_grad()
        loss.backward()
        opt.step()
        steps += 1
    return steps


@torch.no_grad()
def apply(f, img, step):
    y = f(tensor(img[None]), torch.tensor([step_feature(step)], dtype=torch.float32))
    return (y.clamp(0, 1)[0].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--init", required=True)
    ap.add_argument("--minutes", type=float, default=12)
    ap.add_argument("--train-images", type=int, default=60)
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--md")
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    lm = load_model("shannon-v4")
    train_files, val_files = split_train_val(list_images(Path(args.data)))
    rng = np.random.default_rng(0)
    data = pool(lm, list(rng.permutation(train_files))[:args.train_images], rng)
    start = torch.load(args.init, map_location="cpu", weights_only=False)
    base = PostFilter(**start["f_config"])
    base.load_state_dict(start["f"])
    filters = {}
    for name in ("mse", "ms-ssim"):
        f = copy.deepcopy(base)
        n = train(f, data, name, args.minutes)
        filters[name] = f.eval()
        print(f"{name}: {n} steps", flush=True)
    photos = [read_image(p) for p in val_files[-args.images:]]  # the tune stage used the first ones
    rows = {k: ([], [], []) for k in ("shipped filter", "mse fine-tuned", "ms-ssim trained")}
    for q in QUALITIES:
        step = step_from_code(code_of_quality(q))
        acc = {k: [0, 0, [], []] for k in rows}
        for rgb in photos:
            data_ = compress(rgb, lm, quality=q, tune="ms-ssim")
            plain = decompress(data_, lm, postfilter=False)
            outs = {"shipped filter": decompress(data_, lm), "mse fine-tuned": apply(filters["mse"], plain, step),
                    "ms-ssim trained": apply(filters["ms-ssim"], plain, step)}
            for k, img in outs.items():
                acc[k][0] += 8 * len(data_)
                acc[k][1] += rgb.shape[0] * rgb.shape[1]
                acc[k][2].append(psnr(rgb, img)), acc[k][3].append(db(ms_ssim(rgb, img)))
        for k in rows:
            rows[k][0].append(acc[k][0] / acc[k][1]), rows[k][1].append(np.mean(acc[k][2]))
            rows[k][2].append(np.mean(acc[k][3]))
    ref = rows["shipped filter"]
    lines = [f"# A post-filter trained for MS-SSIM on the MS-SSIM tune's files, {len(photos)} validation photos", "",
             f"`python bench/msssim_filter_probe.py --init {args.init} --minutes {args.minutes:g}` "
             f"({time.time() - t0:.0f} s; each filter trained {args.minutes:g} min from the same start on "
             f"{len(data[0])} crops of {args.train_images} training photos). BD-rates against the shipped filter.", "",
             "| decoder | MS-SSIM dB at each q | BD-rate MS-SSIM | BD-rate PSNR |", "|---|---|---:|---:|"]
    for k, (r, p, s) in rows.items():
        lines.append(f"| {k} | {' '.join(f'{v:.2f}' for v in s)} | {bd_rate(ref[0], ref[2], r, s):+.2f} % | "
                     f"{bd_rate(ref[0], ref[1], r, p):+.2f} % |")
    print("\n".join(lines))
    if args.md:
        Path(args.md).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
