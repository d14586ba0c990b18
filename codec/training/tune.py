"""Fit a model's MS-SSIM tune: the step weight per level (codec.step_code) that most lowers the bits at equal
MS-SSIM on validation photos, by a coordinate search over real files.

    weights w = (LL, level 5 … level 1) ─ compress every photo at each q with w, decompress (post-filter on)
      ─ BD-rate of (bpp, MS-SSIM dB) against uniform weights ─ keep a move of one code group if it lowers it

MS-SSIM weighs its coarse scales most (its finest scale's weight is 0.04): it asks for finer steps on the
coarse bands and coarser ones on the finest, which squared error does not (bench/aq_probe.md measured
the trade before this was built). The search starts at uniform weights and moves one level's code by
±STEPS[i] at a time, the largest moves first; every trial codes real files, so what it keeps is what the
encoder will write.
"""
import dataclasses
import time

import numpy as np

from ..api import compress, decompress
from ..metrics import db, ms_ssim
from ..step_code import N_WEIGHTS, UNIFORM

STEPS = (24, 12, 6)       # code moves tried, largest first (64 codes: an octave)
CODE_RANGE = (64, 224)    # weights 0.5 … 2.8: the search stays inside
ROUNDS = 2                # passes over the levels per move size


def curve(lm, photos: list, qualities: tuple, codes: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(bpp, MS-SSIM dB) at each q, means over the photos, with real files under step weights `codes`."""
    trial = dataclasses.replace(lm, tunes={"trial": codes})
    rates, quality = [], []
    for q in qualities:
        bits = pixels = 0
        values = []
        for rgb in photos:
            data = compress(rgb, trial, quality=q, tune="trial" if codes != UNIFORM else "psnr")
            bits, pixels = bits + 8 * len(data), pixels + rgb.shape[0] * rgb.shape[1]
            values.append(db(ms_ssim(rgb, decompress(data, trial))))
        rates.append(bits / pixels)
        quality.append(float(np.mean(values)))
    return np.array(rates), np.array(quality)


def fit_ms_ssim(lm, photos: list, qualities: tuple, log=print, deadline: float | None = None) -> dict:
    """The MS-SSIM tune of `lm` on `photos` (each over 160 px a side, for MS-SSIM's five scales):
    {"codes": the weight codes, "bd_rate_ms_ssim": its BD-rate against uniform weights (%), "trials": n}.
    Stops early at `deadline` (time.time()), keeping the best found."""
    from ..metrics import bd_rate
    anchor = curve(lm, photos, qualities, UNIFORM)
    best, best_bd, trials = UNIFORM, 0.0, 1
    for move in STEPS:
        for _ in range(ROUNDS):
            improved = False
            for i in range(N_WEIGHTS):
                for sign in (1, -1):
                    if deadline is not None and time.time() > deadline:
                        log(f"tune: out of time after {trials} trials")
                        return {"codes": list(best), "bd_rate_ms_ssim": round(best_bd, 2), "trials": trials}
                    codes = list(best)
                    codes[i] = int(np.clip(codes[i] + sign * move, *CODE_RANGE))
                    if tuple(codes) == best:
                        continue
                    bd = bd_rate(*anchor, *curve(lm, photos, qualities, tuple(codes)))
                    trials += 1
                    if bd is not None and bd < best_bd - 0.05:
                        best, best_bd, improved = tuple(codes), bd, True
                        log(f"tune: weights {list(best)}: {bd:+.2f} % MS-SSIM BD-rate")
                        break
            if not improved:
                break
    return {"codes": list(best), "bd_rate_ms_ssim": round(best_bd, 2), "trials": trials}
