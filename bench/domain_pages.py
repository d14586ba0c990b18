"""A domain unlike photographs, made offline: rendered screens of text, charts and flat interface panels.

    .venv/bin/python bench/domain_pages.py OUT/ --images 240 --seed 0

Each image is 512×384: a light or dark page with a title bar, paragraphs of random words in Pillow's
built-in font at a few sizes, a bar or line chart with axes and gridlines, coloured buttons, and a light
JPEG-free anti-aliasing from the rendering itself. Names are random hex (nothing may depend on names).
"""
import argparse
import hashlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

W, H = 512, 384
WORDS = ("rate distortion image codec entropy model tile step quality photo bitstream decoder encoder vector "
         "quantizer codebook context wavelet filter budget folder train validation header chunk salvage grey "
         "the of and to in a is for on with as by at from").split()
PALETTES = [((250, 250, 248), (30, 30, 35), (52, 101, 164)), ((32, 34, 40), (220, 222, 228), (98, 180, 120)),
            ((255, 255, 255), (60, 60, 60), (200, 80, 60)), ((240, 244, 250), (20, 40, 80), (240, 160, 40))]


def _font(size: int):
    return ImageFont.load_default(size=size)


def _text(draw, rng, box, ink, size):
    x0, y0, x1, y1 = box
    font, y = _font(size), y0
    while y + size < y1:
        line = ""
        while True:
            w = WORDS[rng.integers(len(WORDS))]
            if draw.textlength(line + " " + w, font=font) > x1 - x0:
                break
            line = (line + " " + w).strip()
        draw.text((x0, y), line, fill=ink, font=font)
        y += int(size * 1.5)


def _chart(draw, rng, box, ink, accent):
    x0, y0, x1, y1 = box
    draw.line([(x0, y1), (x1, y1)], fill=ink, width=1)
    draw.line([(x0, y0), (x0, y1)], fill=ink, width=1)
    for k in range(1, 5):
        y = y1 - (y1 - y0) * k / 5
        draw.line([(x0 + 1, y), (x1, y)], fill=tuple(int(0.5 * a + 0.5 * b) for a, b in zip(ink, (200, 200, 200))))
    n = int(rng.integers(5, 12))
    values = rng.uniform(0.1, 0.95, n)
    if rng.random() < 0.5:
        bw = (x1 - x0) / n
        for k, v in enumerate(values):
            draw.rectangle([x0 + k * bw + 3, y1 - v * (y1 - y0), x0 + (k + 1) * bw - 3, y1 - 1], fill=accent)
    else:
        pts = [(x0 + (x1 - x0) * k / (n - 1), y1 - v * (y1 - y0)) for k, v in enumerate(values)]
        draw.line(pts, fill=accent, width=2)
        for p in pts:
            draw.ellipse([p[0] - 3, p[1] - 3, p[0] + 3, p[1] + 3], fill=accent)


def page(rng: np.random.Generator) -> Image.Image:
    paper, ink, accent = PALETTES[rng.integers(len(PALETTES))]
    im = Image.new("RGB", (W, H), paper)
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, W, 28], fill=accent)
    d.text((10, 6), " ".join(WORDS[i] for i in rng.integers(0, 12, 3)).title(), fill=paper, font=_font(16))
    split = int(rng.integers(200, 320))
    _text(d, rng, (12, 40, split - 12, H - 60), ink, int(rng.choice([11, 13, 15])))
    _chart(d, rng, (split + 10, 50, W - 14, 230), ink, accent)
    _text(d, rng, (split + 10, 245, W - 14, H - 60), ink, 11)
    for k in range(int(rng.integers(1, 4))):
        x = 12 + k * 110
        d.rounded_rectangle([x, H - 44, x + 96, H - 16], radius=6, fill=accent)
        d.text((x + 12, H - 38), WORDS[rng.integers(len(WORDS))], fill=paper, font=_font(14))
    return im


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("--images", type=int, default=240)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    for k in range(args.images):
        name = hashlib.sha256(f"{args.seed}-{k}".encode()).hexdigest()[:12]
        page(rng).save(out / f"{name}.png")


if __name__ == "__main__":
    main()
