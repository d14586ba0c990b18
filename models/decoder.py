"""Synthesis transform g_θ: the transposed block transform plus learned corrections."""
import torch
from torch import nn
from .config import ModelConfig
from .encoder import conv3x3, residual_branch


class Decoder(nn.Module):
    """ẑ (B,C,h,w) → x̂ (B,3,hb,wb).

        ẑ ─► + branch(ẑ) ─► 1×1 synthesis (KLTᵀ) ─shuffle(b)─► x_lin ─► + refine(x_lin) ─► x̂
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.branch = residual_branch(cfg.channels, cfg.hidden)
        self.synthesis = nn.Conv2d(cfg.channels, cfg.channels, 1)
        self.shuffle = nn.PixelShuffle(cfg.block)
        self.refine = nn.Sequential(
            conv3x3(3, cfg.refine), nn.LeakyReLU(0.1),
            conv3x3(cfg.refine, cfg.refine), nn.LeakyReLU(0.1),
            conv3x3(cfg.refine, 3),
        )
        nn.init.zeros_(self.refine[-1].weight)
        nn.init.zeros_(self.refine[-1].bias)

    def forward(self, z_q: torch.Tensor) -> torch.Tensor:
        x_lin = self.shuffle(self.synthesis(z_q + self.branch(z_q)))  # (B,3,H,W)
        return x_lin + self.refine(x_lin)
