"""The discriminator of generative compression v2: a conditional multi-scale PatchGAN that judges an RGB
image x against the Shannon-AE v2 reconstruction c of the same bits (what the randomized decoder has).

    concat(x, c) in [-1, 1] (6 ch) ─► PatchGAN at full resolution ─► logits
                      └─ avg-pool ½ ─► PatchGAN                     ─► logits
                             └─ avg-pool ¼ ─► PatchGAN              ─► logits

Each head is a PatchGAN with spectral norm on every layer: three 4×4 stride-2 convolutions (width, 2×,
4×), a 3×3 and a 3×3 to one logit, receptive field ≈ 70 px at its scale. Real pairs are (original, c),
fake pairs (gc-v2 reconstruction, c): conditioning on c makes it judge "is x a plausible image *for
these bits*". `score` is the mean logit (over patches and scales) per image: the feature `ibc score`
reads, exported to ONNX with it (codec.training.discriminator).
"""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

MIN_SIDE = 64  # smaller inputs leave the ¼-scale head without a patch


def _patch_gan(c_in: int, width: int, strides: int = 2) -> nn.Sequential:
    """A PatchGAN: `strides` 4×4 stride-2 convolutions doubling the width, a 3×3 and a 3×3 to one logit
    (one logit per ~22×22 patch with 2 strides, ~70×70 with 3); spectral norm on every layer keeps it
    Lipschitz (stable)."""
    sn = spectral_norm
    layers, c = [], c_in
    for k in range(strides):
        layers += [sn(nn.Conv2d(c, width << k, 4, 2, 1)), nn.LeakyReLU(0.2)]
        c = width << k
    return nn.Sequential(*layers, sn(nn.Conv2d(c, c, 3, 1, 1)), nn.LeakyReLU(0.2), sn(nn.Conv2d(c, 1, 3, 1, 1)))


def multi_scale(heads: nn.ModuleList, h: torch.Tensor) -> list[torch.Tensor]:
    """Head i judges h average-pooled i times (full, ½, ¼ … resolution): one logit map each."""
    logits = []
    for i, head in enumerate(heads):
        logits.append(head(h))
        if i + 1 < len(heads):
            h = F.avg_pool2d(h, 2)
    return logits


class ConditionalPatchGAN(nn.Module):
    """x, c (B,3,H,W) in [0,1] → one logit map per scale (full, ½, ¼ resolution input)."""

    def __init__(self, width: int = 32, scales: int = 3):
        super().__init__()
        self.width, self.scales = width, scales
        self.heads = nn.ModuleList(_patch_gan(6, width, strides=3) for _ in range(scales))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> list[torch.Tensor]:
        return multi_scale(self.heads, torch.cat([x, c], 1) * 2 - 1)

    def score(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        """(B,) the mean logit per image: over each scale's patches, then over the scales."""
        return torch.stack([m.mean((1, 2, 3)) for m in self(x, c)], 1).mean(1)

    def config(self) -> dict:
        return {"width": self.width, "scales": self.scales}


class ScoreGraph(nn.Module):
    """What is exported: x, c (B,3,H,W) float32 in [0,1] → (B,) mean logit, with the spectral norms folded
    into plain convolutions (the exported graph holds fixed weights)."""

    def __init__(self, d: ConditionalPatchGAN):
        super().__init__()
        self.d = d

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return self.d.score(x, c)


def hinge_loss(real: list[torch.Tensor], fake: list[torch.Tensor]) -> torch.Tensor:
    """The discriminator's hinge loss, averaged over scales: 2.0 at chance (all logits 0)."""
    return torch.stack([F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake)]).mean()


def r1_penalty(d: ConditionalPatchGAN, x: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, list]:
    """E‖∇ₓ Σ score(x, c)‖² on real pairs (Mescheder et al. 2018), the gradient taken through x only;
    also the logits, so the step reuses them."""
    x = x.detach().requires_grad_(True)
    logits = d(x, c)
    s = torch.stack([m.mean((1, 2, 3)) for m in logits], 1).mean(1).sum()
    (g,) = torch.autograd.grad(s, x, create_graph=True)
    return g.pow(2).flatten(1).sum(1).mean(), logits
