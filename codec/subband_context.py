"""Decode order, integer contexts and adaptive integer counts of one tile's subband symbols.

Decode order inside a tile (every context reads only symbols decoded in earlier passes):

    LL (3 channels): scalar residuals of a plane predictor, one row per channel
    for each detail band, coarsest first; for each channel Y, Co, Cg; for each half of a checkerboard
    of its 2×2 vectors (anchors i+j even, then the rest), split into SPLITS parts by vector row:
        anchors:     context = bucket(other)
        non-anchors: context = NB + bucket(cross + other)
        then counts[row, symbol] += PRIOR_TOTAL / PRIOR_WEIGHT for every symbol of the part (both sides, integers only)

    context 1 (shannon-v2):  other = 2·parent + 2·colour
    context 2 (shannon-v3):  other = 2·parent + ⌊parent's 4 neighbours / 2⌋ + 2·colour + sibling
    context 3 (shannon-v4):  context 2's rows, with the trained priors worth 128 symbols instead of 32
    context 4 (learned activity): act = ⌊Σ aᵢ·fᵢ / 4⌋ over the integer features ACT_FEATURES, with
                             integer weights aᵢ learned at the design (the model's priors["act"], one row per
                             group: anchors/non-anchors × luma/chroma), in ACT_NB = 16 buckets (integer
                             edges ACT_EDGES) instead of 7: 2×16 rows per (band, channel); priors worth 128
                             symbols, as context 3's. Anchors weigh the features known before the channel's
                             first pass (their cross and ring weights are ignored); non-anchors all of them.

parent: the rounded magnitude of the parent band's coefficient at the vector's place (the child's
vector grid is the parent's coefficient grid); colour: vector magnitudes of the earlier channels at
the same place; sibling: the vector magnitudes, same channel and place, of the level's bands decoded
before (HL for LH; HL and LH for HH); cross: magnitudes of the 4 anchor neighbours. Context 4's further
features: pnb, the parent's 4 neighbours (context 2 weighs ⌊pnb/2⌋); pvec, the magnitude of the parent
band's 2×2 vector that holds the parent; sibnb and colnb, the 4 neighbours of sibling and of colour; ring,
the magnitudes of the 8 anchors a knight's move away (non-anchors only). It was measured in
bench/entropy_probe.md (a probe) and bench/context_v4.md (designed models, real files). Magnitudes come
from integer tables frozen with the codebooks, so encoder and decoder compute the same rows on any
machine. Context 2's additions were measured before they were adopted (bench/context_probe.md).
A greyscale tile has one channel, Y: its LL row and its passes are a colour tile's Y ones, chroma left out.
"""
from dataclasses import dataclass

import numpy as np

from .subband_vq import LEVELS, NC, ORIENTATIONS, vq_class

EDGES = np.array([0.5, 1.5, 2.5, 4.5, 8.5, 16.5])
NB = len(EDGES) + 1          # activity buckets
SUB = 2 * NB                 # contexts per (band, channel): anchors, non-anchors
ESC = 17                     # scalar magnitudes 0..16 are symbols, 17 escapes to Exp-Golomb
K_MAG = ESC + 1
MAX_EXP = 24                 # Exp-Golomb exponent bound: |q| < 17 + 2^25
PRIOR_TOTAL = 1 << 16        # each trained row sums to about this
PRIOR_WEIGHT = {1: 32, 2: 32, 3: 128, 4: 128}  # by context version: a trained row is worth this many symbols
                             # against the tile's own counts (3: measured in bench/tile_probe.md)
SPLITS = 2                   # parts per checkerboard half, so later parts adapt to earlier ones
N_ROWS = 3 * 3 * LEVELS * SUB  # table rows of context versions 1–3 (any version: n_rows)
MAG_CAP = 255                # magnitudes saturate here in contexts (buckets stop at 16.5 anyway)
CONTEXTS = (1, 2, 3, 4)      # context versions (above); a model records the one it was designed with

