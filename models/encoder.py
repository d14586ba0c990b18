"""Analysis transform f_φ: a block transform (KLT-initialised) plus a learned nonlinear correction."""
import torch
from torch import nn
from .config import ModelConfig


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    """A 3×3 convolution that keeps the size (CompressAI's layer, written out: importing CompressAI
    costs seconds and a gigabyte before a command can answer)."""
    return nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)


def residual_branch(channels: int, hidden: int) -> nn.Sequential:
    """3×3 CNN whose last layer starts at zero, so the model starts as the plain block transform."""
    branch = nn.Sequential(
        conv3x3(channels, hidden), nn.LeakyReLU(0.1),
        conv3x3(hidden, hidden), nn.LeakyReLU(0.1),
        conv3x3(hidden, channels),
    )
    nn.init.zeros_(branch[-1].weight)
    nn.init.zeros_(branch[-1].bias)
    return branch


class Encoder(nn.Module):
    """x (B,3,H,W) in [0,1] → y (B,C,H/b,W/b), C = 3b².

        x ─unshuffle(b)─► p (B,C,h,w) ─1×1 analysis (KLT)─► y_lin ─┬──────────► + ─► y
                                                                    └─ branch ─┘
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.unshuffle = nn.PixelUnshuffle(cfg.block)
        self.analysis = nn.Conv2d(cfg.channels, cfg.channels, 1)
        self.branch = residual_branch(cfg.channels, cfg.hidden)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y_lin = self.analysis(self.unshuffle(x))  # (B,C,H/b,W/b)
        return y_lin + self.branch(y_lin)
