"""Realism judged by a test that can fail: the classifier two-sample test (C2ST; Lopez-Paz & Oquab 2017).

A small CNN, trained from scratch, learns to tell 64-pixel patches of the originals from patches of their
reconstructions taken at the same places; its accuracy on patches of images it never saw is the statistic.
A reconstruction the network cannot tell from its original scores 0.5 (an identical copy exactly 0.5: both
patches of a place get the same logit, so one of the two is always right), and heavy compression scores
near 1. The threshold is the one-sided 95 % quantile of the accuracy of a coin over as many test patches.

    originals, reconstructions (paired by index)
        │ images split into two folds by a seeded permutation (by image, never by patch)
        ▼
    fold 0's images ─► random places, the original's and the reconstruction's patch at each ─► CNN₀ ─┐
    fold 1's images ─► … ─► CNN₁ ─┐                                                                    │
        ▼                         │  CNN₁ classifies fold 0's test patches, CNN₀ fold 1's  ◄───────────┘
    accuracy over every test patch of both folds, and its 95 % null threshold

The network sees each patch twice: as it is, and its detail (9 × each pixel less its 3×3 sum, amplified
HF_GAIN times), which lets a short training see blur, blocking and noise that the raw pixels hide under
their content (6 input channels). The conditional form adds, beside each patch (original or reconstruction
alike), the original's low-pass at that place (8×8 block means, upsampled bilinearly): 9 channels. Texture
that is realistic in itself but does not belong at that place (a shifted or invented structure) then counts
against the reconstruction too.

Cost: the training budget is fixed (STEPS × BATCH per fold), so a C2ST takes about the same time on any
set: on Kodak 17 s of a CPU thread on a loaded machine (bench/c2st_calibration.md). The budget was chosen on
BSDS500 validation photos (bench/c2st_budget.md); more steps buy power (500: +0.02 on WebP q 0, +0.08 on
q 50) for time, and `steps` is an argument.
"""
import math
from dataclasses import asdict, dataclass

import numpy as np

PATCH = 64          # patch side: large enough to hold texture and the structure round it
FOLDS = 2           # every image is tested once, by the network trained on the other half of the images
STEPS = 300         # Adam steps per fold: 200 / 300 / 500 score 0.87 / 0.90 / 0.92 on WebP q 0 (bench/c2st_budget.md)
BATCH = 32          # places per step: 32 original and 32 reconstructed patches, balanced by construction
LR = 5e-3           # Adam's, decayed to 0 on a cosine over the steps; 2e-3 scores 0.81 instead of 0.87 in 200 steps
WIDTH = (8, 16, 32)  # of the three stride-2 convolutions (64 → 8 px); twice as wide: 1.6× the time, no surer
LOWPASS = 8         # the conditional form's low-pass: means over 8×8 blocks of the original
HF_GAIN = 8.0       # the detail channels' gain; without them (0) WebP q 0 scores 0.69 instead of 0.90
EVAL_BATCH = 256    # test patches per forward pass


@dataclass(frozen=True)
class C2STResult:
    accuracy: float      # fraction of the held-out patches classified correctly (0.5: indistinguishable)
    threshold95: float   # the accuracy a coin reaches with probability ≤ 5 % over n_test patches (exact binomial)
    n_test: int          # held-out patches, originals and reconstructions alike (half each)
    conditional: bool    # the network also saw the original's low-pass at each patch

    @property
    def distinguishable(self) -> bool:
        """The reconstructions are told apart from the originals at the 5 % level."""
        return self.accuracy >= self.threshold95

    def as_dict(self) -> dict:
        return asdict(self)


def settings() -> dict:
    """The constants a result depends on (for cache keys: a changed judge is never served stale figures)."""
    return {"patch": PATCH, "folds": FOLDS, "steps": STEPS, "batch": BATCH, "lr": LR, "width": list(WIDTH),
            "lowpass": LOWPASS, "hf_gain": HF_GAIN, "version": 1}


