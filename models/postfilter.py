"""The Shannon-AE v2 post-filter: a small residual CNN on the decoded image, conditioned on the step.

    x̂ (B,3,H,W) in [0,1], s = log2(step)/8 ─► concat(x̂ − ½, s-plane) ─ 3×3 conv ─ PReLU ─ … ─ 3×3 conv ─► r
    output x̂ + r

The wavelet synthesis is linear; what it cannot undo at low rates is the ringing and blur that dropped
coefficients leave round edges. The last layer starts at zero, so an untrained filter is the identity
and the codec without it. It sees only decoded pixels and the step, so it changes no bitstream: a file
coded before it existed decodes the same bits, rendered through it. Receptive field 2·depth+1 pixels
(MARGIN per side), which the stripe-wise ONNX run (codec.postfilter) overlaps by.
"""
import torch
from torch import nn

DEPTH, WIDTH = 4, 16


class PostFilter(nn.Module):
    def __init__(self, width: int = WIDTH, depth: int = DEPTH):
        super().__init__()
        self.width, self.depth = width, depth
        layers, c = [], 4
        for _ in range(depth - 1):
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.PReLU(width)]
            c = width
        last = nn.Conv2d(c, 3, 3, padding=1)
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def config(self) -> dict:
        return {"width": self.width, "depth": self.depth}

    @property
    def margin(self) -> int:
        return self.depth

    def forward(self, x: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """x (B,3,H,W) in [0,1]; s (B,) the scaled log step → the filtered image (not clamped)."""
        plane = s.view(-1, 1, 1, 1).expand(-1, 1, x.shape[2], x.shape[3]).to(x.dtype)
        return x + self.net(torch.cat([x - 0.5, plane], 1))


def step_feature(step: float) -> float:
    """The step as the filter sees it: log2(step)/8 (steps 4 … 256 → 0.25 … 1)."""
    import math
    return math.log2(step) / 8
