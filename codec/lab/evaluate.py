"""Measure trained presets in the same units, on the same held-out patches (`ibc lab eval`):

- rate, bits per 32×32 patch: (A)/ln 2 for the Gaussian encoders (what a bits-back or reverse-channel
  coder pays for z ~ q(z|x)); H(Ẑ) = −Σ log2 P(indices) of the real indices under the learned prior for
  the VQ; 0 for the GAN (its z does not depend on x); none for a deterministic continuous z (I(X;Z) = H(Z)
  is unbounded), which sits on the distortion–perception panel only.
- distortion: MSE (8-bit) and PSNR (per patch, then the mean) of the reconstruction the rate pays for:
  g(z), z ~ q(z|x) (the VAEs), g([ẑ, u]) (VQ), g(z) with z ~ p(z) independent of x (the GAN: the rate-0
  point of the rate–distortion plane).
- perception: the calibrated classifier two-sample test of the generative work (codec.evaluation.c2st,
  unconditional, 32-px patches): a small CNN trained from scratch on half of the patches, original against
  reconstruction, its accuracy on the other half; 0.5 is indistinguishable (a copy scores exactly 0.5), with
  the exact 95 % threshold of the null, and a real-against-real run on disjoint patches as a check. SWD
  (codec.metrics.SlicedWasserstein) as a second opinion. Both for reconstructions and for samples g(z),
  z ~ p(z) (paired with the originals only by index).
- the latent marginal: MMD² (models.losses.term_b_mmd) between encoded z and samples of p(z) = N(0, I).
- novelty (presets with B, C and D): AUROC of held-out photo patches against noise, renders of shapes and
  rendered text, scored by D's discriminator (−r(x), the paper's "output of term D"), by C (the L1
  reconstruction error) and by the latent's −log p(z); optionally beside `ibc score` on the same crops.
"""
import json
import time
from pathlib import Path

import numpy as np
import torch

from ...models.losses import term_b_mmd
from ..image_io import write_atomic
from ..metrics import SlicedWasserstein, psnr_of_mse
from ..training.pool_loop import to_tensor
from .data import box_down, outliers
from .train import load_run, val_pool

