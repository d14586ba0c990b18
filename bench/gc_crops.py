"""Side-by-side crops at the lowest rate: the original, JPEG, WebP and AVIF at about the file size of ibc's
lowest setting, the Shannon-AE reconstruction and the generative (gc) one with two seeds (BENCHMARKS.md),
one row per image.

    python bench/gc_crops.py --image ../shared/data/kodak/kodim13.png --box 448 256 192 192 -o crops.png
    python bench/gc_crops.py --model gc-v4 --quality 22 --image K/kodim13.png K/kodim15.png K/kodim23.png -o bench/gc-v4_crops.png
    (the second is what `make bench-gc-v2` runs)

Every codec codes the whole image; the crop is only what is shown. The classical codecs' quality is the one
whose real file is nearest in size to the ibc file (a bisection over the quality).
"""
import argparse
import bisect
import sys
from pathlib import Path

import numpy as np
import torch

from ibc.codec.api import compress, decompress
from ibc.codec.evaluation.classical import CODECS
from ibc.codec.errors import CodecError
from ibc.codec.image_io import read_image
from ibc.codec.metrics import bpp, psnr
from ibc.codec.weights import load_model, read_manifest

QUALITIES = {"jpeg": range(1, 96), "webp": range(0, 101), "avif": range(0, 101)}  # each codec's quality scale


def shipped_gc() -> str:
    """The name of the first generative model in the manifest."""
    entry = next((e for e in read_manifest()["models"] if e.get("mode") == "gc"), None)
    if entry is None:
        raise SystemExit("no gc model is shipped in weights/manifest.json; pass --model NAME|PATH")
    return entry["name"]


def nearest_size(codec, rgb: np.ndarray, target: int) -> bytes:
    """The codec's file nearest to `target` bytes over its quality scale, by bisection: it assumes the size
    rises with the quality, which holds on photographs (on tiny images WebP's size can dip by a few bytes)."""
    qualities = QUALITIES[codec.name]
    size = lambda q: len(codec.encode(rgb, q))  # noqa: E731
    i = bisect.bisect_left(qualities, target, key=size)
    files = [codec.encode(rgb, qualities[j]) for j in {max(i - 1, 0), min(i, len(qualities) - 1)}]
    return min(files, key=lambda f: abs(len(f) - target))


def panels(rgb: np.ndarray, lm, setting: float, seeds: list[int]) -> list[tuple[str, np.ndarray, int | None]]:
    """(title, reconstruction, file bytes) of every panel, the original first; `setting` is the q."""
    data = compress(rgb, lm, quality=setting)
    out = [("original", rgb, None)]
    for name in ("jpeg", "webp", "avif"):
        codec = CODECS[name]
        try:
            codec.check()
        except CodecError as e:  # a Pillow without the format: leave the panel out, say so
            print(f"skipped: {e}", file=sys.stderr)
            continue
        f = nearest_size(codec, rgb, len(data))
        out.append((codec.label, codec.decode(f), len(f)))
    out.append((f"Shannon-AE (q {setting:g})", decompress(data, lm, realism=0), len(data)))
    out += [(f"GC A=1, seed {s}", decompress(data, lm, seed=s, realism=1), len(data)) for s in seeds]
    return out


def smoothest(rgb: np.ndarray, side: int = 192, grid: int = 32) -> list[int]:
    """[x, y, side, side]: the window on a `grid`-pixel lattice with the least mean gradient, among those
    whose mean grey is between 40 and 215 (not clipped white or black)."""
    grey = rgb.astype(float).mean(2)
    grad = np.abs(np.diff(grey, axis=0))[:, :-1] + np.abs(np.diff(grey, axis=1))[:-1]
    H, W = grey.shape
    best = None
    for y in range(0, H - side + 1, grid):
        for x in range(0, W - side + 1, grid):
            if 40 <= grey[y:y + side, x:x + side].mean() <= 215:
                g = grad[y:y + side - 1, x:x + side - 1].mean()
                best = min(best or (g, x, y), (g, x, y))
    return [best[1], best[2], side, side] if best else [(W - side) // 2, (H - side) // 2, side, side]


def figure(rows: list, out: Path) -> None:
    """One row of crops per (rgb, panels, box), each titled with its codec, bpp (of the whole image) and PSNR."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(rows[0][1])
    fig, axes = plt.subplots(len(rows), n, figsize=(2.6 * n, 3.2 * len(rows)), layout="constrained", squeeze=False)
    for line, (rgb, shown, (x, y, w, h)) in zip(axes, rows):
        H, W, _ = rgb.shape
        for ax, (title, image, size) in zip(line, shown):
            if size is not None:
                title += f"\n{bpp(size, W, H):.3f} bpp, {psnr(rgb, image):.1f} dB"
            ax.imshow(image[y:y + h, x:x + w], interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_axis_off()
    fig.savefig(out, dpi=150)
    plt.close(fig)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--image", nargs="+", default=["../shared/data/kodak/kodim13.png"],
                   help="images to code, one row each (default: Kodak 13)")
    p.add_argument("--box", type=int, nargs=4, metavar=("X", "Y", "W", "H"),
                   help="crop shown, in pixels, for every image (default: rocks, water and grass of Kodak 13 "
                        "for one image; else the centre 192×192)")
    p.add_argument("--smooth", action="store_true",
                   help="show each image's smoothest 192×192 area that is not flat white or black (sky, skin): "
                        "where streaks and repeated patterns would show")
    p.add_argument("--model", help="gc model name or path (default: the shipped gc model)")
    p.add_argument("--quality", type=float, default=22, help="ibc quality q (default: 22, about 0.1 bpp)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="gc decoder seeds (default: 0 1)")
    p.add_argument("-o", "--output", default="gc_crops.png")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    lm = load_model(args.model or shipped_gc())
    if lm.mode != "gc":
        raise SystemExit(f"{lm.name} is not a generative (gc) model")
    rows = []
    for path in args.image:
        rgb = read_image(Path(path))
        H, W = rgb.shape[:2]
        box = args.box or (smoothest(rgb) if args.smooth else [448, 256, 192, 192] if len(args.image) == 1
                           else [(W - 192) // 2, (H - 192) // 2, 192, 192])
        x, y, w, h = box
        if not (0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= W and y + h <= H):
            raise SystemExit(f"--box {x} {y} {w} {h} is not inside the {W}×{H} image {path}")
        rows.append((rgb, panels(rgb, lm, args.quality, args.seeds), tuple(box)))
    figure(rows, Path(args.output))
    print(f"{args.output}: written")


if __name__ == "__main__":
    main()
