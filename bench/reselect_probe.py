"""Probe: re-selection through the real decoder (issue 13, item 4), on BSDS500 validation photos (never
Kodak). The encoder's ECVQ choice targets the analysis coefficients y, as if the decoder were the plain
synthesis; the real decoder ends in the post-filter. One re-selection round decodes the first choice
through the whole decoder (x̂₀, filter included), moves the target by what the decoder got wrong,

    y₁ = ŷ₀ + α·(y − A(x̂₀))      (A: the analysis; with no filter and an exact inverse, y₁ = y)

and chooses again against y₁, same step, same λ, so every file still decodes with the shipped decoder.
Each round costs a decode and an analysis on top of the encode. BD-rate (PSNR, post-filter on) against
the one-pass encoder.

    OMP_NUM_THREADS=1 .venv/bin/python bench/reselect_probe.py --images 12 --md bench/reselect_probe.md
"""
import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from val_compare import add_val_options, val_photos  # noqa: E402  (bench/val_compare.py)

from ibc.codec.evaluation.plot import bd_rate
from ibc.codec.metrics import psnr
from ibc.codec.step_code import code_of_quality, step_from_code
from ibc.codec.subband_tiles import encode_tile
from ibc.codec.wavelet_api import render_tiles
from ibc.codec.weights import load_model
from ibc.models.subband_context import tile_bands

QUALITIES = (18, 34, 50, 66, 75)


def choose(model, y: np.ndarray, H: int, W: int, step: float) -> tuple[list, int]:
    """The ECVQ choice against coefficients y → (TileIndices per tile, payload bytes)."""
    Hp, Wp = y.shape[1:]
    tiles, size = [], 0
    for tile in model.tiles(H, W):
        bands = tile_bands(tile[2], tile[3])
        t = model.encode_tile([y[:, r, c] / step for r, c in model.band_slices(Hp, Wp, tile)], bands)
        tiles.append(t)
        size += len(encode_tile(t, bands, model.priors(), model.cmag, model.context))
    return tiles, size


def dequantised(model, tiles: list, shape: tuple, H: int, W: int, step: float) -> np.ndarray:
    """ŷ in the Mallat layout of y."""
    out, (Hp, Wp) = np.zeros(shape), shape[1:]
    for t, tile in zip(tiles, model.tiles(H, W)):
        bands = tile_bands(tile[2], tile[3])
        for (r, c), band in zip(model.band_slices(Hp, Wp, tile), model.dequantise_tile(t, bands)):
            out[:, r, c] = band * step
    return out


def rounds(lm, rgb: np.ndarray, q: float, alpha: float, n: int) -> list[tuple[int, float]]:
    """(bytes, PSNR) after 0 … n re-selection rounds."""
    model, (H, W, _) = lm.coder, rgb.shape
    code = code_of_quality(q)
    step = step_from_code(code)
    y = model.analysis(rgb)
    tiles, size = choose(model, y, H, W, step)
    x = render_tiles(lm, tiles, H, W, code)
    out = [(size, psnr(rgb, x))]
    for _ in range(n):
        target = dequantised(model, tiles, y.shape, H, W, step) + alpha * (y - model.analysis(x))
        tiles, size = choose(model, target, H, W, step)
        x = render_tiles(lm, tiles, H, W, code)
        out.append((size, psnr(rgb, x)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_val_options(ap, 12, "shannon-v3")
    ap.add_argument("--alpha", type=float, nargs="+", default=[1.0, 0.5, 0.25])
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    images = val_photos(args)
    pixels = sum(rgb.shape[0] * rgb.shape[1] for rgb in images)
    lm = load_model(args.model)
    t0 = time.time()
    rows = []
    for alpha in args.alpha:
        per_q = [np.array([rounds(lm, rgb, q, alpha, args.rounds) for rgb in images]) for q in QUALITIES]
        bpp = [[8 * a[:, k, 0].sum() / pixels for a in per_q] for k in range(args.rounds + 1)]
        db = [[a[:, k, 1].mean() for a in per_q] for k in range(args.rounds + 1)]
        for k in range(1, args.rounds + 1):
            rows.append(f"| {alpha:g} | {k} | {' '.join(f'{b:.3f}/{p:.2f}' for b, p in zip(bpp[k], db[k]))} | "
                        f"{bd_rate(np.array(bpp[0]), np.array(db[0]), np.array(bpp[k]), np.array(db[k])):+.2f} % |")
            print(rows[-1], flush=True)
    table = [f"# Re-selection through the real decoder, {args.model} + post-filter, {len(images)} BSDS500 validation photos", "",
             f"`python bench/reselect_probe.py --images {args.images}` ({time.time() - t0:.0f} s; see its docstring). "
             f"One-pass encoder: {' '.join(f'{b:.3f}/{p:.2f}' for b, p in zip(bpp[0], db[0]))} (bpp/PSNR at q "
             f"{', '.join(map(str, QUALITIES))}).", "",
             "| α | rounds | bpp/PSNR per q | BD-rate (PSNR) vs one pass |", "|---:|---:|---|---:|"] + rows
    if args.md:
        Path(args.md).write_text("\n".join(table) + "\n")


if __name__ == "__main__":
    main()
