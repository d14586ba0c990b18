"""The discriminator that estimates term D, KL(p_D‖p_θ), for generative compression (eq. 36)."""
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .config import ModelConfig


def _patch_gan(c_in: int, width: int) -> nn.Sequential:
    """A PatchGAN: one logit per ~22×22 patch; spectral norm on every layer keeps it Lipschitz (stable)."""
    sn = spectral_norm
    return nn.Sequential(
        sn(nn.Conv2d(c_in, width, 4, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(width, 2 * width, 4, 2, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(2 * width, 2 * width, 3, 1, 1)), nn.LeakyReLU(0.2),
        sn(nn.Conv2d(2 * width, 1, 3, 1, 1)),
    )


class Discriminator(nn.Module):
    """Multi-scale PatchGAN conditioned on ẑ (as in HiFiC): x (B,3,H,W), ẑ (B,C,h,w) → logits per scale.

        ẑ ─1×1─► 12 ch ─upsample(b)─┐
        x ──────────────────────────┴─ concat ─► PatchGAN at full, ½ and ¼ resolution ─► [logits]

    Conditioning on ẑ makes it judge "is x a plausible image *for these bits*", so the decoder cannot
    trade faithfulness for generic realism. At the optimum the logit is log p_D(x|ẑ)/p_θ(x|ẑ): its mean
    over real images estimates KL(p_D‖p_θ), term D.
    """

    def __init__(self, cfg: ModelConfig, width: int = 32, scales: int = 3, cond: int = 12):
        super().__init__()
        self.block = cfg.block
        self.cond = spectral_norm(nn.Conv2d(cfg.channels, cond, 1))
        self.heads = nn.ModuleList(_patch_gan(3 + cond, width) for _ in range(scales))

    def forward(self, x: torch.Tensor, z_q: torch.Tensor) -> list[torch.Tensor]:
        c = F.interpolate(self.cond(z_q), scale_factor=self.block, mode="nearest")  # (B,12,H,W)
        h = torch.cat([x * 2 - 1, c], 1)
        logits = []
        for i, head in enumerate(self.heads):
            logits.append(head(h))
            if i + 1 < len(self.heads):
                h = F.avg_pool2d(h, 2)
        return logits
