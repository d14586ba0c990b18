"""Greyscale coded as one channel against the same pixels through the colour path (R = G = B coded as
three channels, as before 0.2.0): bytes and PSNR on the luma of the shipped sample and of Kodak images.

    OMP_NUM_THREADS=1 .venv/bin/python bench/grey_size.py tests/data/sample.png ../shared/data/kodak/kodim0[1-6].png
"""
import sys
from unittest import mock

import numpy as np
from PIL import Image

from ibc.codec import wavelet_api
from ibc.codec.api import compress, decompress
from ibc.codec.metrics import psnr
from ibc.codec.weights import load_model


def main() -> None:
    lm = load_model()
    rows = ["| image | q | grey path (bytes) | colour path (bytes) | saving | PSNR grey / colour (dB) |",
            "|---|---:|---:|---:|---:|---|"]
    for path in sys.argv[1:]:
        grey = np.asarray(Image.open(path).convert("L"))
        rgb = np.repeat(grey[..., None], 3, axis=2)
        for q in (20, 50, 80):
            one = compress(rgb, lm, quality=q)
            with mock.patch.object(wavelet_api, "is_grey", lambda x: False):
                three = compress(rgb, lm, quality=q)
            p1, p3 = (psnr(rgb, decompress(d, lm)) for d in (one, three))
            rows.append(f"| {path.split('/')[-1]} | {q} | {len(one):,} | {len(three):,} | "
                        f"{1 - len(one) / len(three):.1%} | {p1:.2f} / {p3:.2f} |")
            print(rows[-1], flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
