"""Design measurements for a wavelet codec: scalar vs vector quantisation, and which entropy contexts pay.

No training by gradient: `models.wavelet` at init (orthonormal colour matrix + 5-level CDF 9/7, subbands
normalised to unit synthesis energy, so one step serves every subband), then
  1. a dead-zone scalar quantiser, one step u = y/step (the closed-form probe, redone in torch);
  2. entropy-constrained VQ (Chou, Lookabaugh & Gray 1989) of 2×2 blocks within a subband, one codebook
     per (level, orientation, luma/chroma) in units of the step, started from the scalar grid's products
     {-0.9, 0, 0.9}⁴ plus an escape to the scalar quantiser, so it starts exactly as the scalar one;
  3. code lengths of the index streams under candidate discrete contexts.
Code lengths are exact ideal lengths of adaptive arithmetic coders from counts: per image KT (no prior),
or a Dirichlet prior from tables counted on training images ("trained"), or the same tables with counts
updated only between passes ("per pass": what a vectorised range coder can decode).
Anchors (Pillow JPEG, WebP method 6, JPEG 2000 mct=1) are coded in the same run on the same crops.

Validation: BSDS500's own validation images (codec.dataset.split_train_val), never Kodak; tables and
codebooks come from training images only. Writes bench/v2_probe.md below its results marker.
Usage: OMP_NUM_THREADS=1 python bench/v2_probe.py [N_VAL N_TRAIN]
"""
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import gammaln

from ibc.codec.evaluation.classical import CODECS
from ibc.codec.dataset import list_images, load_rgb, split_train_val
from ibc.codec.metrics import psnr
from ibc.codec.evaluation.plot import bd_rate
from ibc.models.wavelet import WaveletTransform

DATA = Path("/work/shared/data/train")
OUT = Path(__file__).with_suffix(".md")
MARKER = "<!-- everything below is written by bench/v2_probe.py -->"
LEVELS = 5
STEPS = (160, 112, 80, 56, 40, 28, 20)
K = 18                 # scalar |q| alphabet 0..16, 17 = escape to Exp-Golomb
DZ, BIAS = 0.2, 0.1    # dead zone of the quantiser, reconstruction bias towards zero (as the probe)
PRIOR = 16.0           # weight of a trained table row, in symbols, when it is the adaptive coder's prior
LMBDAS = (0.08, 0.12)  # ECVQ Lagrangians in step² per bit; 2 ln2/12 ≈ 0.116 is a uniform quantiser's slope
EDGES = (0.5, 1.5, 2.5, 4.5, 8.5, 16.5)
NB = len(EDGES) + 1    # activity buckets
LN2 = np.log(2)
T = WaveletTransform(LEVELS).double()


# --- images ---------------------------------------------------------------------------------------
def load(paths):
    """Centre crops to multiples of 2·2^levels (so that level-5 subbands split into 2×2 blocks)."""
    m = 2 << LEVELS
    out = []
    for p in paths:
        x = load_rgb(p).numpy().transpose(1, 2, 0)
        H, W = x.shape[0] // m * m, x.shape[1] // m * m
        t, l = (x.shape[0] - H) // 2, (x.shape[1] - W) // 2
        out.append(np.ascontiguousarray(x[t:t + H, l:l + W]))
    return out


def analysis(img):
    with torch.no_grad():
        return T(torch.from_numpy(img.transpose(2, 0, 1)).double()[None])[0].numpy()


def synthesis(y):
    with torch.no_grad():
        x = T.inverse(torch.from_numpy(y)[None])[0].numpy().transpose(1, 2, 0)
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def bands(H, W):
    """[(level, orientation, rows, cols, parent band index or None)], coarsest first."""
    sb = T.wavelet.subbands(H, W)
    where = {(lv, o): i for i, (lv, o, _, _) in enumerate(sb)}
    return [(lv, o, r, c, where.get((lv + 1, o))) for lv, o, r, c in sb]


# --- quantisers -----------------------------------------------------------------------------------
def quant(u):
    return (np.sign(u) * np.floor(np.abs(u) + 0.5 - DZ)).astype(np.int64)


def dequant(q):
    return np.sign(q) * np.maximum(np.abs(q) - BIAS, 0)


