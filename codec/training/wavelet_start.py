"""A Shannon-AE v2 model designed from scratch: the closed-form CDF 9/7 transform with ECVQ codebooks and
integer priors designed on training images, no gradient step (the shipped models; `ibc train`'s design).

    N training images (seeded choice, centre crops to multiples of 64)
      ─ design (entropy-constrained k-means with the real contexts, pooled over STEPS) ─► WaveletCodec
"""
from pathlib import Path

import numpy as np

from .dataset import load_rgb
from .loop import progress_bar
from .wavelet_design import design
from .wavelet_model import TILE, WaveletCodec

STEPS = (160, 112, 80, 56, 40, 28, 20)  # the steps the tables are pooled over: about 0.1 … 1.5 bpp on photos
ROUNDS = 2                              # k-means rounds: a third one moves the figures by less than 0.1 %


def design_images(train_files: list[Path], n: int, seed: int = 0) -> list[np.ndarray]:
    """`n` of `train_files`, chosen with `seed`, as (H,W,3) uint8 centre crops to multiples of 64."""
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(len(train_files), min(n, len(train_files)), replace=False))
    out = []
    for i in chosen:
        x = load_rgb(train_files[i]).numpy().transpose(1, 2, 0)
        H, W = x.shape[0] // 64 * 64, x.shape[1] // 64 * 64
        t, l = (x.shape[0] - H) // 2, (x.shape[1] - W) // 2
        out.append(np.ascontiguousarray(x[t:t + H, l:l + W]))
    return out


def new_wavelet_model(train_files: list[Path], n: int = 30, seed: int = 0, steps: tuple = STEPS,
                      rounds: int = ROUNDS, log=None, context: int = 1,
                      tile: int = TILE) -> WaveletCodec:
    """A designed (frozen) WaveletCodec from `n` of `train_files` (training images only), with the
    contexts of version `context` (codec.subband_context) and `tile`-pixel tiles. A bar shows the
    design's progress (minutes) on a terminal."""
    model = WaveletCodec(context=context, tile=tile)
    images = design_images(train_files, n, seed)
    with progress_bar("design") as progress:
        design(model, images, steps, rounds=rounds, log=log, progress=progress)
    return model
