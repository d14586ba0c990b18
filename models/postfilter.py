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

    @torch.no_grad()
    def grown(self, width: int, depth: int) -> "PostFilter":
        """A wider and/or deeper filter that computes exactly what this one does (Net2Net, Chen et al.
        2016), so a bigger filter warm-starts from a trained one instead of from the identity. New
        channels get random inputs and zero outputs; new layers, inserted before the last, are identity
        convolutions with PReLU slope 1."""
        if width < self.width or depth < self.depth:
            raise ValueError("a filter can only grow")
        big = PostFilter(width, depth)
        old_convs, new_convs = self.net[0::2], big.net[0::2]
        old_acts, new_acts = self.net[1::2], big.net[1::2]
        for k in range(self.depth - 1):  # the trained hidden layers, in their first channels
            o, i = old_convs[k].weight.shape[:2]
            new_convs[k].weight[:o] = 0
            new_convs[k].weight[:o, :i] = old_convs[k].weight
            new_convs[k].bias[:o] = old_convs[k].bias
            new_acts[k].weight[:o] = old_acts[k].weight
        for k in range(self.depth - 1, depth - 1):  # the inserted identity layers
            new_convs[k].weight.zero_()
            new_convs[k].weight[:, :, 1, 1] = torch.eye(width)
            new_convs[k].bias.zero_()
            new_acts[k].weight.fill_(1.0)
        last = old_convs[-1].weight.shape[1]
        big.net[-1].weight.zero_()
        big.net[-1].weight[:, :last] = self.net[-1].weight
        big.net[-1].bias.copy_(self.net[-1].bias)
        return big
