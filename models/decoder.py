"""Synthesis transform g_θ: the transposed block transform plus learned corrections."""
import torch
from torch import nn
from .config import ModelConfig
from .layers import zero_branch


class Decoder(nn.Module):
    """ẑ (B,C,h,w) → x̂ (B,3,hb,wb).

        ẑ ─► + branch(ẑ) ─► 1×1 synthesis (KLTᵀ) ─shuffle(b)─► x_lin ─► + refine(x_lin) ─► x̂
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.branch = zero_branch(cfg.channels, cfg.hidden, cfg.channels)
        self.synthesis = nn.Conv2d(cfg.channels, cfg.channels, 1)
        self.shuffle = nn.PixelShuffle(cfg.block)
        self.refine = zero_branch(3, cfg.refine, 3)

    def forward(self, z_q: torch.Tensor) -> torch.Tensor:
        x_lin = self.shuffle(self.synthesis(z_q + self.branch(z_q)))  # (B,3,H,W)
        return x_lin + self.refine(x_lin)
