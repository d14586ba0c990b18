"""The two layers the transforms are built of: a size-keeping 3×3 convolution, and a correction branch
that starts at zero, so a model starts as its closed-form transform and learns only what that lacks."""
from torch import nn


def conv3x3(c_in: int, c_out: int) -> nn.Conv2d:
    """A 3×3 convolution that keeps the size (CompressAI's layer, written out: importing CompressAI
    costs seconds and a gigabyte before a command can answer)."""
    return nn.Conv2d(c_in, c_out, kernel_size=3, padding=1)


def zero_branch(c_in: int, hidden: int, c_out: int, depth: int = 3) -> nn.Sequential:
    """`depth` 3×3 convolutions with leaky ReLUs between; the last starts at zero, so the branch adds
    nothing until it is trained."""
    layers = [conv3x3(c_in, hidden), nn.LeakyReLU(0.1)]
    for _ in range(depth - 2):
        layers += [conv3x3(hidden, hidden), nn.LeakyReLU(0.1)]
    layers.append(conv3x3(hidden, c_out))
    nn.init.zeros_(layers[-1].weight)
    nn.init.zeros_(layers[-1].bias)
    return nn.Sequential(*layers)