def null_threshold(n: int, alpha: float = 0.05) -> float:
    """The smallest accuracy k/n with P(X ≥ k) ≤ alpha for X ~ Binomial(n, 1/2): one-sided, exact."""
    if n < 1:
        raise ValueError("no test patches")
    k = np.arange(n + 1)
    log_pmf = (math.lgamma(n + 1) - np.array([math.lgamma(i + 1) + math.lgamma(n - i + 1) for i in k])
               - n * math.log(2))
    tail = np.cumsum(np.exp(log_pmf)[::-1])[::-1]  # tail[k] = P(X ≥ k)
    return float(np.argmax(tail <= alpha) / n)


def usable(images: list[np.ndarray], patch: int = PATCH) -> list[int]:
    """Indices of the images with room for a patch."""
    return [i for i, im in enumerate(images) if min(im.shape[:2]) >= patch]


def _lowpass(x, factor: int):
    """(3,H,W) uint8 tensor → the same: means over factor×factor blocks (partial ones at the edges),
    upsampled bilinearly back to the full size."""
    import torch
    import torch.nn.functional as F

    h, w = x.shape[1:]
    small = F.adaptive_avg_pool2d(x[None].float(), (math.ceil(h / factor), math.ceil(w / factor)))
    up = F.interpolate(small, size=(h, w), mode="bilinear", align_corners=False)
    return up[0].round().clamp(0, 255).to(torch.uint8)


def _detail(x):
    """(3,H,W) uint8 tensor → (3,H,W) int16: 9 × each pixel less the sum of its 3×3 neighbourhood (edges
    reflected), an exact integer high-pass."""
    import torch
    import torch.nn.functional as F

    padded = F.pad(x[None].float(), (1, 1, 1, 1), mode="reflect")
    return (9 * x.float() - 9 * F.avg_pool2d(padded, 3, 1)[0]).round().to(torch.int16)


def _network(channels: int):
    """Patch channels (C,64,64) → one logit (original: positive): three stride-2 4×4 convolutions (64 → 8 px),
    one 3×3, the mean over positions, a linear layer."""
    from torch import nn

    a, b, c = WIDTH
    act = lambda: nn.LeakyReLU(0.2)  # noqa: E731
    return nn.Sequential(nn.Conv2d(channels, a, 4, 2, 1), act(), nn.Conv2d(a, b, 4, 2, 1), act(),
                         nn.Conv2d(b, c, 4, 2, 1), act(), nn.Conv2d(c, c, 3, 1, 1), act(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c, 1))


class _Pairs:
    """The images of one C2ST as integer tensors, per image: the original and the reconstruction, each with
    its detail, and (conditional) the original's low-pass. `batch` cuts the patches of a list of places."""

    def __init__(self, originals, reconstructions, conditional: bool, patch: int):
        import torch

        self.patch = patch
        chw = lambda im: torch.from_numpy(np.array(im, dtype=np.uint8)).permute(2, 0, 1).contiguous()  # noqa: E731
        self.x = [chw(im) for im in originals]
        self.x_hat = [chw(im) for im in reconstructions]
        self.x_detail = [_detail(t) for t in self.x]
        self.x_hat_detail = [_detail(t) for t in self.x_hat]
        self.cond = [_lowpass(t, LOWPASS) for t in self.x] if conditional else None
        self.channels = 9 if conditional else 6

    def batch(self, places: list[tuple[int, int, int]]):
        """[(image, top, left)] → (2N,C,P,P) float: the N originals' patches, then the N reconstructions';
        and the labels (1: original). Channels: the patch in [-1, 1], HF_GAIN × its detail on the same
        scale, and (conditional) the original's low-pass in [-1, 1]."""
        import torch

        p = self.patch
        cut = lambda ts, i, y, x: ts[i][:, y:y + p, x:x + p]  # noqa: E731
        pixels = torch.stack([cut(self.x, *at) for at in places] + [cut(self.x_hat, *at) for at in places])
        detail = torch.stack([cut(self.x_detail, *at) for at in places]
                             + [cut(self.x_hat_detail, *at) for at in places])
        parts = [pixels.float() / 127.5 - 1, detail.float() * (HF_GAIN / (9 * 127.5))]
        if self.cond is not None:
            cond = torch.stack([cut(self.cond, *at) for at in places])
            parts.append(cond.repeat(2, 1, 1, 1).float() / 127.5 - 1)
        labels = torch.cat([torch.ones(len(places)), torch.zeros(len(places))])
        return torch.cat(parts, dim=1), labels


