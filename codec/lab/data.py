"""The lab's data: 32×32 patches cut from a folder of photos, and generated images (renders of shapes, text,
noise) that stand for the outliers of novelty detection and for photos in the tests.

A patch is a (32·s)×(32·s) crop of a photo box-filtered s times smaller (s = `downscale`, 2 by default):
at half scale a 32×32 patch holds edges and texture rather than one smooth gradient. The validation
patches keep their full-resolution crop too (`full`), for scorers that need 64 pixels a side (`ibc score`).
"""
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from ..image_io import read_image

SIDE = 32


def box_down(a: np.ndarray, factor: int) -> np.ndarray:
    """(N,H,W,3) uint8 → (N,H/f,W/f,3) uint8, the mean of each f×f block, rounded."""
    if factor == 1:
        return a
    n, h, w, c = a.shape
    b = a.reshape(n, h // factor, factor, w // factor, factor, c).astype(np.float32).mean((2, 4))
    return np.round(b).astype(np.uint8)


def patch_chunk(files: list[Path], rng: np.random.Generator, crops: int, downscale: int = 2,
                keep_full: bool = False) -> dict:
    """`crops` random crops of each photo (those too small for one are skipped) → {"x": (N,32,32,3) uint8},
    with "full" (N,32s,32s,3) when `keep_full`."""
    side = SIDE * downscale
    full = []
    for path in files:
        rgb = read_image(path)
        h, w = rgb.shape[:2]
        if min(h, w) < side:
            continue
        for _ in range(crops):
            r, c = int(rng.integers(h - side + 1)), int(rng.integers(w - side + 1))
            full.append(rgb[r:r + side, c:c + side])
    full = np.array(full, dtype=np.uint8).reshape(-1, side, side, 3)
    out = {"x": box_down(full, downscale)}
    if keep_full:
        out["full"] = full
    return out


def _colour(rng) -> tuple:
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def shapes(n: int, side: int = SIDE, seed: int = 0) -> np.ndarray:
    """(n,side,side,3) uint8 renders: flat backgrounds with a few flat-coloured rectangles and ellipses."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, side, side, 3), np.uint8)
    for i in range(n):
        im = Image.new("RGB", (side, side), _colour(rng))
        d = ImageDraw.Draw(im)
        for _ in range(int(rng.integers(1, 4))):
            x0, y0 = rng.integers(-side // 4, side, 2)
            w, h = rng.integers(side // 4, side, 2)
            box = [int(x0), int(y0), int(x0 + w), int(y0 + h)]
            (d.rectangle if rng.random() < 0.5 else d.ellipse)(box, fill=_colour(rng))
        out[i] = np.asarray(im)
    return out


def text(n: int, side: int = SIDE, seed: int = 0) -> np.ndarray:
    """(n,side,side,3) uint8 screen-like renders: lines of random characters on a flat background."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:()"))
    out = np.empty((n, side, side, 3), np.uint8)
    for i in range(n):
        bg = _colour(rng)
        fg = tuple(255 - v for v in bg) if rng.random() < 0.7 else _colour(rng)
        im = Image.new("RGB", (side, side), bg)
        d = ImageDraw.Draw(im)
        for y in range(int(rng.integers(-6, 2)), side, int(rng.integers(9, 14))):
            d.text((int(rng.integers(-8, 2)), y), "".join(rng.choice(letters, 20)), fill=fg)
        out[i] = np.asarray(im)
    return out


def noise(n: int, side: int = SIDE, seed: int = 0) -> np.ndarray:
    """(n,side,side,3) uint8 uniform noise."""
    return np.random.default_rng(seed).integers(0, 256, (n, side, side, 3), dtype=np.uint8)


OUTLIERS = {"noise": noise, "renders": shapes, "text": text}


def outliers(n: int, side: int, downscale: int, seed: int = 0) -> dict:
    """Each kind of outlier, rendered at side·downscale and box-filtered to `side` as the photos are:
    {kind: (full, patches)}."""
    out = {}
    for k, (kind, make) in enumerate(OUTLIERS.items()):
        full = make(n, side * downscale, seed + 1000 * k)
        out[kind] = (full, box_down(full, downscale))
    return out


def write_folder(folder: Path, n: int = 6, side: int = 96, seed: int = 0) -> Path:
    """A folder of n generated PNG 'photos' (renders of shapes with a little noise), for tests."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i, im in enumerate(shapes(n, side, seed)):
        noisy = np.clip(im.astype(np.int16) + rng.integers(-8, 9, im.shape), 0, 255).astype(np.uint8)
        Image.fromarray(noisy).save(folder / f"img{i}.png")
    return folder
