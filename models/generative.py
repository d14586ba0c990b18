"""The generative head: the randomized decoder of generative compression (eq. 36) on a Shannon-AE model's
fixed bitstream, trained against a discriminator (codec.training.generative).

    x̂ (B,3,H,W) in [0,1]   the Shannon-AE rendering of the file (post-filtered): what realism 0 shows
    d (B,3,H,W)            the closed-form noise fill's detail at realism 1 (codec.noise_fill), seeded
    u (B,1,H,W)            seeded unit-variance noise: the decoder's U
    s (B,)                 the step feature log2(step)/8
      concat(x̂ − ½, 4·d, u, s-plane) ─ 3×3 conv ─ PReLU ─ dilated 3×3 convs ─ … ─ 3×3 conv ─► r
    output y = d + r;  the decoder shows x̂ + α·y (α the realism: 0 is exactly the Shannon-AE output)

The last layer starts at zero, so an untrained head is the closed-form noise fill, and training starts from
it. Dilations widen the receptive field (2·margin + 1 pixels) at no cost in weights, so the head sees the
structure round a texture, not only the texture; the ONNX run (codec.generative_head) overlaps stripes by
the margin.
"""
import torch
from torch import nn

WIDTH, DILATIONS = 24, (1, 2, 4, 2, 1)


class GenerativeHead(nn.Module):
    def __init__(self, width: int = WIDTH, dilations: tuple = DILATIONS):
        super().__init__()
        self.width, self.dilations = width, tuple(dilations)
        layers, c = [], 8
        for dil in self.dilations[:-1]:
            layers += [nn.Conv2d(c, width, 3, padding=dil, dilation=dil), nn.PReLU(width)]
            c = width
        last = nn.Conv2d(c, 3, 3, padding=self.dilations[-1], dilation=self.dilations[-1])
        nn.init.zeros_(last.weight)
        nn.init.zeros_(last.bias)
        self.net = nn.Sequential(*layers, last)

    def config(self) -> dict:
        return {"width": self.width, "dilations": list(self.dilations)}

    @property
    def margin(self) -> int:
        return sum(self.dilations)

    def forward(self, x_hat: torch.Tensor, d: torch.Tensor, u: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """→ y (B,3,H,W), the detail added at realism 1 (not clamped)."""
        plane = s.view(-1, 1, 1, 1).expand(-1, 1, x_hat.shape[2], x_hat.shape[3]).to(x_hat.dtype)
        return d + self.net(torch.cat([x_hat - 0.5, 4 * d, u, plane], 1))
