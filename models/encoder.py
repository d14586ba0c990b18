"""Analysis transform f_φ: a block transform (KLT-initialised) plus a learned nonlinear correction."""
import torch
from torch import nn
from .config import ModelConfig
from .layers import zero_branch


class Encoder(nn.Module):
    """x (B,3,H,W) in [0,1] → y (B,C,H/b,W/b), C = 3b².

        x ─unshuffle(b)─► p (B,C,h,w) ─1×1 analysis (KLT)─► y_lin ─┬──────────► + ─► y
                                                                    └─ branch ─┘
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(cfg.block)
        self.analysis = nn.Conv2d(cfg.channels, cfg.channels, 1)
        self.branch = zero_branch(cfg.channels, cfg.hidden, cfg.channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_lin = self.analysis(self.unshuffle(x))  # (B,C,H/b,W/b)
        return y_lin + self.branch(y_lin)
