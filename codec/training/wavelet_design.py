"""Design of a WaveletCodec on training images: entropy-constrained k-means with the real contexts.

    round 0: scalar choices (the grid) through the real passes ─► counts ─► first priors
    round r: RD choices under the current priors ─► codewords ← centroids, counts ─► priors (freeze)

Every round counts the symbols of every row exactly as the coder will see them, pooled over a set of
steps, so one table set serves every rate. Training images only.

Context 4 (codec.subband_context) also learns its activity weights: the first round whose choices are the
model's own (the first VQ round; a scalar model's only round) records the features of an evenly thinned
sample of its symbols (at most FIT_SYMBOLS), fits each group's integer weights by coordinate descent on
the symbols' conditional entropy given their rows (as bench/entropy_probe.py measured), and re-counts
that sample under the fitted rows for the next round's priors; the rounds after it count under the
fitted rows (one more round when none is left). Versions 1–3 are designed as before.
"""
import math

import numpy as np
import torch

from ..subband_context import (
    ACT_DIV,
    ACT_FEATURES,
    ACT_GROUPS,
    ACT_NB,
    ACT_NF,
    ACT_NON_ANCHOR,
    ESC,
    K_MAG,
    act_bucket,
    ll_residual,
    n_rows,
    rows_per_band,
    tile_bands,
    walk,
)
from ..subband_vq import LEVELS, N_CLASSES, NC, vq_class

FIT_SYMBOLS = 1 << 22   # context 4: design symbols (at most) the activity weights are fitted on
ACT_STEPS = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)  # the weights (quarters) the fit tries
FIT_SWEEPS = 2          # coordinate-descent sweeps over the features (a third rarely moves one)
_BANDS = 3 * LEVELS     # detail bands of a tile


class _Sample:
    """Context 4: features, rows' places and symbols of every `stride`-th vector symbol of a design round."""

    def __init__(self, stride: int):
        self.stride, self.seen = stride, 0
        self.parts = {k: [] for k in ("F", "bc", "group", "sym", "esc")}

    def add(self, t, b: int, ch: int, part: np.ndarray, group: int, F: np.ndarray) -> None:
        """One pass of tile indices t (walk's observe, with t bound)."""
        keep = np.flatnonzero((self.seen + np.arange(len(F))) % self.stride == 0)
        self.seen += len(F)
        idx, escq = t.idx[b - 1][ch][part][keep], t.escq[b - 1][ch][part][keep]
        self.parts["F"].append(F[keep].astype(np.int32))
        self.parts["bc"].append(np.full(keep.size, (b - 1) * 3 + ch, np.int16))
        self.parts["group"].append(np.full(keep.size, group, np.int8))
        self.parts["sym"].append(idx.astype(np.int16))
        self.parts["esc"].append(np.minimum(np.abs(escq), ESC).astype(np.int8))

    def arrays(self) -> dict:
        return {k: np.concatenate(v) for k, v in self.parts.items()}


def _conditional_bits(key: np.ndarray, size: int) -> float:
    """Σ code lengths of symbols under the static distribution of their rows: key = row·(NC+1) + symbol."""
    c = np.bincount(key, minlength=size).reshape(-1, NC + 1)
    n = c.sum(1)
    n, c = n[n > 0].astype(np.float64), c[c > 0].astype(np.float64)
    return float((n * np.log2(n)).sum() - (c * np.log2(c)).sum())


