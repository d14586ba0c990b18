"""Probe: alternative contexts for the subband symbols of shannon-v2, measured with real range-coded files on
BSDS500 validation images (never Kodak), before any of them was built into the codec.

For each variant the context function of models.subband_context.walk is replaced (here, not in the codec),
the priors are designed again on NTRAIN training images (2 rounds of counting under the variant's own
contexts, the shipped codebooks kept), and NVAL validation images are coded at q 18 … 78; the BD-rate is
against the shipped shannon-v2 (whose priors came from 30 images and 7 steps, so "ref", the unchanged
contexts redesigned here, is the fair baseline).

    OMP_NUM_THREADS=1 .venv/bin/python bench/context_probe.py 12 12 ref: sib2:sib=2 pnb2:pnb=2 all:twod=1,sib=2,pnb=2

VARIANT = name:key=value,…  keys: sib (weight ×½ of the level's earlier orientations, same channel),
pnb (weight ×¼ of the parent's 4 neighbours), col (colour weight, default 2), twod (1: a 2-D context,
spatial × the rest, 7× the rows). Results: bench/context_probe.md.
"""
import sys
import time

import numpy as np
from pathlib import Path
import ibc.models.subband_context as SC
import ibc.codec.subband_tiles as ST
import ibc.models.wavelet_coder as WC
from ibc.models.subband_context import (Counts, bucket, checkerboard, cross_sum, NB, ESC, K_MAG, MAG_CAP, SPLITS,
                                        PRIOR_TOTAL, ll_residual, tile_bands)
from ibc.models.subband_vq import NC, LEVELS, vq_class
from ibc.codec.weights import load_model
from ibc.codec.api import compress, decompress
from ibc.codec.image_io import read_image
from ibc.codec.dataset import list_images, split_train_val
from ibc.codec.evaluation.plot import bd_rate
from ibc.codec.step_code import step_from_code, code_of_quality


OPT = {}
def sub_count():
    return 2 * NB * (NB if OPT.get("twod") else 1)

