"""How many bits could a richer, integer-exact entropy model save on the detail-band vector indices?

A measurement probe, not product code: it changes nothing in the codec. The indices are the shipped
encoder's own (chosen under today's rows; a codec with the new model would re-choose them, which can only
help it). For every vector symbol 0..NC (NC = escape) it records today's row and integer neighbourhood
features computed from the decoded indices exactly as `codec.subband_context.walk` does, then replays the
adaptive counts (trained or designed priors, + PRIOR_TOTAL // PRIOR_WEIGHT[3] per symbol after each pass)
in numpy for these models of the vector symbols:

    today      today's rows (must equal the encoder's own vector bits: checked against a replay of `walk`)
    refit      today's rows, priors re-designed on the design photos (what re-designing priors alone does)
    fine       (band, channel, half) × 14 finer buckets of today's activity, alone
    twod       (band, channel, half) × 7×7 buckets of two parts of today's activity (non-anchors: the 4
               anchor neighbours | the rest; anchors: 2·parent + ⌊parent's neighbours/2⌋ | 2·colour + sibling)
    lin        (band, channel, half) × 16 buckets of a learned integer activity Σ a_i·f_i / 4 over 9
               integer features (a_i 0..64 per (half, luma/chroma), coordinate descent on the design photos'
               conditional entropy)
    today+refit  a control: today's rows mixed with themselves under the re-designed priors (what mixing
               two estimates of the same rows gives, with no new context information)
    A+B(+C)    a mixture of those tables' rows, p = Σ w_k·p_k with integer w_k summing to 16, the weights
               indexed by today's row (fallback to the (band, channel, half) group's, then a global weight,
               where the design half has fewer than MIN_N symbols of the row); each component's
               probabilities are first quantised as the coder would, ⌊c·2^16/Σc⌋ + 1, so the mixture is
               integer-exact: f = Σ w_k·(⌊c_k·2^16/Σc_k⌋ + 1).

The new rows' priors (and `refit`'s) are designed on --design training photos at --design-q (the eval sweep):
(counts + SHRINK·inherited)/(n + SHRINK), the inherited distribution being the mean trained prior of the
symbols' today-rows, floored and scaled like `freeze` (rows ≈ PRIOR_TOTAL, entries ≥ 1). The learned
activity is fitted on the same training photos. Mixing weights are fitted on one half of the validation
photos and measured on the other half, then the halves swap, so every number reported is held out. Total
bits are the encoder's `bits=` sum (vectors, escapes, LL).

    OMP_NUM_THREADS=1 .venv/bin/python bench/entropy_probe.py --images 12 --md bench/entropy_probe.md

BSDS500 validation photos only (never Kodak).
"""
import argparse
import itertools
import time
from pathlib import Path

import numpy as np
from ibc.codec.engine import scalar_bits
from ibc.codec.image_io import read_image
from ibc.codec.step_code import code_of_quality, step_from_code
from ibc.codec.subband_context import (
    MAG_CAP,
    NB,
    NC,
    PRIOR_TOTAL,
    PRIOR_WEIGHT,
    SPLITS,
    SUB,
    bucket,
    checkerboard,
    cross_sum,
    tile_bands,
    walk,
)
from ibc.codec.subband_vq import LEVELS, ORIENTATIONS, vq_class
from ibc.codec.training.dataset import list_images, split_train_val
from ibc.codec.wavelet_api import EVAL_QUALITIES
from ibc.codec.weights import load_model

K = NC + 1
INC = PRIOR_TOTAL // PRIOR_WEIGHT[3]
G = 3 * LEVELS * 3 * 2                      # (band, channel, half) groups
EDGES14 = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 6.5, 8.5, 12.5, 16.5, 24.5, 32.5, 48.5, 64.5])  # ⊃ EDGES
EDGES16 = np.array([0.5, 1.5, 2.5, 3.5, 4.5, 6.5, 8.5, 11.5, 16.5, 22.5, 32.5, 45.5, 64.5, 90.5, 128.5])
FEATS = ("parent", "pnb", "colour", "sibling", "cross", "ring", "pvec", "sibnb", "colnb")
TODAY_A = {"parent": 8, "pnb": 2, "colour": 8, "sibling": 4}        # today's activity, in quarters
TODAY_N = dict(TODAY_A, cross=4)
STEPS_A = (0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64)
SHRINK = 32        # pseudo-symbols of the inherited distribution in a designed prior
MIN_N = 256        # design symbols a row needs for a weight of its own
QBITS = 16         # each component's probabilities are quantised to ⌊c·2^QBITS/Σc⌋ + 1 before mixing
W_TOTAL = 16       # mixing weights are integers summing to this