# context 4: the learned activity. Every number in it is an integer: the features, the weights (quarters),
# the floor division and the edges, so a row is the same on any machine.
ACT_FEATURES = ("parent", "pnb", "colour", "sibling", "cross", "ring", "pvec", "sibnb", "colnb")
ACT_NF = len(ACT_FEATURES)
ACT_NON_ANCHOR = ("cross", "ring")  # features of the channel's own anchors: non-anchors only
ACT_GROUPS = 4               # rows of priors["act"]: 2·(non-anchor) + (chroma)
ACT_EDGES = np.array([1, 2, 3, 4, 5, 7, 9, 12, 17, 23, 33, 46, 65, 91, 129], np.int64)  # bucket = edges ≤ act
ACT_NB = len(ACT_EDGES) + 1  # 16 activity buckets
ACT_DIV = 4                  # act = ⌊Σ a·f / ACT_DIV⌋: weights in quarters
# the weights a fresh context-4 model starts its design from: context 2's activity, exactly (in quarters:
# 2·parent + ⌊pnb/2⌋ + 2·colour (chroma; zero for luma) + sibling, + cross for non-anchors)
ACT_START = np.array([[{"parent": 8, "pnb": 2, "colour": 8 * (g % 2), "sibling": 4, "cross": 4 * (g >= 2)}.get(f, 0)
                       for f in ACT_FEATURES] for g in range(ACT_GROUPS)], np.int64)


def rows_per_band(context: int) -> int:
    """Table rows per (band, channel): anchors' buckets, then non-anchors'."""
    return 2 * (ACT_NB if context >= 4 else NB)


def n_rows(context: int) -> int:
    """Rows of the "vec" and "mag" tables of a model of context version `context`."""
    return 3 * 3 * LEVELS * rows_per_band(context)


@dataclass(frozen=True)
class Band:
    level: int
    orientation: str      # "LL" for the coarsest low-pass band
    shape: tuple          # (h, w) coefficients in this tile
    parent: int | None    # index of the parent band in the tile's band list


def tile_bands(th: int, tw: int) -> list[Band]:
    """Bands of a th×tw-pixel tile (multiples of 2^(LEVELS+1)), coarsest first, LL at index 0."""
    out = [Band(LEVELS, "LL", (th >> LEVELS, tw >> LEVELS), None)]
    for j in range(LEVELS, 0, -1):
        for o in ORIENTATIONS:
            parent = None if j == LEVELS else 1 + 3 * (LEVELS - j - 1) + ORIENTATIONS.index(o)
            out.append(Band(j, o, (th >> j, tw >> j), parent))
    return out


@dataclass
class TileIndices:
    """What one tile sends: LL scalar indices, and per detail band its vector indices and escapes."""
    ll: np.ndarray            # (C,h,w) int64; C = 3 channels (Y, Co, Cg), or 1 (Y) for a greyscale image
    idx: list                 # per detail band (C,h/2,w/2) int in 0..NC (int64; int16 from the decoder)
    escq: list                # per detail band (C,h/2,w/2,4) int, zero where not escaped (int64; int32 from the decoder)


def bucket(m: np.ndarray) -> np.ndarray:
    return np.digitize(m, EDGES)


def checkerboard(h: int, w: int) -> np.ndarray:
    return np.add.outer(np.arange(h), np.arange(w)) % 2 == 0


def cross_sum(a: np.ndarray) -> np.ndarray:
    """Sum of the up/down/left/right neighbours inside the array (zero beyond its edges)."""
    p = np.pad(a, 1)
    return p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]


def ll_residual(q: np.ndarray) -> np.ndarray:
    """(…,h,w) → plane-prediction residual q − left − up + up-left (zero beyond the edges)."""
    p = np.pad(q, [(0, 0)] * (q.ndim - 2) + [(1, 0), (1, 0)])
    return p[..., 1:, 1:] - p[..., 1:, :-1] - p[..., :-1, 1:] + p[..., :-1, :-1]


def ll_from_residual(r: np.ndarray) -> np.ndarray:
    return np.cumsum(np.cumsum(r, -1), -2)