def blocks(a):
    """(..., h, w) → (..., h/2, w/2, 4): the 2×2 vectors of a subband."""
    *lead, h, w = a.shape
    return a.reshape(*lead, h // 2, 2, w // 2, 2).swapaxes(-3, -2).reshape(*lead, h // 2, w // 2, 4)


def unblocks(v):
    *lead, h, w, _ = v.shape
    return v.reshape(*lead, h, w, 2, 2).swapaxes(-3, -2).reshape(*lead, 2 * h, 2 * w)


def scalar_bits_estimate(q):
    """Bits of scalar symbols under a marginal table: (K,) per |q| bucket, plus sign bits."""
    sym = np.minimum(np.abs(q), K - 1).ravel()
    p = (np.bincount(sym, minlength=K) + 0.5) / (sym.size + K / 2)
    return -np.log2(p) + (np.arange(K) > 0)


class ECVQ:
    """Per-class codebooks (in units of the step) of 2×2 blocks; codeword NC = escape to the scalar grid.

    Assignment minimises ‖v - c_k‖² + λ·bits(k) over the codewords and the escape (whose cost is the
    scalar quantiser's squared error plus λ times its symbols' bits), so a codebook that has not moved
    reproduces the scalar quantiser, and every design iteration can only lower D + λR on training data.
    """

    def __init__(self, lmbda):
        self.lmbda = lmbda
        grid = np.array(np.meshgrid(*[[-(1 - BIAS), 0.0, 1 - BIAS]] * 4, indexing="ij")).reshape(4, -1).T
        self.init = grid  # (81,4): every product of scalar reconstruction levels in {-1, 0, 1}
        self.books, self.bits, self.sbits = {}, {}, {}

    def _assign(self, v, cls):
        C, b, sb = self.books[cls], self.bits[cls], self.sbits[cls]
        q = quant(v)
        esc_cost = ((v - dequant(q)) ** 2).sum(-1) + self.lmbda * (b[-1] + sb[np.minimum(np.abs(q), K - 1)].sum(-1))
        d = (v ** 2).sum(-1, keepdims=True) - 2 * v @ C.T + (C ** 2).sum(-1)
        cost = np.concatenate([d + self.lmbda * b[:-1], esc_cost[..., None]], -1)
        return cost.argmin(-1), q

    def fit(self, vectors, iters=12):
        """vectors: {class: (N,4) training blocks in step units, pooled over steps}."""
        for cls, v in vectors.items():
            n = len(self.init) + 1
            self.books[cls] = self.init.copy()
            self.sbits[cls] = scalar_bits_estimate(quant(v))
            # start at the scalar quantiser's own frequencies of each product codeword
            q = quant(v)
            inside = (np.abs(q) <= 1).all(-1)
            code = ((q + 1) * 3 ** np.arange(3, -1, -1)).sum(-1)
            counts = np.bincount(np.where(inside, code, n - 1), minlength=n)
            self.bits[cls] = -np.log2((counts + 0.5) / (counts.sum() + n / 2))
            for _ in range(iters):
                idx, _ = self._assign(v, cls)
                counts = np.bincount(idx, minlength=n)
                sums = np.zeros((n, 4))
                np.add.at(sums, idx, v)
                used = counts[:-1] > 0
                self.books[cls][used] = sums[:-1][used] / counts[:-1][used, None]
                self.bits[cls] = np.where(counts > 0, -np.log2(np.maximum(counts, 1) / counts.sum()), 40.0)
        return self

    def quantise(self, v, cls):
        """v (...,4) → indices (...) in 0..NC (NC = escape), reconstruction (...,4), scalar q (...,4)."""
        idx, q = self._assign(v, cls)
        esc = idx == len(self.init)
        rec = np.where(esc[..., None], dequant(q), self.books[cls][np.minimum(idx, len(self.init) - 1)])
        return idx, rec, np.where(esc[..., None], q, 0)


# --- contexts -------------------------------------------------------------------------------------
def bucket(m):
    return np.digitize(m, EDGES)


def features(a, parent):
    """a (3,h,w) decoded magnitudes of one subband, parent (3,h,w) the parent's, aligned (or zeros).

    raster: left + up + up-left + up-right (causal in raster order within the band);
    cross:  up + down + left + right anchors, for non-anchors of a two-pass checkerboard;
    colour: earlier colour channels at the same place (Co reads Y, Cg reads Y and Co)."""
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)))
    raster = p[:, 1:-1, :-2] + p[:, :-2, 1:-1] + p[:, :-2, :-2] + p[:, :-2, 2:]
    h, w = a.shape[1:]
    anchor = (np.add.outer(np.arange(h), np.arange(w)) % 2 == 0)[None].repeat(3, 0)
    pa = np.pad(a * anchor, ((0, 0), (1, 1), (1, 1)))
    cross = pa[:, :-2, 1:-1] + pa[:, 2:, 1:-1] + pa[:, 1:-1, :-2] + pa[:, 1:-1, 2:]
    colour = np.stack([np.zeros_like(a[0]), a[0], a[0] + a[1]])
    return dict(raster=raster, cross=cross, anchor=anchor, parent=parent, colour=colour)


