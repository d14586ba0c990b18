"""Quality metrics shared by the CLI, evaluation and benchmarks."""
import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two 8-bit images of the same shape; inf when identical."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(255.0 ** 2 / mse)


def bpp(num_bytes: int, width: int, height: int) -> float:
    """Bits per pixel from a real file size, header included."""
    return num_bytes * 8 / (width * height)
