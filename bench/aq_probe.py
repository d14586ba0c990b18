"""Probe: a step that follows the decoded activity (adaptive quantisation) against MS-SSIM, on BSDS500
validation photos (never Kodak). A vector's step is multiplied by m(row) = level weight⁻¹ · 2^(α·(k − k0)),
k its context row's activity bucket: both sides know the row (integers), so nothing is sent. Smooth
places (k small) get a finer step, busy ones a coarser one, as SSIM's contrast masking asks.

    OMP_NUM_THREADS=1 .venv/bin/python bench/aq_probe.py --images 8 --md bench/aq_probe.md

Ideal code lengths (the encoder's own), post-filtered decodes; BD-rates against α = 0 and level weights 1.
"""
import argparse
import time

import numpy as np

from val_compare import add_val_options, val_photos
from ibc.codec.metrics import bd_rate
from ibc.codec.metrics import db, ms_ssim, psnr
from ibc.codec.step_code import code_of_quality, step_from_code
from ibc.codec.subband_context import NB, SUB, tile_bands, walk
from ibc.codec.subband_vq import LEVELS, blocks, unblocks
from ibc.codec.weights import load_model

QUALITIES = (26, 34, 42, 50, 58, 66)


def multipliers(alpha: float, k0: float, weights: tuple, chroma: float = 1.0) -> np.ndarray:
    """m per context row (N_ROWS,): weights = (LL, level 5 … level 1), w > 1 a finer step; chroma's
    weights are `chroma` times luma's."""
    rows = np.arange(3 * 3 * LEVELS * SUB)
    band = rows // (3 * SUB)               # 0 .. 3·LEVELS−1, coarsest first
    level = LEVELS - band // 3
    k = (rows % SUB) % NB
    w = np.array(weights[1:])[LEVELS - level] * np.where((rows // SUB) % 3 > 0, chroma, 1.0)
    return 2.0 ** (alpha * (k - k0)) / w


def row_maps(model, t, bands) -> list:
    """The context row of every vector of a tile, as the decoder's walk computes it."""
    maps = [np.zeros((len(t.ll), b.shape[0] // 2, b.shape[1] // 2), np.int64) for b in bands[1:]]

    def visit_pass(b, ch, part, rows, counts):
        maps[b - 1][ch][part] = rows
        return t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]

    walk(bands, model.priors(), model.cmag, lambda counts: None, visit_pass, model.context, len(t.ll))
    return maps


def code(lm, rgb, step, m, w_ll):
    model = lm.coder
    H, W, _ = rgb.shape
    y = model.analysis(rgb) / step
    Hp, Wp = y.shape[1:]
    y_hat = np.zeros_like(y)
    choose = type(model)._choose
    model._choose = lambda cls, u, rows, counts: choose(model, cls, u / m[rows][:, None], rows, counts)
    bits = []
    try:
        for tile in model.tiles(H, W):
            bands = tile_bands(tile[2], tile[3])
            sl = model.band_slices(Hp, Wp, tile)
            u_bands = [y[:, r, c] for r, c in sl]
            u_bands[0] = u_bands[0] * w_ll[:len(u_bands[0]), None, None]
            t = model.encode_tile(u_bands, bands, bits=bits)
            rec = model.dequantise_tile(t, bands)
            maps = row_maps(model, t, bands)
            rec[0] = rec[0] / w_ll[:len(rec[0]), None, None]
            for b in range(1, len(bands)):
                rec[b] = unblocks(blocks(rec[b]) * m[maps[b - 1]][..., None])
            for (r, c), band in zip(sl, rec):
                y_hat[:, r, c] = band
    finally:
        del model._choose
    img = model.synthesis(y_hat * step, H, W)
    img = lm.postfilter(img, step)
    nbytes = sum(bits) / 8 + 6 * len(model.tiles(H, W))
    return nbytes * 8 / (H * W), psnr(rgb, img), db(ms_ssim(rgb, img))


def curve(lm, images, m, w_ll):
    r, p, s = [], [], []
    for q in QUALITIES:
        step = step_from_code(code_of_quality(q))
        v = np.array([code(lm, rgb, step, m, w_ll) for rgb in images])
        r.append(v[:, 0].mean()), p.append(v[:, 1].mean()), s.append(v[:, 2].mean())
    return np.array(r), np.array(p), np.array(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_val_options(ap, 8, "shannon-v4")
    ap.add_argument("--alphas", type=float, nargs="+", default=[0.0, 0.1, 0.2, 0.3])
    ap.add_argument("--k0", type=float, default=2.0)
    ap.add_argument("--weights", nargs="+", default=["1,1,1,1,1,1", "1.2,1.2,1.2,1.1,1,0.85"])
    ap.add_argument("--chroma", type=float, nargs="+", default=[1.0], help="chroma weights relative to luma's")
    args = ap.parse_args()
    lm = load_model(args.model)
    images = val_photos(args)
    lines, anchor = [], None
    t0 = time.time()
    for ws in args.weights:
        weights = tuple(float(v) for v in ws.split(","))
        for alpha, chroma in ((a, c) for a in args.alphas for c in args.chroma):
            w_ll = weights[0] * np.array([1.0, chroma, chroma])
            r, p, s = curve(lm, images, multipliers(alpha, args.k0, weights, chroma), w_ll)
            anchor = anchor or (r, p, s)
            lines.append(f"| {ws} | {chroma:g} | {alpha:g} | {bd_rate(anchor[0], anchor[1], r, p):+.2f} % | "
                         f"{bd_rate(anchor[0], anchor[2], r, s):+.2f} % | {r[0]:.3f}–{r[-1]:.3f} |")
            print(lines[-1], flush=True)
    out = [f"# Adaptive step by context activity, {args.model}, {len(images)} validation photos", "",
           f"`python bench/aq_probe.py --images {args.images} --k0 {args.k0:g}` ({time.time() - t0:.0f} s). "
           "m(row) = 2^(α·(k − k0)) / w(level); BD-rates against the first row (ideal code lengths, post-filtered).", "",
           "| level weights (LL, 5 … 1) | chroma | α | BD-rate PSNR | BD-rate MS-SSIM dB | bpp |", "|---|---:|---:|---:|---:|---|"] + lines
    print("\n".join(out))
    if args.md:
        open(args.md, "w").write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