PATCHES = 1024       # held-out patches per measure
GRID = 8             # reconstructions and samples per preset in the grid
NOVELTY = 300        # inliers and outliers of each kind for the AUROC
C2ST_STEPS = None    # the C2ST's Adam steps per fold (None: its own default)


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B,3,H,W) in [0,1] → (B,H,W,3) uint8."""
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).numpy()


def c2st(real: np.ndarray, fake: np.ndarray, seed: int = 0) -> dict:
    """The house's calibrated C2ST (codec.evaluation.c2st) on (N,32,32,3) uint8 patch sets, fake[i] in
    place of real[i], each patch an image of its own (split into folds by patch): held-out accuracy, 0.5
    when indistinguishable, with its exact 95 % null threshold."""
    from ..evaluation.c2st import c2st as judge
    extra = {"steps": C2ST_STEPS} if C2ST_STEPS else {}
    with torch.enable_grad():  # it trains a network, also when measured under no_grad
        r = judge(list(real), list(fake), patch=real.shape[1], seed=seed, **extra)
    return {"accuracy": round(r.accuracy, 4), "test": r.n_test, "null_95": round(r.threshold95, 4)}


def auroc(outlier_scores, inlier_scores) -> float:
    """P(an outlier scores above an inlier) + ½ P(a tie): the area under the ROC curve (Mann–Whitney)."""
    a, b = np.asarray(outlier_scores, float), np.asarray(inlier_scores, float)
    greater = (a[:, None] > b[None]).mean()
    ties = (a[:, None] == b[None]).mean()
    return round(float(greater + 0.5 * ties), 4)


def _psnr(x8: np.ndarray, y8: np.ndarray) -> tuple[float, float]:
    mse = ((x8.astype(np.float64) - y8) ** 2).mean((1, 2, 3))
    return float(mse.mean()), float(np.mean([psnr_of_mse(max(m, 1e-12)) for m in mse]))


@torch.no_grad()
def measure(net, x8: np.ndarray, swd: SlicedWasserstein, seed: int = 0) -> tuple[dict, dict]:
    """The figures of one trained network on held-out patches x8 (N,32,32,3) uint8, and the arrays the
    plots need (grid rows, latent samples)."""
    p = net.preset
    torch.manual_seed(seed)
    x = to_tensor(x8)
    enc = [net.encode(x[k:k + 256]) for k in range(0, len(x), 256)]
    cat = {key: torch.cat([e[key] for e in enc]) for key in enc[0] if enc[0][key].dim() > 0}
    u = torch.randn(len(x), p.noise) if p.noise else None
    x_hat = net.decode(cat["z"], u)
    rec8, smp8 = to_uint8(x_hat), to_uint8(net.sample(len(x)))
    mse, psnr = _psnr(x8, rec8)
    row = {"mse": round(mse, 3), "psnr": round(psnr, 3), "rate_bits": None}
    if p.encoder == "gauss":
        kl = 0.5 * (cat["mu"] ** 2 + cat["logvar"].exp() - 1 - cat["logvar"]).sum(1)
        row["rate_bits"] = round(float(kl.mean()) / np.log(2), 3)
        mean8 = to_uint8(net.decode(cat["mu"], u))
        row["psnr_mean_decode"] = round(_psnr(x8, mean8)[1], 3)
    elif p.encoder == "vq":
        bits = -torch.log2(cat["likelihoods"]).sum(1)
        row["rate_bits"] = round(float(bits.mean()), 3)
        counts = [np.bincount(cat["indices"][:, g].numpy(), minlength=p.vq_size) for g in range(net.vq.groups)]
        row["empirical_entropy_bits"] = round(float(sum(
            -(c[c > 0] / c.sum() * np.log2(c[c > 0] / c.sum())).sum() for c in counts)), 3)
        row["bits_bound"] = net.vq.groups * float(np.log2(p.vq_size))
    elif p.encoder == "none":
        row["rate_bits"] = 0.0
    row["c2st"] = c2st(x8, rec8, seed)
    row["c2st_samples"] = c2st(x8, smp8, seed)
    row["swd"] = round(swd.distance(list(rec8))[0], 4)
    row["swd_samples"] = round(swd.distance(list(smp8))[0], 4)
    z = None
    if p.encoder in ("gauss", "deterministic"):
        z = cat["z"]
        row["latent_mmd"] = round(float(term_b_mmd(z[:1024], torch.randn(min(len(z), 1024), z.shape[1]))), 5)
    pick = np.linspace(0, len(x8) - 1, GRID).round().astype(int)
    arrays = {"recon": rec8[pick], "samples": smp8[:GRID]}
    if z is not None:
        arrays["z"] = z.numpy().astype(np.float16)
    return row, arrays


@torch.no_grad()
def novelty(net, inliers_full: np.ndarray, downscale: int, scorer=None, seed: int = 0) -> dict:
    """AUROC of inliers (held-out photo crops, full resolution) against each kind of outlier, by the lab's
    scores and, with `scorer` (codec.score.Scorer), by `ibc score` on the same full-resolution crops."""
    side = inliers_full.shape[1] // downscale
    kinds = outliers(len(inliers_full), side, downscale, seed)
    sets = {"photos": (inliers_full, box_down(inliers_full, downscale)), **kinds}

    def lab_scores(x8: np.ndarray) -> dict:
        x = to_tensor(x8)
        z = net.encode(x)["z"]
        x_hat = net.decode(z)
        out = {"C": (x - x_hat).abs().sum((1, 2, 3)).numpy(), "z": 0.5 * z.pow(2).sum(1).numpy()}
        if net.disc_x is not None:
            out["D"] = (-net.disc_x(x)).numpy()
        return out

    scores = {name: lab_scores(patches) for name, (_, patches) in sets.items()}
    result = {"inliers": len(inliers_full), "per_kind": len(inliers_full), "auroc": {}}
    for score in scores["photos"]:
        per = {kind: auroc(scores[kind][score], scores["photos"][score]) for kind in kinds}
        per["all"] = auroc(np.concatenate([scores[k][score] for k in kinds]), scores["photos"][score])
        result["auroc"][score] = per
    if scorer is not None:
        t = time.time()
        ibc = {name: np.array([scorer.score(im).novelty for im in full]) for name, (full, _) in sets.items()}
        per = {kind: auroc(ibc[kind], ibc["photos"]) for kind in kinds}
        per["all"] = auroc(np.concatenate([ibc[k] for k in kinds]), ibc["photos"])
        result["auroc"]["ibc score"] = per
        result["ibc_score_seconds"] = round(time.time() - t, 1)
    return result


def evaluate(runs: list[Path], out: Path, score: bool = False, say=lambda m: None) -> dict:
    """Measure each run folder; write OUT (JSON) and OUT with .npz (the grid's patches and latent samples)."""
    torch.set_num_threads(1)
    report = {"what": __doc__.split("\n\n")[0], "patches": PATCHES, "presets": {}}
    arrays, pools = {}, {}
    for run in runs:
        t = time.time()
        net, state = load_run(run)
        cfg = state["config"]
        key = json.dumps({k: cfg[k] for k in ("data", "crops", "val_crops", "downscale", "seed", "limit", "pool")})
        if key not in pools:
            val = val_pool(state)
            order = np.random.default_rng(0).permutation(len(val["x"]))[:PATCHES]
            x8 = val["x"][order]
            pools[key] = (val, x8, SlicedWasserstein(list(x8), patches=16))
            if "originals" not in arrays:
                arrays["originals"] = x8[np.linspace(0, len(x8) - 1, GRID).round().astype(int)]
                report["c2st_calibration"] = c2st(x8[:len(x8) // 2], x8[len(x8) // 2:])
        val, x8, swd = pools[key]
        row, a = measure(net, x8, swd)
        p = net.preset
        row.update({"system": p.system, "equation": p.equation, "formula": p.formula, "weights": p.weights,
                    "encoder": p.encoder, "b_estimator": p.b_estimator, "d_form": p.d_form if p.uses("D") else None,
                    "beta": p.beta, "beta_d": p.beta_d, "shows": p.shows, "departures": p.departures,
                    "steps": state["step"], "train_cpu_seconds": round(state["train_seconds"], 1), "run": str(run)})
        if p.uses("B") and p.uses("C") and p.uses("D"):
            scorer = None
            if score:
                from ..score import Scorer
                scorer = Scorer()
            ids = np.random.default_rng(1).permutation(len(val["full"]))[:NOVELTY]
            row["novelty"] = novelty(net, val["full"][ids], cfg["downscale"], scorer)
        report["presets"][p.name] = row
        arrays.update({f"{p.name}/{k}": v for k, v in a.items()})
        say(f"{p.name}: rate {row['rate_bits']} bits, PSNR {row['psnr']:.2f} dB, C2ST {row['c2st']['accuracy']:.3f} "
            f"(samples {row['c2st_samples']['accuracy']:.3f}) in {time.time() - t:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(out, (json.dumps(report, indent=1, ensure_ascii=False) + "\n").encode(), force=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out.with_suffix(".npz"))
    return report
