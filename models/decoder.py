"""Synthesis transform g_θ: the transposed block transform plus learned corrections (and noise in gc mode)."""
import torch
from torch import nn
from compressai.layers import conv3x3

from .config import ModelConfig
from .encoder import residual_branch


class Decoder(nn.Module):
    """ẑ (B,C,h,w) [, u (B,N,h,w)] → x̂ (B,3,hb,wb).

        ẑ ─► + branch([ẑ,u]) ─► 1×1 synthesis (KLTᵀ) ─shuffle(b)─► x_lin ─► + refine(x_lin) ─► x̂
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.noise_channels = cfg.noise_channels if cfg.mode == "gc" else 0
        c_in = cfg.channels + self.noise_channels
        self.branch = residual_branch(c_in, cfg.hidden)
        # The branch maps [ẑ, u] back to C channels: replace its last layer's width.
        self.branch[-1] = conv3x3(cfg.hidden, cfg.channels)
        nn.init.zeros_(self.branch[-1].weight)
        nn.init.zeros_(self.branch[-1].bias)
        self.synthesis = nn.Conv2d(cfg.channels, cfg.channels, 1)
        self.shuffle = nn.PixelShuffle(cfg.block)
        self.refine = nn.Sequential(
            conv3x3(3, cfg.refine), nn.LeakyReLU(0.1),
            conv3x3(cfg.refine, cfg.refine), nn.LeakyReLU(0.1),
            conv3x3(cfg.refine, 3),
        )
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, z_q: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        h = z_q if u is None else torch.cat([z_q, u], dim=1)
        x_lin = self.shuffle(self.synthesis(z_q + self.branch(h)))  # (B,3,H,W)
        return x_lin + self.refine(x_lin)