VARIANTS = {  # name → context within the class, from the features f (all causal in the decode order)
    "subband class alone": lambda f: 0 * f["parent"],
    "+ raster neighbours": lambda f: bucket(f["raster"]),
    "+ parent": lambda f: bucket(2 * f["parent"]),
    "+ earlier colour channels": lambda f: bucket(2 * f["colour"]),
    "+ raster + parent (the probe)": lambda f: bucket(f["raster"] + 2 * f["parent"]),
    "+ parent + colour (one pass per band)": lambda f: bucket(2 * f["parent"] + 2 * f["colour"]),
    "+ checkerboard + parent": lambda f: np.where(f["anchor"], bucket(2 * f["parent"]),
                                                  NB + bucket(f["cross"] + 2 * f["parent"])),
    "+ raster + parent + colour": lambda f: bucket(f["raster"] + 2 * f["parent"] + 2 * f["colour"]),
    "+ checkerboard + parent + colour": lambda f: np.where(
        f["anchor"], bucket(2 * f["parent"] + 2 * f["colour"]),
        NB + bucket(f["cross"] + 2 * f["parent"] + 2 * f["colour"])),
}
SUB = 2 * NB  # contexts per class


def streams(a, layout, variant, offset=0):
    """Per band and channel: class, context, pass id of every symbol, in decode order.
    a: (3,H,W) magnitudes per coefficient in the Mallat layout (or per vector, on the vector grid)."""
    cls, ctx, passes = [], [], []
    for b, (lv, o, r, c, par) in enumerate(layout):
        band = a[:, r, c]
        if par is None:
            parent = np.zeros_like(band)
        else:
            pr, pc = layout[par][2], layout[par][3]
            parent = a[:, pr, pc]
            if parent.shape != band.shape:
                parent = np.kron(parent, np.ones((1, 2, 2), dtype=band.dtype))
        f = features(band, parent)
        sub = VARIANTS[variant](f)
        k = (offset + b) * 3 + np.arange(3).reshape(3, 1, 1) + 0 * sub
        cls.append(k.ravel()); ctx.append((k * SUB + sub).ravel())
        passes.append((k * 2 + (~f["anchor"])).ravel())  # (band, channel, checkerboard half)
    return np.concatenate(cls), np.concatenate(ctx), np.concatenate(passes)


# --- code lengths ---------------------------------------------------------------------------------
def extra_bits(q):
    """Sign bits and Exp-Golomb escapes of scalar indices: the same for every context choice."""
    a = np.abs(q).ravel()
    esc = a[a >= K - 1] - (K - 1)
    return float((a > 0).sum() + (2 * np.floor(np.log2(esc + 1)) + 1).sum())


def table(sym, ctx, n_ctx, k):
    t = np.bincount(ctx * k + sym, minlength=n_ctx * k).reshape(n_ctx, k)
    return t.astype(float)


def dirichlet_bits(counts, alpha):
    """Ideal adaptive code length of every row of counts under a Dirichlet(alpha) prior (KT: alpha=1/2)."""
    A, n = alpha.sum(-1), counts.sum(-1)
    rows = gammaln(n + A) - gammaln(A) - (gammaln(counts + alpha) - gammaln(alpha)).sum(-1)
    return float(rows[n > 0].sum() / LN2)


def prior_from(train_counts):
    """A trained table as the adaptive coder's prior: PRIOR symbols' worth, shaped like the training
    frequencies (a row never seen in training is uniform)."""
    k = train_counts.shape[-1]
    return PRIOR * (train_counts + 0.5) / (train_counts.sum(-1, keepdims=True) + k / 2)


def per_pass_bits(sym, ctx, passes, alpha):
    """Code length when the counts of a context only grow between passes (a vectorisable decoder)."""
    k = alpha.shape[-1]
    order = np.argsort(passes, kind="stable")
    sym, ctx, passes = sym[order], ctx[order], passes[order]
    bits = 0.0
    counts = alpha.copy()
    starts = np.flatnonzero(np.r_[True, passes[1:] != passes[:-1], True])
    for s, e in zip(starts[:-1], starts[1:]):
        c, x = ctx[s:e], sym[s:e]
        bits -= np.log2(counts[c, x] / counts[c].sum(-1)).sum()
        np.add.at(counts, (c, x), 1)
    return float(bits)