def _train_places(rng: np.random.Generator, shapes: list[tuple[int, int]], images: list[int], n: int, patch: int):
    """n random places on the training images: an image (in proportion to its area), then a position."""
    area = np.array([shapes[i][0] * shapes[i][1] for i in images], dtype=float)
    picks = rng.choice(len(images), size=n, p=area / area.sum())
    out = []
    for j in picks:
        h, w = shapes[images[j]]
        out.append((images[j], int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1))))
    return out


def _test_places(rng: np.random.Generator, shapes, images: list[int], patch: int, per_image: int | None):
    """The held-out places: by default a grid of non-overlapping patches at a random offset in each image
    (so the test patches are as independent as the image allows); with `per_image`, that many random places."""
    out = []
    for i in images:
        h, w = shapes[i]
        if per_image is None:
            rows, cols = h // patch, w // patch
            y0, x0 = int(rng.integers(0, h - rows * patch + 1)), int(rng.integers(0, w - cols * patch + 1))
            out += [(i, y0 + r * patch, x0 + c * patch) for r in range(rows) for c in range(cols)]
        else:
            out += [(i, int(rng.integers(0, h - patch + 1)), int(rng.integers(0, w - patch + 1)))
                    for _ in range(per_image)]
    return out


def c2st(originals: list[np.ndarray], reconstructions: list[np.ndarray], *, conditional: bool = False,
         patch: int = PATCH, seed: int = 0, steps: int = STEPS, batch: int = BATCH,
         test_places: int | None = None) -> C2STResult:
    """The C2ST of `reconstructions` against `originals`: lists of (H,W,3) uint8 arrays, reconstruction i
    of original i (same shape). Images with a side under `patch` are left out; at least two must remain.
    `test_places`: held-out places per image (default: the non-overlapping grid, 96 on a Kodak image).
    Deterministic for a given seed on one thread."""
    import torch
    import torch.nn.functional as F

    if len(originals) != len(reconstructions):
        raise ValueError(f"{len(originals)} originals but {len(reconstructions)} reconstructions")
    for x, x_hat in zip(originals, reconstructions):
        if x.shape != x_hat.shape or x.ndim != 3 or x.shape[2] != 3:
            raise ValueError(f"an original of shape {x.shape} has a reconstruction of shape {x_hat.shape} "
                             "(both must be the same (H,W,3))")
    kept = usable(originals, patch)
    if len(kept) < 2:
        raise ValueError(f"a C2ST needs two images with sides of at least {patch} px (have {len(kept)})")
    data = _Pairs([originals[i] for i in kept], [reconstructions[i] for i in kept], conditional, patch)
    shapes = [originals[i].shape[:2] for i in kept]
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(kept))
    folds = [sorted(order[f::FOLDS].tolist()) for f in range(FOLDS)]

    correct = n_test = 0
    for f, held_out in enumerate(folds):
        train = [i for i in range(len(kept)) if i not in held_out]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed * FOLDS + f)
            net = _network(data.channels)
        opt = torch.optim.Adam(net.parameters(), lr=LR)
        for step in range(steps):
            for group in opt.param_groups:
                group["lr"] = LR * 0.5 * (1 + math.cos(math.pi * step / steps))
            patches, labels = data.batch(_train_places(rng, shapes, train, batch, patch))
            loss = F.binary_cross_entropy_with_logits(net(patches)[:, 0], labels)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        places = _test_places(rng, shapes, held_out, patch, test_places)
        with torch.no_grad():
            for start in range(0, len(places), EVAL_BATCH // 2):
                patches, labels = data.batch(places[start:start + EVAL_BATCH // 2])
                correct += int(((net(patches)[:, 0] > 0).float() == labels).sum())
                n_test += len(labels)
    return C2STResult(correct / n_test, null_threshold(n_test), n_test, conditional)