class Counts:
    """The adaptive integer tables of one tile: trained priors plus `inc` per symbol coded so far."""

    def __init__(self, priors: dict, context: int = 1):
        # "vec" (n_rows,NC+1), "mag" (n_rows,K_MAG), "ll" (3,K_MAG); context 4 also "act" (ACT_GROUPS,ACT_NF), never counted
        self.t = {k: v.copy() for k, v in priors.items()}
        self.inc = PRIOR_TOTAL // PRIOR_WEIGHT[context]

    @staticmethod
    def used(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """np.unique(rows, return_inverse=True) for rows spanning a short range (a pass uses ≤ 2·ACT_NB rows)."""
        if rows.size == 0:
            return rows[:0], rows[:0]
        lo = rows.min()
        present = np.bincount(rows - lo) > 0
        return lo + np.flatnonzero(present), (np.cumsum(present) - 1)[rows - lo]

    def rows(self, which: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The coder's float64 table restricted to the rows used, and the rows renumbered into it."""
        used, local = self.used(rows)
        return np.ascontiguousarray(self.t[which][used], dtype=np.float64), local.reshape(-1)

    def bits(self, which: str, rows: np.ndarray) -> np.ndarray:
        """(n,K) code lengths of every symbol under each symbol's current row (for encoder decisions)."""
        table, local = self.bit_rows(which, rows)
        return table[local]

    def bit_rows(self, which: str, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`bits` as (u,K) code lengths of the rows used and each symbol's place in them (no (n,K) copy)."""
        c, local = self.rows(which, rows)
        return np.log2(c.sum(-1, keepdims=True)) - np.log2(c), local

    def add(self, which: str, rows: np.ndarray, symbols: np.ndarray) -> None:
        if rows.size == 0:
            return
        t, K = self.t[which], self.t[which].shape[1]
        lo, hi = rows.min(), rows.max() + 1
        t[lo:hi] += self.inc * np.bincount((rows - lo) * K + symbols, minlength=(hi - lo) * K).reshape(hi - lo, K)


def check_context(context: int) -> int:
    if context not in CONTEXTS:
        raise ValueError(f"unknown context version {context} (this version knows {', '.join(map(str, CONTEXTS))})")
    return context


def act_table(priors: dict) -> np.ndarray:
    """The learned activity weights of a context-4 model: priors["act"], (ACT_GROUPS, ACT_NF) integers."""
    a = priors.get("act")
    if a is None:
        raise ValueError('a context-4 model needs its activity weights (priors["act"])')
    a = np.asarray(a)
    if a.shape != (ACT_GROUPS, ACT_NF) or a.dtype.kind not in "iu":
        raise ValueError(f'priors["act"] must be ({ACT_GROUPS}, {ACT_NF}) integers, not {a.shape} {a.dtype}')
    return a.astype(np.int64)


def act_bucket(act: np.ndarray) -> np.ndarray:
    """Integer activity → bucket 0..ACT_NB−1 (integer comparisons only)."""
    return np.searchsorted(ACT_EDGES, act, side="right")


def _ring(am: np.ndarray) -> np.ndarray:
    """Sum of the 8 values a knight's move away (zero beyond the edges)."""
    h, w = am.shape
    p = np.pad(am, 2)
    return sum(p[2 + di:2 + di + h, 2 + dj:2 + dj + w]
               for di, dj in ((1, 2), (1, -2), (-1, 2), (-1, -2), (2, 1), (2, -1), (-2, 1), (-2, -1)))


def walk(bands: list, priors: dict, cmag: np.ndarray, visit_ll, visit_pass, context: int = 1,
         channels: int = 3, observe=None) -> Counts:
    """Run one tile's passes in decode order.

    visit_ll(counts) → (channels,h,w) LL indices; visit_pass(b, ch, part, rows, counts) → (idx (n,), escq (n,4))
    for the vectors of band b, channel ch selected by the bool mask part (hv,wv), with table rows (n,).
    cmag (N_CLASSES, NC, 4) int: rounded magnitudes of the codewords; `context` the version (above).
    `channels` 1 runs the luma's passes only (a greyscale image): they read no chroma, so they are
    the same passes, with the same rows, as in a colour tile. Context 4 only: `observe(b, ch, part, group,
    F)`, if given, sees each pass's features F (n, ACT_NF) int64 (zero where its group does not read them)
    before visit_pass (the design fits the weights on them).
    Returns the final counts."""
    check_context(context)
    counts = Counts(priors, context)
    visit_ll(counts)
    coeff_mag, vec_mag = {}, {}
    sub_rows = rows_per_band(context)
    if context >= 4:
        act = act_table(priors)
        act[:2, [ACT_FEATURES.index(f) for f in ACT_NON_ANCHOR]] = 0  # anchors never read their own channel
        need = {f for f, used in zip(ACT_FEATURES, act.any(0)) if used or observe is not None}
    for b, band in enumerate(bands[1:], start=1):
        hv, wv = band.shape[0] // 2, band.shape[1] // 2
        parent = coeff_mag[band.parent] if band.parent is not None else np.zeros((channels, hv, wv), np.int64)
        siblings = ORIENTATIONS.index(band.orientation)  # bands of this level decoded before this one
        sibling = sum((vec_mag[b - k] for k in range(1, siblings + 1)), np.zeros((channels, hv, wv), np.int64))
        anchor = checkerboard(hv, wv)
        part_of = (np.arange(hv) * SPLITS // max(hv, 1))[:, None]
        parts = [(half is anchor, part) for half in (anchor, ~anchor) for k in range(SPLITS)
                 if (part := half & (part_of == k)).any()]
        vmag = np.zeros((channels, hv, wv), np.int64)
        mags = np.zeros((channels, hv, wv, 4), np.int64)
        for ch in range(channels):
            cls = vq_class(band.level, band.orientation, ch)
            cross = None
            if context >= 4:
                feats, activity = _static_features(need, band, ch, parent, sibling, vmag, vec_mag), {}
            else:
                base = 2 * parent[ch] + 2 * vmag[:ch].sum(0)
                if context >= 2:
                    base = base + cross_sum(parent[ch]) // 2 + sibling[ch]
            for is_anchor, part in parts:
                if context >= 4:
                    group = (0 if is_anchor else 2) + (ch > 0)
                    if group not in activity:
                        if not is_anchor:  # the anchors are all known now, and no later pass changes them
                            _anchor_features(need, feats, vmag[ch] * anchor)
                        activity[group] = _activity(act[group], feats)
                    sub = (0 if is_anchor else ACT_NB) + act_bucket(activity[group][part])
                    if observe is not None:
                        observe(b, ch, part, group, np.stack([feats[f][part] if (f in feats and not (
                            is_anchor and f in ACT_NON_ANCHOR)) else np.zeros(sub.size, np.int64) for f in ACT_FEATURES], -1))
                elif is_anchor:
                    sub = bucket(base[part])
                else:
                    if cross is None:  # the anchors are all known now, and no later pass changes them
                        cross = cross_sum(vmag[ch] * anchor) + base
                    sub = NB + bucket(cross[part])
                rows = ((b - 1) * 3 + ch) * sub_rows + sub
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
        coeff_mag[b] = np.minimum(mags.reshape(channels, hv, wv, 2, 2).swapaxes(2, 3).reshape(channels, 2 * hv, 2 * wv), MAG_CAP)
    return counts


def _static_features(need: set, band: Band, ch: int, parent: np.ndarray, sibling: np.ndarray, vmag: np.ndarray,
                     vec_mag: dict) -> dict:
    """Context 4's features of channel ch of a band that are known before its first pass (hv,wv) int64:
    those in `need` of all but cross and ring."""
    f = {"parent": parent[ch], "sibling": sibling[ch]}
    if "pnb" in need:
        f["pnb"] = cross_sum(parent[ch])
    if need & {"colour", "colnb"}:
        f["colour"] = vmag[:ch].sum(0)
        if "colnb" in need:
            f["colnb"] = cross_sum(f["colour"])
    if "sibnb" in need:
        f["sibnb"] = cross_sum(sibling[ch])
    if "pvec" in need:
        f["pvec"] = (np.repeat(np.repeat(vec_mag[band.parent][ch], 2, 0), 2, 1) if band.parent is not None
                     else np.zeros_like(parent[ch]))
    return f


def _anchor_features(need: set, feats: dict, am: np.ndarray) -> None:
    """Context 4's features of a channel's non-anchors read from its anchors' magnitudes am (hv,wv)."""
    if "cross" in need:
        feats["cross"] = cross_sum(am)
    if "ring" in need:
        feats["ring"] = _ring(am)


def _activity(weights: np.ndarray, feats: dict) -> np.ndarray:
    """⌊Σ aᵢ·fᵢ / ACT_DIV⌋ over a band's grid (hv,wv), int64."""
    out = np.zeros_like(feats["parent"])
    for f, a in zip(ACT_FEATURES, weights):
        if a:
            out += int(a) * feats[f]
    return out // ACT_DIV