def walk(bands, priors, cmag, visit_ll, visit_pass, context=1):  # the probe's contexts, whatever the model's
    SUB = sub_count()
    counts = Counts(priors)
    visit_ll(counts)
    coeff_mag, vec_mag = {}, {}
    for b, band in enumerate(bands[1:], start=1):
        hv, wv = band.shape[0] // 2, band.shape[1] // 2
        parent = coeff_mag[band.parent] if band.parent is not None else np.zeros((3, hv, wv), np.int64)
        oi = (b - 1) % 3
        sib = sum(vec_mag[b - k] for k in range(1, oi + 1)) if oi else np.zeros((3, hv, wv), np.int64)
        anchor = checkerboard(hv, wv)
        part_of = (np.arange(hv) * SPLITS // max(hv, 1))[:, None]
        parts = [(half is anchor, part) for half in (anchor, ~anchor) for k in range(SPLITS)
                 if (part := half & (part_of == k)).any()]
        vmag = np.zeros((3, hv, wv), np.int64)
        mags = np.zeros((3, hv, wv, 4), np.int64)
        for ch in range(3):
            pch = parent[ch]
            pc = 2 * pch
            if OPT.get("pnb"):
                pc = pc + (OPT["pnb"] * cross_sum(pch)) // 4
            other = pc + OPT.get("col", 2) * vmag[:ch].sum(0) + (OPT.get("sib", 0) * sib[ch]) // 2
            cls = vq_class(band.level, band.orientation, ch)
            cross = None
            for is_anchor, part in parts:
                if OPT.get("twod"):
                    if is_anchor:
                        sub = bucket(other[part]) * NB
                    else:
                        if cross is None:
                            cross = cross_sum(vmag[ch] * anchor)
                        sub = NB * NB + bucket(other[part]) * NB + bucket(cross[part])
                else:
                    if is_anchor:
                        sub = bucket(other[part])
                    else:
                        if cross is None:
                            cross = cross_sum(vmag[ch] * anchor) + other
                        sub = NB + bucket(cross[part])
                rows = ((b - 1) * 3 + ch) * SUB + sub
                idx, escq = visit_pass(b, ch, part, rows, counts)
                counts.add("vec", rows, idx)
                esc = idx == NC
                if esc.any():
                    counts.add("mag", np.repeat(rows[esc], 4), np.minimum(np.abs(escq[esc]), ESC).ravel())
                    m = np.where(esc[:, None], np.minimum(np.abs(escq), MAG_CAP), cmag[cls][np.minimum(idx, NC - 1)])
                else:
                    m = cmag[cls][idx]
                mags[ch][part] = m
                vmag[ch][part] = m.sum(-1)
        vec_mag[b] = vmag
        coeff_mag[b] = np.minimum(mags.reshape(3, hv, wv, 2, 2).swapaxes(2, 3).reshape(3, 2 * hv, 2 * wv), MAG_CAP)
    return counts

for mod in (SC, ST, WC):
    mod.walk = walk

def freeze(s, sub):
    K = s.shape[-1]
    g = s.reshape(-1, sub, K)
    marginal = (g.sum(1, keepdims=True) + 0.5) / (g.sum((1, 2), keepdims=True) + K / 2)
    p = (g + 2 * marginal) / (g.sum(-1, keepdims=True) + 2)
    return (np.floor(p * (PRIOR_TOTAL - K)).astype(np.int64) + 1).reshape(s.shape)

def design(lm, imgs, steps, ll_prior):
    sub = sub_count(); nrows = 3 * 3 * LEVELS * sub
    coder = lm.coder
    pri = {"vec": np.full((nrows, NC + 1), PRIOR_TOTAL // (NC + 1), np.int64),
           "mag": np.full((nrows, K_MAG), PRIOR_TOTAL // K_MAG, np.int64), "ll": ll_prior}
    for r in range(2):
        coder._priors = pri
        vec, mag = np.zeros((nrows, NC + 1)), np.zeros((nrows, K_MAG))
        def collect(b, ch, u, idx, rows, escq):
            np.add.at(vec, (rows, idx), 1)
            e = idx == NC
            np.add.at(mag, (np.repeat(rows[e], 4), np.minimum(np.abs(escq[e]), ESC).ravel()), 1)
        for im in imgs:
            for st in steps:
                coder.encode(im, st, collect)
        pri = {"vec": freeze(vec, sub), "mag": freeze(mag, sub), "ll": ll_prior}
    coder._priors = pri
    return pri

def curve(lm, imgs, qs):
    R, D = [], []
    for q in qs:
        b = n = 0; p = []
        for im in imgs:
            d = compress(im, lm, quality=q); b += len(d) * 8; n += im.shape[0] * im.shape[1]
            p.append(10 * np.log10(255 ** 2 / np.mean((decompress(d, lm, realism=0.0, postfilter=False).astype(float) - im) ** 2)))
        R.append(b / n); D.append(np.mean(p))
    return np.array(R), np.array(D)

ntrain, nval = int(sys.argv[1]), int(sys.argv[2])
train, val = split_train_val(list_images(Path("/work/shared/data/train")))
rng = np.random.default_rng(0)
tr = [read_image(p) for p in rng.choice(train, ntrain, replace=False)]
tr = [im[:im.shape[0] // 64 * 64, :im.shape[1] // 64 * 64] for im in tr]
va = [read_image(p) for p in val[:nval]]
lm = load_model("shannon-v2")
shipped = lm.coder._priors
QS = (18, 30, 42, 54, 66, 78)
STEPS = [step_from_code(code_of_quality(q)) for q in (14, 30, 46, 62, 78)]
base = curve(lm, va, QS)
print("shipped", np.round(base[0], 3), np.round(base[1], 2), flush=True)
for spec in sys.argv[3:]:
    name, _, kv = spec.partition(":")
    OPT.clear(); OPT.update({k: int(v) for k, v in (x.split("=") for x in kv.split(",") if x)})
    t = time.time()
    design(lm, tr, STEPS, shipped["ll"])
    r, d = curve(lm, va, QS)
    print(name, OPT, np.round(r, 3), np.round(d, 2), "BD vs shipped %.2f%%" % bd_rate(base[0], base[1], r, d), f"{time.time() - t:.0f}s", flush=True)