# --- the codecs: index streams of one image at one step -------------------------------------------
def scalar_code(img, step):
    y = analysis(img)
    q = quant(y / step)
    return {"q": q, "rec": synthesis(dequant(q) * step), "layout": bands(*y.shape[1:])}


def scalar_streams(code, variant):
    q = code["q"]
    cls, ctx, passes = streams(np.abs(q), code["layout"], variant)
    sym = np.concatenate([np.minimum(np.abs(q[:, r, c]), K - 1).ravel() for _, _, r, c, _ in code["layout"]])
    return [(sym, ctx, passes, K)], extra_bits(q)


def vq_class(lv, o, ch):
    return (lv, o, min(ch, 1))


def vq_code(img, step, vq):
    y = analysis(img)
    u = y / step
    layout = bands(*y.shape[1:])
    rec = dequant(quant(u))  # LL stays scalar
    out = {"layout": layout, "idx": {}, "escq": {}}
    for lv, o, r, c, _ in layout[1:]:
        for ch in range(3):
            idx, v, escq = vq.quantise(blocks(u[ch, r, c]), vq_class(lv, o, ch))
            rec[ch, r, c] = unblocks(v)
            out["idx"][lv, o, ch], out["escq"][lv, o, ch] = idx, escq
    out["q"] = quant(u)
    out["rec"] = synthesis(rec * step)
    out["mag"] = np.floor(np.abs(rec) + 0.5).astype(np.int64)  # what the decoder knows, per coefficient
    return out