def fit_activity(sample: dict, start: np.ndarray) -> np.ndarray:
    """Integer activity weights (ACT_GROUPS, ACT_NF) from a _Sample's arrays: per group, coordinate descent
    over ACT_STEPS from `start` on the symbols' conditional entropy given (band, channel, bucket)."""
    out = np.array(start, np.int64)
    size = _BANDS * 3 * ACT_NB * (NC + 1)
    for group in range(ACT_GROUPS):
        sel = sample["group"] == group
        if not sel.any():
            continue
        F = sample["F"][sel].astype(np.int64)
        base = sample["bc"][sel].astype(np.int64) * ACT_NB * (NC + 1) + sample["sym"][sel]
        anchor, chroma = group < 2, group % 2 == 1
        free = [k for k, f in enumerate(ACT_FEATURES)
                if not (anchor and f in ACT_NON_ANCHOR) and (chroma or f not in ("colour", "colnb"))]
        w = out[group].copy()
        w[[k for k in range(ACT_NF) if k not in free]] = 0

        def bits(total, base=base):
            return _conditional_bits(base + act_bucket(total // ACT_DIV) * (NC + 1), size)

        total = F @ w
        best = bits(total)
        for _ in range(FIT_SWEEPS):
            moved = False
            for k in free:
                for v in ACT_STEPS:
                    if v == w[k]:
                        continue
                    trial = total + (v - w[k]) * F[:, k]
                    b = bits(trial)
                    if b < best * (1 - 1e-12):
                        best, total, w[k], moved = b, trial, v, True
            if not moved:
                break
        out[group] = w
    return out


def activity_text(act: np.ndarray) -> str:
    """Context 4's weights, readable: per group, its features of non-zero weight."""
    names = ("anchor/luma", "anchor/chroma", "non-anchor/luma", "non-anchor/chroma")
    return "; ".join(f"{g}: " + " ".join(f"{f} {int(a)}" for f, a in zip(ACT_FEATURES, w) if a)
                     for g, w in zip(names, act))


def _refit(model, sample: _Sample) -> None:
    """Context 4: fit the activity weights on the sample, then priors from the sample under the new rows."""
    d = sample.arrays()
    act = fit_activity(d, model.prior_act.numpy())
    model.prior_act.copy_(torch.from_numpy(act))
    R, K = rows_per_band(model.context), NC + 1
    rows = d["bc"].astype(np.int64) * R + np.where(d["group"] < 2, 0, ACT_NB) + act_bucket(
        (d["F"].astype(np.int64) * act[d["group"]]).sum(1) // ACT_DIV)
    esc = d["sym"] == NC
    n = n_rows(model.context)
    vec = np.bincount(rows * K + d["sym"], minlength=n * K).reshape(n, K)
    mag = np.bincount(np.repeat(rows[esc], 4) * K_MAG + d["esc"][esc].ravel(), minlength=n * K_MAG).reshape(n, K_MAG)
    model.stat_vec.copy_(torch.from_numpy(sample.stride * vec.astype(np.float64)))
    model.stat_mag.copy_(torch.from_numpy(sample.stride * mag.astype(np.float64)))
    model.freeze()


def _count(model, images, steps, update_codebooks: bool, tick=None, fit: bool = False) -> None:
    """One design round; `fit` (context 4) also fits the activity weights (module docstring)."""
    n = n_rows(model.context)
    vec, mag, ll = np.zeros((n, NC + 1)), np.zeros((n, K_MAG)), np.zeros((3, K_MAG))
    sums, counts = np.zeros((N_CLASSES, NC, 4)), np.zeros((N_CLASSES, NC))
    state = {}
    if fit:
        symbols = sum(rgb.shape[0] * rgb.shape[1] * 3 // 4 for rgb in images) * len(steps)
        sample = _Sample(max(1, math.ceil(symbols / FIT_SYMBOLS)))

    def collect(b, ch, u, idx, rows, escq):
        np.add.at(vec, (rows, idx), 1)
        esc = idx == NC
        np.add.at(mag, (np.repeat(rows[esc], 4), np.minimum(np.abs(escq[esc]), ESC).ravel()), 1)
        band = state["bands"][b]
        cls = vq_class(band.level, band.orientation, ch)
        np.add.at(sums[cls], idx[~esc], u[~esc])
        np.add.at(counts[cls], idx[~esc], 1)

    for rgb in images:
        for step in steps:
            y = model.analysis(rgb) / step
            Hp, Wp = y.shape[1:]
            for tile in model.tiles(*rgb.shape[:2]):
                state["bands"] = tile_bands(tile[2], tile[3])
                t = model.encode_tile([y[:, r, c] for r, c in model.band_slices(Hp, Wp, tile)], state["bands"], collect)
                if fit:  # the same walk again on the chosen indices, to see each pass's features
                    walk(state["bands"], model.priors(), model.cmag.numpy(), lambda counts: None,
                         lambda b, ch, part, rows, counts, t=t: (t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]),
                         model.context, len(t.ll), observe=lambda *a, t=t: sample.add(t, *a))
                r = np.minimum(np.abs(ll_residual(t.ll)), ESC)
                for ch in range(3):
                    ll[ch] += np.bincount(r[ch].ravel(), minlength=K_MAG)
            if tick:
                tick()
    if update_codebooks:
        model.vq.update(sums, counts)
    model.stat_vec.copy_(torch.from_numpy(vec))
    model.stat_mag.copy_(torch.from_numpy(mag))
    model.stat_ll.copy_(torch.from_numpy(ll))
    model.freeze()
    if fit:
        _refit(model, sample)


def design(model, images: list, steps: tuple, rounds: int = 3, log=None, warm: bool = False,
           progress=None, fit: bool = True) -> None:
    """Fit codebooks (mode "vq") and priors of `model` on training images (H,W,3) uint8, in place.
    `warm` starts from the model's own codebooks and priors instead of the scalar round: a re-fit that
    follows a transform moved by training. `progress(done, total)` counts the images coded at each step
    over all rounds (a design on 30 photos takes minutes). Context 4: `fit` False keeps the model's
    activity weights (a fresh model's: ACT_START) instead of fitting them."""
    mode = model.mode
    rounds_run = (not warm) + (rounds + 1 if mode == "vq" else 0)
    # context 4: the activity is fitted in the first round of the model's own choices; one more round
    # counts under the fitted rows when that round is the last
    fit_round = (0 if mode == "scalar" else int(not warm)) if fit and model.context >= 4 and rounds_run else None
    extra = fit_round is not None and fit_round == rounds_run - 1
    total = len(images) * len(steps) * (rounds_run + extra)
    done = [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], total)

    n = [0]  # rounds run

    def count(update_codebooks: bool) -> None:
        _count(model, images, steps, update_codebooks, tick, fit=n[0] == fit_round)
        n[0] += 1

    if not warm:
        model.mode = "scalar"
        count(update_codebooks=False)
        model.mode = mode
    if mode == "vq":
        for r in range(rounds):
            count(update_codebooks=True)
            if log:
                log(f"design round {r + 1}/{rounds}")
        count(update_codebooks=False)
    if extra:
        count(update_codebooks=False)
    if model.context >= 4 and log:
        log(f"activity weights (quarters): {activity_text(model.prior_act.numpy())}")