# -- collection ---------------------------------------------------------------------------------------
def tile_records(model, u_bands, bands):
    """Encode one tile; → dict of per-symbol arrays (coding order), pass offsets, bits list, replay check."""
    seen_rows, bits = [], []
    t = model.encode_tile(u_bands, bands, collect=lambda b, ch, u, idx, rows, escq: seen_rows.append(rows.copy()),
                          bits=bits)
    C = len(t.ll)
    cmag = np.asarray(model.cmag)
    # the encoder's own vector bits, from a replay of walk on the chosen indices
    replay_vec, replay_pass = [], []

    def visit_pass(b, ch, part, rows, counts):
        idx, escq = t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]
        table, local = counts.bit_rows("vec", rows)
        esc = idx == NC
        v = table[local, idx].sum()
        replay_vec.append(v)
        replay_pass.append(v + scalar_bits(counts, "mag", np.repeat(rows[esc], 4), escq[esc].ravel()))
        return idx, escq

    walk(bands, model.priors(), cmag, lambda counts: None, visit_pass, model.context, C)
    assert np.allclose(replay_pass, bits[:-1], rtol=1e-9, atol=1e-6), "replay differs from the encoder's bits"

    rec = {k: [] for k in ("sym", "row0", "g", "anchor", "act0", "a1", "a2") + FEATS}
    passes = []
    coeff_mag, vec_mag = {}, {}
    for b, band in enumerate(bands[1:], start=1):
        idx, escq = t.idx[b - 1], t.escq[b - 1]
        hv, wv = idx.shape[1:]
        mags = np.zeros((C, hv, wv, 4), np.int64)
        for ch in range(C):
            cls = vq_class(band.level, band.orientation, ch)
            esc = idx[ch] == NC
            mags[ch] = np.where(esc[..., None], np.minimum(np.abs(escq[ch]), MAG_CAP), cmag[cls][np.minimum(idx[ch], NC - 1)])
        vmag = mags.sum(-1)
        zeros = np.zeros((C, hv, wv), np.int64)
        parent = coeff_mag[band.parent] if band.parent is not None else zeros
        pvec = (np.repeat(np.repeat(vec_mag[band.parent], 2, 1), 2, 2) if band.parent is not None else zeros)
        sib_n = ORIENTATIONS.index(band.orientation)
        sibling = sum((vec_mag[b - k] for k in range(1, sib_n + 1)), zeros.copy())
        anchor = checkerboard(hv, wv)
        part_of = (np.arange(hv) * SPLITS // max(hv, 1))[:, None]
        parts = [(half is anchor, part) for half in (anchor, ~anchor) for k in range(SPLITS)
                 if (part := half & (part_of == k)).any()]
        for ch in range(C):
            colour = vmag[:ch].sum(0)
            pnb = cross_sum(parent[ch])
            base = 2 * parent[ch] + 2 * colour + pnb // 2 + sibling[ch]
            am = vmag[ch] * anchor
            cross = cross_sum(am)
            p2 = np.pad(am, 2)
            ring = sum(p2[2 + di:2 + di + hv, 2 + dj:2 + dj + wv]
                       for di, dj in ((1, 2), (1, -2), (-1, 2), (-1, -2), (2, 1), (2, -1), (-2, 1), (-2, -1)))
            f = {"parent": parent[ch], "pnb": pnb, "colour": colour, "sibling": sibling[ch], "cross": cross,
                 "ring": ring, "pvec": pvec[ch], "sibnb": cross_sum(sibling[ch]), "colnb": cross_sum(colour)}
            for is_anchor, part in parts:
                n = int(part.sum())
                h = 0 if is_anchor else 1
                if is_anchor:
                    act0 = base[part]
                    sub = bucket(act0)
                    a1 = (2 * parent[ch] + pnb // 2)[part]
                    a2 = (2 * colour + sibling[ch])[part]
                else:
                    act0 = (cross + base)[part]
                    sub = NB + bucket(act0)
                    a1, a2 = cross[part], base[part]
                rec["sym"].append(idx[ch][part])
                rec["row0"].append(((b - 1) * 3 + ch) * SUB + sub)
                rec["g"].append(np.full(n, ((b - 1) * 3 + ch) * 2 + h))
                rec["anchor"].append(np.full(n, is_anchor))
                rec["act0"].append(act0)
                rec["a1"].append(a1)
                rec["a2"].append(a2)
                for k in FEATS:
                    rec[k].append(f[k][part] if (k not in ("cross", "ring") or not is_anchor) else np.zeros(n, np.int64))
                passes.append(n)
        vec_mag[b] = vmag
        coeff_mag[b] = np.minimum(mags.reshape(C, hv, wv, 2, 2).swapaxes(2, 3).reshape(C, 2 * hv, 2 * wv), MAG_CAP)
    out = {k: np.concatenate(v).astype(np.int32) for k, v in rec.items()}  # memory: design photos
    out["chroma"] = (out["g"] // 2) % 3 > 0
    assert np.array_equal(np.concatenate(seen_rows), out["row0"]), "recomputed rows differ from the encoder's"
    out["passes"] = np.array(passes)
    out["bits_total"] = float(sum(bits))
    out["bits_vec_encoder"] = float(sum(replay_vec))
    return out


def collect(model, rgb, step):
    """Every tile of one photo at one step → list of tile records."""
    y = model.analysis(rgb)
    H, W, _ = rgb.shape
    Hp, Wp = y.shape[1:]
    return [tile_records(model, [y[:, r, c] / step for r, c in model.band_slices(Hp, Wp, tile)],
                         tile_bands(tile[2], tile[3])) for tile in model.tiles(H, W)]


# -- adaptive code lengths --------------------------------------------------------------------------
def adaptive(prior: np.ndarray, tile: dict, rows: np.ndarray):
    """Replay one tile's passes on counts starting at `prior` (R,K) int64 → per symbol: exact p, and the
    quantised numerator q and row sum R of ⌊c·2^QBITS/Σc⌋ + 1."""
    t = prior.copy()
    sym = tile["sym"]
    p = np.empty(sym.size)
    q = np.empty(sym.size, np.int64)
    R = np.empty(sym.size, np.int64)
    s = 0
    for n in tile["passes"]:
        r, x = rows[s:s + n], sym[s:s + n]
        used, local = np.unique(r, return_inverse=True)
        c = t[used]
        tot = c.sum(1)
        Q = (c << QBITS) // tot[:, None] + 1
        p[s:s + n] = c[local, x] / tot[local]
        q[s:s + n] = Q[local, x]
        R[s:s + n] = Q.sum(1)[local]
        np.add.at(t, (r, x), INC)
        s += n
    return p, q, R


def design_prior(trained: np.ndarray, rows0: np.ndarray, rows: np.ndarray, sym: np.ndarray, n_rows: int,
                 group_of_row: np.ndarray) -> np.ndarray:
    """Priors (n_rows,K) for a new row set from design symbols: counts shrunk towards the mean trained
    prior of the symbols' today-rows (a group's mean trained prior for rows no design symbol reached)."""
    pt = trained / trained.sum(1, keepdims=True)
    counts = np.zeros((n_rows, K))
    np.add.at(counts, (rows, sym), 1)
    inherit = np.zeros((n_rows, K))
    np.add.at(inherit, rows, pt[rows0])
    n = counts.sum(1, keepdims=True)
    gmean = pt.reshape(G, SUB // 2, K).mean(1)                       # per (band, channel, half)
    inherit = np.where(n > 0, inherit / np.maximum(n, 1), gmean[group_of_row])
    p = (counts + SHRINK * inherit) / (n + SHRINK)
    return np.floor(p * (PRIOR_TOTAL - K)).astype(np.int64) + 1


# -- contexts ---------------------------------------------------------------------------------------
def key_fine(d, _):
    return d["g"] * 14 + np.digitize(d["act0"], EDGES14), G * 14, 14


def key_twod(d, _):
    return d["g"] * 49 + 7 * bucket(d["a1"]) + bucket(d["a2"]), G * 49, 49


def lin_act(d, w, sel=None):
    a = 0
    for k, v in w.items():
        if v:
            a = a + v * (d[k] if sel is None else d[k][sel])
    return np.asarray(a) // 4


def key_lin(d, ws):
    act = np.zeros(d["sym"].size, np.int64)
    for (anc, chroma), w in ws.items():
        sel = (d["anchor"] == anc) & (d["chroma"] == chroma)
        act[sel] = lin_act(d, w, sel)
    return d["g"] * 16 + np.digitize(act, EDGES16), G * 16, 16


def cond_entropy(g, bk, sym, nb):
    c = np.bincount((g * nb + bk) * K + sym, minlength=G * nb * K).reshape(-1, K).astype(np.float64)
    n = c.sum(1)
    return float((n[n > 0] * np.log2(n[n > 0])).sum() - (c[c > 0] * np.log2(c[c > 0])).sum())


def fit_lin(d):
    """Integer weights (quarters) of the learned activity per (anchor, chroma), by coordinate descent on
    the design symbols' conditional entropy of the 16-bucket rows."""
    ws = {}
    for anc, chroma in itertools.product((True, False), (False, True)):
        sel = (d["anchor"] == anc) & (d["chroma"] == chroma)
        g, sym = d["g"][sel], d["sym"][sel]
        feats = [k for k in FEATS if not (anc and k in ("cross", "ring")) and not (not chroma and k in ("colour", "colnb"))]
        w = {k: (TODAY_A if anc else TODAY_N).get(k, 0) for k in feats}
        sub = {k: d[k][sel] for k in feats}

        def cost(w, g=g, sub=sub, sym=sym):
            return cond_entropy(g, np.digitize(lin_act(sub, w), EDGES16), sym, 16)

        best = cost(w)
        for _ in range(2):
            changed = False
            for k in feats:
                for v in STEPS_A:
                    if v == w[k]:
                        continue
                    c = cost(dict(w, **{k: v}))
                    if c < best - 1e-6:
                        best, w, changed = c, dict(w, **{k: v}), True
            if not changed:
                break
        ws[(anc, chroma)] = w
    return ws


# -- mixing -----------------------------------------------------------------------------------------
def combos(m):
    return np.array([c for c in itertools.product(range(W_TOTAL + 1), repeat=m) if sum(c) == W_TOTAL])


def mix_bits(q, R, w):
    """q, R (m,n) per component; w (n,m) or (m,) integer weights → bits (n,)."""
    w = np.asarray(w)
    num = (w.T * q).sum(0) if w.ndim == 2 else (w[:, None] * q).sum(0)
    den = (w.T * R).sum(0) if w.ndim == 2 else (w[:, None] * R).sum(0)
    return np.log2(den) - np.log2(num)


def fit_weights(q, R, row0):
    """Per today-row integer weights (fallbacks: its (band, channel, half) group, then global) → (N_ROWS,m)."""
    cs = combos(len(q))
    n_rows = G * SUB // 2
    cost = np.stack([np.bincount(row0, weights=mix_bits(q, R, c), minlength=n_rows) for c in cs])  # (C,N_ROWS)
    n = np.bincount(row0, minlength=n_rows)
    gcost = cost.reshape(len(cs), G, SUB // 2).sum(-1)
    gn = n.reshape(G, SUB // 2).sum(-1)
    glob = cs[cost.sum(1).argmin()]
    per_g = np.where((gn >= MIN_N)[:, None], cs[gcost.argmin(0)], glob)
    per_row = np.where((n >= MIN_N)[:, None], cs[cost.argmin(0)], per_g[np.arange(n_rows) // (SUB // 2)])
    return per_row, glob


# -- the probe --------------------------------------------------------------------------------------
def cat(tiles, key):
    return np.concatenate([t[key] for t in tiles])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--images", type=int, default=12, help="the first N of the val split (even): measured")
    ap.add_argument("--design", type=int, default=12, help="training photos (spread over the train split) "
                    "that design the new rows' priors and the learned activity")
    ap.add_argument("--design-q", type=float, nargs="+", default=list(EVAL_QUALITIES),
                    help="the steps the design photos are coded at (default: the eval sweep, as shipped priors)")
    ap.add_argument("--q", type=float, nargs="+", default=[34, 58])
    ap.add_argument("--model", default="shannon-v4")
    ap.add_argument("--md")
    args = ap.parse_args()
    t0 = time.time()
    model = load_model(args.model).coder
    trained = model.priors()["vec"].astype(np.int64)
    train, val = split_train_val(list_images(Path(args.data)))
    qs = args.q
    steps = [step_from_code(code_of_quality(q)) for q in qs]

    # design: the new rows' priors and the learned activity, on training photos at the same steps
    dtiles = [t for p in train[::max(1, len(train) // args.design)][:args.design]
              for q in args.design_q for t in collect(model, read_image(p), step_from_code(code_of_quality(q)))]
    D = {k: cat(dtiles, k) for k in ("sym", "row0", "g", "anchor", "chroma", "act0", "a1", "a2") + FEATS}
    del dtiles
    print(f"design photos collected ({D['sym'].size} symbols) {time.time() - t0:.0f} s", flush=True)
    ws = fit_lin(D)
    print(f"activity fitted {time.time() - t0:.0f} s: " + "; ".join(
        f"{'anchor' if a else 'non-anchor'}/{'chroma' if c else 'luma'}: " + " ".join(f"{f} {v}" for f, v in w.items() if v)
        for (a, c), w in ws.items()), flush=True)
    keys = {"today": lambda d: d["row0"], "refit": lambda d: d["row0"],
            "fine": lambda d: key_fine(d, None)[0], "twod": lambda d: key_twod(d, None)[0],
            "lin": lambda d: key_lin(d, ws)[0]}
    sizes = {"refit": (G * SUB // 2, SUB // 2), "fine": (G * 14, 14), "twod": (G * 49, 49), "lin": (G * 16, 16)}
    priors = {"today": trained}
    for name, (n_rows, nb) in sizes.items():
        priors[name] = design_prior(trained, D["row0"], keys[name](D), D["sym"], n_rows, np.arange(n_rows) // nb)
    del D

    # measure: every validation photo's probabilities under every table (no fold needed: nothing above saw them)
    comps = list(keys)
    P = []                     # P[i][qi] = {comp: (p, q, R)}, plus "row0"
    tot = np.zeros((args.images, len(qs)))
    sanity = []
    for i, path in enumerate(val[:args.images]):
        rgb = read_image(path)
        P.append([])
        for qi, step in enumerate(steps):
            tiles = collect(model, rgb, step)
            tot[i, qi] = sum(t["bits_total"] for t in tiles)
            d = {c: tuple(map(np.concatenate, zip(*[adaptive(priors[c], t, keys[c](t)) for t in tiles]))) for c in comps}
            d["row0"] = cat(tiles, "row0")
            sanity.append((sum(t["bits_vec_encoder"] for t in tiles), -np.log2(d["today"][0]).sum()))
            P[i].append(d)
    print(f"validation photos measured {time.time() - t0:.0f} s", flush=True)

    mixes = {"today+refit": ["today", "refit"], "today+fine": ["today", "fine"], "today+twod": ["today", "twod"], "today+lin": ["today", "lin"],
             "today+fine+twod": ["today", "fine", "twod"], "today+twod+lin": ["today", "twod", "lin"],
             "today+fine+lin": ["today", "fine", "lin"]}
    variants = comps + list(mixes) + [m + " (global w)" for m in mixes]
    vec = {v: np.zeros(len(qs)) for v in variants}
    half = args.images // 2
    folds = [(range(half), range(half, args.images)), (range(half, args.images), range(half))]
    glob_w = {m: [] for m in mixes}
    for design, held in folds:
        for name, cl in mixes.items():
            pick = [P[i][qi] for i in design for qi in range(len(qs))]
            qq = np.stack([np.concatenate([d[c][1] for d in pick]) for c in cl])
            RR = np.stack([np.concatenate([d[c][2] for d in pick]) for c in cl])
            per_row, glob = fit_weights(qq, RR, np.concatenate([d["row0"] for d in pick]))
            glob_w[name].append(glob.tolist())
            for i in held:
                for qi in range(len(qs)):
                    d = P[i][qi]
                    qq, RR = np.stack([d[c][1] for c in cl]), np.stack([d[c][2] for c in cl])
                    vec[name][qi] += mix_bits(qq, RR, per_row[d["row0"]]).sum()
                    vec[name + " (global w)"][qi] += mix_bits(qq, RR, glob).sum()
        print(f"fold done {time.time() - t0:.0f} s", flush=True)
    for c in comps:
        for qi in range(len(qs)):
            vec[c][qi] = sum(-np.log2(P[i][qi][c][0]).sum() for i in range(args.images))
    total = tot.sum(0)

    s = np.array(sanity)
    worst = float(np.abs(s[:, 1] / s[:, 0] - 1).max())
    lines = [f"# Entropy-model probe: mixing and learned activity for the vector indices ({args.model})", "",
             f"`OMP_NUM_THREADS=1 .venv/bin/python bench/entropy_probe.py --images {args.images} --design {args.design}"
             + (f" --design-q {' '.join(f'{q:g}' for q in args.design_q)}" if args.design_q != list(EVAL_QUALITIES) else "")
             + (f" --q {' '.join(f'{q:g}' for q in qs)}" if qs != [34, 58] else "") + " --md bench/entropy_probe.md` "
             f"({time.time() - t0:.0f} s, one core). Measured on the first {args.images} BSDS500 validation photos "
             f"(never Kodak); the new rows' priors and the learned activity designed on {args.design} training photos "
             f"at q {', '.join(f'{q:g}' for q in args.design_q)}; mixing weights fitted on one half of the validation photos and measured on the "
             "other, then the other way round. Every number is held out and summed over all the photos. The indices are "
             "the ones the shipped encoder chose; they were not re-chosen under the new model. Counts adapt as in `walk` "
             f"(+{INC} per symbol after each pass). The module docstring describes each variant.", "",
             f"Sanity check: `today` reproduces the encoder's own vector bits to within {worst:.1e} (relative, worst photo).", ""]
    lines += ["| variant | " + " | ".join(f"q {q:g}: vector kbit | saving, % of vector | saving, % of total | "
                                         f"beyond `refit`, % of total" for q in qs) + " |",
              "|---|" + "---:|---:|---:|---:|" * len(qs),
              "| whole image (`bits=` sum) | " + " | ".join(f"{total[qi] / 1e3:.1f} | | | " for qi in range(len(qs))) + " |"]
    for v in variants:
        cells = []
        for qi in range(len(qs)):
            sv = vec["today"][qi] - vec[v][qi]
            cells.append(f"{vec[v][qi] / 1e3:.1f} | {100 * sv / vec['today'][qi]:+.2f} | {100 * sv / total[qi]:+.2f} | "
                         f"{100 * (vec['refit'][qi] - vec[v][qi]) / total[qi]:+.2f}")
        lines.append(f"| {v} | " + " | ".join(cells) + " |")
    gain = {v: float(np.mean((vec["today"] - vec[v]) / total)) for v in variants}
    best = max(gain, key=gain.get)
    share = ", ".join(f"{100 * vec['today'][qi] / total[qi]:.0f} %" for qi in range(len(qs)))
    lines += ["", (f"The vector symbols are {share} of the total at q {', '.join(f'{q:g}' for q in qs)}. "
              "Positive savings mean fewer bits than today. `refit` is the control for the prior "
              "data: the same design photos and prior recipe on today's rows, so the last column of each q is what the "
              f"new contexts or the mixing add beyond better-matched priors. Best variant (mean saving over the q): "
              f"{best}, {100 * gain[best]:+.2f} % of the total bits."), "",
              "Learned activity weights (quarters; act = Σ a·f / 4, 16 buckets): " + "; ".join(
                  f"{'anchor' if a else 'non-anchor'}/{'chroma' if c else 'luma'}: " +
                  " ".join(f"{f} {v}" for f, v in w.items() if v) for (a, c), w in ws.items()) + ". Today's, for "
              "comparison: parent 8, pnb 2, colour 8, sibling 4 (+ cross 4 for non-anchors).", "",
              "Global mixing weights (out of 16; fold 1, fold 2): " + "; ".join(f"{m} {w[0]}, {w[1]}" for m, w in glob_w.items())]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.md:
        Path(args.md).write_text(text)


if __name__ == "__main__":
    main()