def vq_streams(code, variant, n_codes):
    """LL: scalar symbols. Detail bands: one symbol per 2×2 vector, contexts from vector magnitudes
    (sum of its 4 decoded magnitudes) and the parent coefficient at the vector's place; escaped
    vectors add 4 scalar symbols, coded per class × the vector's context bucket."""
    layout, mag = code["layout"], code["mag"]
    H, W = mag.shape[1:]
    ll = layout[:1]
    q_ll = code["q"][:, ll[0][2], ll[0][3]]
    _, ctx_ll, pass_ll = streams(mag, ll, variant)
    vec_layout = [(lv, o, slice(r.start // 2, r.stop // 2), slice(c.start // 2, c.stop // 2), p)
                  for lv, o, r, c, p in layout]
    vmag = blocks(mag).sum(-1)  # (3,H/2,W/2): per 2×2 block of the Mallat layout = per vector
    # parent coefficient of each vector: the parent band's coefficient at the vector's place
    par_mag = np.zeros_like(vmag)
    for lv, o, r, c, p in vec_layout[1:]:
        if p is not None:
            pr, pc = layout[p][2], layout[p][3]
            par_mag[:, r, c] = mag[:, pr, pc]
    sym, ctx, passes, esc_sym, esc_ctx = [], [], [], [], []
    for b, (lv, o, r, c, p) in enumerate(vec_layout[1:], start=1):
        f = features(vmag[:, r, c], par_mag[:, r, c])
        sub = VARIANTS[variant](f)
        for ch in range(3):
            k = b * 3 + ch
            idx, escq = code["idx"][lv, o, ch], code["escq"][lv, o, ch]
            sym.append(idx.ravel()); ctx.append((k * SUB + sub[ch]).ravel())
            passes.append((k * 2 + ~f["anchor"][ch]).ravel())
            e = idx == n_codes
            esc_sym.append(np.minimum(np.abs(escq[e]), K - 1).ravel())
            esc_ctx.append(np.repeat(k * NB + bucket(f["raster"][ch] + 2 * f["parent"][ch])[e], 4))
    sym_ll = np.minimum(np.abs(q_ll), K - 1).ravel()
    escq_all = np.concatenate([code["escq"][key][code["idx"][key] == n_codes].ravel() for key in code["idx"]])
    extra = extra_bits(q_ll) + extra_bits(escq_all)
    esc_sym, esc_ctx = np.concatenate(esc_sym), np.concatenate(esc_ctx)
    return [(sym_ll, ctx_ll, pass_ll, K),
            (np.concatenate(sym), np.concatenate(ctx), np.concatenate(passes), n_codes + 1),
            (esc_sym, esc_ctx, np.zeros_like(esc_ctx), K)], extra


N_CLASSES = 3 * (3 * LEVELS + 1)


def measure(codes, streams_of, train_tables=None):
    """Mean bpp under (KT per image, trained prior, trained prior + per-pass counts); returns also the
    training tables when called on training codes."""
    bits = np.zeros(3)
    acc = None
    for img, code in codes:
        parts, extra = streams_of(code)
        if acc is None:
            acc = [np.zeros((N_CLASSES * SUB, k)) for *_, k in parts]
        for i, (sym, ctx, passes, k) in enumerate(parts):
            counts = table(sym, ctx, N_CLASSES * SUB, k)
            acc[i] += counts
            kt = dirichlet_bits(counts, np.full_like(counts, 0.5))
            if train_tables is None:
                trained = per_pass = kt
            else:
                alpha = prior_from(train_tables[i])
                trained = dirichlet_bits(counts, alpha)
                per_pass = per_pass_bits(sym, ctx, passes, alpha)
            bits += np.array([kt, trained, per_pass])
        bits += extra
    pixels = sum(img.shape[0] * img.shape[1] for img, _ in codes)
    return bits / pixels, acc


# --- run --------------------------------------------------------------------------------------------
def anchor_curves(imgs):
    curves = {}
    for name in ("jpeg", "webp", "jpeg2000"):
        codec, pts = CODECS[name], []
        for setting in codec.sweep:
            bpp, ps = [], []
            for im in imgs:
                data = codec.encode(im, setting)
                bpp.append(len(data) * 8 / (im.shape[0] * im.shape[1]))
                ps.append(psnr(im, codec.decode(data)))
            pts.append((float(np.mean(bpp)), float(np.mean(ps))))
        curves[codec.label] = pts
    return curves


def bd(anchor, test):
    a, t = sorted(anchor), sorted(test)
    v = bd_rate([p[0] for p in a], [p[1] for p in a], [p[0] for p in t], [p[1] for p in t])
    return "n/a" if v is None else f"{v:+.1f} %"


def main():
    torch.set_num_threads(1)
    n_val, n_train = (int(a) for a in sys.argv[1:3]) if len(sys.argv) > 2 else (24, 30)
    train_files, val_files = split_train_val(list_images(DATA))
    rng = np.random.default_rng(0)
    val = load(val_files[:n_val])
    train = load([train_files[i] for i in sorted(rng.choice(len(train_files), n_train, replace=False))])
    t0 = time.time()
    log = lambda *a: print(f"[{time.time() - t0:6.1f} s]", *a, flush=True)
    log(f"{len(val)} validation images ({val[0].shape[1]}×{val[0].shape[0]} …), {len(train)} training images")
    anchors = anchor_curves(val)
    log("anchors", {k: [f"{b:.3f}/{p:.2f}" for b, p in v] for k, v in anchors.items()})

    # 1. scalar quantiser, every context variant
    sc_train = {s: [(im, scalar_code(im, s)) for im in train] for s in STEPS}
    sc_val = {s: [(im, scalar_code(im, s)) for im in val] for s in STEPS}
    val_psnr = {s: float(np.mean([psnr(im, c["rec"]) for im, c in sc_val[s]])) for s in STEPS}
    ctx_rows = {}
    for variant in VARIANTS:
        of = lambda code: scalar_streams(code, variant)
        tables = None
        for s in STEPS:  # tables pooled over every step: one table set for every rate
            _, t = measure(sc_train[s], of)
            tables = t if tables is None else [a + b for a, b in zip(tables, t)]
        ctx_rows[variant] = {s: measure(sc_val[s], of, tables)[0] for s in STEPS}
        log(variant, " ".join(f"{ctx_rows[variant][s][0]:.3f}" for s in STEPS))

    # 2. ECVQ, for each λ, with the probe's contexts and the best one-/two-pass contexts
    vq_variants = ("+ raster + parent (the probe)", "+ checkerboard + parent + colour")
    vq_rows, vq_psnr = {}, {}
    for lmbda in LMBDAS:
        vectors = {}
        for im in train:
            y = analysis(im)
            layout = bands(*y.shape[1:])
            for s in STEPS:
                for lv, o, r, c, _ in layout[1:]:
                    for ch in range(3):
                        vectors.setdefault(vq_class(lv, o, ch), []).append(blocks(y[ch, r, c] / s).reshape(-1, 4))
        vectors = {k: np.concatenate(v)[rng.permutation(sum(len(a) for a in v))[:100000]] for k, v in vectors.items()}
        vq = ECVQ(lmbda).fit(vectors)
        n_codes = len(vq.init)
        log(f"ECVQ λ={lmbda}: codewords used per class", int(np.median([(b < 40).sum() for b in vq.bits.values()])))
        vq_train = {s: [(im, vq_code(im, s, vq)) for im in train] for s in STEPS}
        vq_val = {s: [(im, vq_code(im, s, vq)) for im in val] for s in STEPS}
        vq_psnr[lmbda] = {s: float(np.mean([psnr(im, c["rec"]) for im, c in vq_val[s]])) for s in STEPS}
        for variant in vq_variants:
            of = lambda code: vq_streams(code, variant, n_codes)
            tables = None
            for s in STEPS:
                _, t = measure(vq_train[s], of)
                tables = t if tables is None else [a + b for a, b in zip(tables, t)]
            vq_rows[lmbda, variant] = {s: measure(vq_val[s], of, tables)[0] for s in STEPS}
            log(f"VQ λ={lmbda} {variant}", " ".join(f"{vq_rows[lmbda, variant][s][1]:.3f}/{vq_psnr[lmbda][s]:.2f}" for s in STEPS))
    write_report(len(val), len(train), val[0].shape, anchors, val_psnr, ctx_rows, vq_rows, vq_psnr, vq_variants)
    log("wrote", OUT)


def write_report(n_val, n_train, shape, anchors, val_psnr, ctx_rows, vq_rows, vq_psnr, vq_variants):
    L = [MARKER, "", f"## Results ({n_val} BSDS500 validation images, centre crops of {shape[1]}×{shape[0]} or "
         f"{shape[0]}×{shape[1]}; tables and codebooks from {n_train} training images; steps {', '.join(map(str, STEPS))})", ""]
    mode = ["KT per image", "trained prior", "trained prior, per-pass counts"]
    curves = {}
    for variant, rows in ctx_rows.items():
        for m in range(3):
            curves[f"scalar, {variant}, {mode[m]}"] = [(rows[s][m], val_psnr[s]) for s in STEPS]
    for (lmbda, variant), rows in vq_rows.items():
        for m in range(3):
            curves[f"ECVQ λ={lmbda}, {variant}, {mode[m]}"] = [(rows[s][m], vq_psnr[lmbda][s]) for s in STEPS]
    probe = curves["scalar, + raster + parent (the probe), KT per image"]
    L += ["### Rate–distortion against the anchors (code lengths of adaptive coders; anchors are real files)", "",
          "| codec | bpp / PSNR per step | BD vs JPEG | vs WebP | vs JPEG 2000 | vs probe scalar "
          "| vs scalar, same contexts and coder |", "|---|---|---:|---:|---:|---:|---:|"]
    for name, pts in anchors.items():
        L.append(f"| {name} | " + " ".join(f"{b:.3f}/{p:.2f}" for b, p in pts) + " | "
                 + " | ".join(bd(a, pts) for a in anchors.values()) + f" | {bd(probe, pts)} | |")
    shown = [k for k in curves if "(the probe)" in k or "checkerboard + parent + colour" in k]
    for name in shown:
        pts = curves[name]
        same = bd(curves["scalar, " + name.split(", ", 1)[1]], pts) if name.startswith("ECVQ") else ""
        L.append(f"| {name} | " + " ".join(f"{b:.3f}/{p:.2f}" for b, p in pts) + " | "
                 + " | ".join(bd(a, pts) for a in anchors.values()) + f" | {bd(probe, pts)} | {same} |")
    L += ["", "### Contexts: bits of the scalar indices (bpp at each step; PSNR is the same for all rows)", "",
          "| context | " + " | ".join(f"step {s} ({val_psnr[s]:.1f} dB)" for s in STEPS)
          + " | saved vs class alone, KT | trained prior | per-pass counts |", "|---|" + "---:|" * (len(STEPS) + 3)]
    base = ctx_rows["subband class alone"]
    for variant, rows in ctx_rows.items():
        saved = [100 * np.mean([1 - rows[s][m] / base[s][m] for s in STEPS]) for m in range(3)]
        L.append(f"| {variant} | " + " | ".join(f"{rows[s][0]:.3f}" for s in STEPS) + " | "
                 + " | ".join(f"{v:.1f} %" for v in saved) + " |")
    L += ["", "Savings are the mean over steps of 1 − bits/bits(class alone), in each coder mode.", ""]
    open_md = OUT.read_text().split(MARKER)[0] if OUT.exists() else ""
    OUT.write_text(open_md + "\n".join(L) + "\n")


if __name__ == "__main__":
    main()
