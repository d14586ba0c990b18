"""`ibc score`: the novelty score of the paper (§4.3): how far an image lies from the training photos, read
off the codec's own terms, on ONNX Runtime and numpy (no torch).

The current form (a gc model trained by `ibc train --mode gc`, its NAME-score/ folder): the rate r of the
image's own file under the gc model's base, and the logit of the discriminator trained with the gc model's
head, on the image itself given its Shannon-AE rendering x̂ (score.json: "d_input": "image"). The form below,
kept for gc-v2-score, judges the gc reconstruction instead ("d_input": "gc").

    image ─► shannon-v2 at the scoring quality ─► bytes: rate r = bits per pixel of its own encoding
                                                └► c = the Shannon-AE v2 reconstruction
                                                   x̃ = the gc-v2 reconstruction (realism 1, seed 0)
    discriminator(x̃ | c) ─► d = its mean logit (models.discriminator_v2, exported to ONNX)
    novelty = √(z_r² + z_d²),  z = (feature − mean) / std over training photos (weights/gc-v2-score/score.json)

The rate feature is log2 of the bpp: across photos the bpp is skewed (a few textured images code at several
times the median), and an image with almost nothing to code (a flat one) should count as far as one with
far too much. The discriminator runs over windows of at most WINDOW² pixels, averaged by area, so memory
stays bounded on large images; the statistics are taken the same way.
"""
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import CodecError
from .weights import WEIGHTS_DIR, load_model

SCORE_DIR = WEIGHTS_DIR / "gc-v2-score"
SCORE_FORMAT = "ibc-novelty-score-1"
WINDOW = 512    # discriminator windows (pixels a side)
MIN_SIDE = 64   # the discriminator's ¼-scale head needs this many pixels a side (models.discriminator_v2)
SEED = 0        # the gc reconstruction's seed when scoring


def reconstructions(rgb: np.ndarray, base, gc, quality: float, seeds=(SEED,)) -> tuple[bytes, np.ndarray, list]:
    """`rgb` coded by `base` (shannon-v2) at `quality` → (its bytes, the Shannon-AE reconstruction c, the
    gc reconstructions at realism 1, one per seed), all (H,W,3) uint8; the file is read once."""
    from .api import compress, read_indices, render
    data = compress(rgb, base, quality=quality)
    read = read_indices(data, gc)
    # the discriminator was trained on the decoders without the post-filter, which came after it
    c = render(gc, read.header, read.indices, SEED, 0.0, postfilter=False)
    return data, c, [render(gc, read.header, read.indices, s, 1.0, postfilter=False) for s in seeds]


def _planar(rgb: np.ndarray) -> np.ndarray:
    return (rgb.astype(np.float32) / 255.0).transpose(2, 0, 1)[None]


def discriminate(session, x: np.ndarray, c: np.ndarray) -> float:
    """The discriminator's mean logit on (x | c), (H,W,3) uint8 each: over windows, weighted by area."""
    H, W = x.shape[:2]
    rows = [(r, min(r + WINDOW, H)) for r in range(0, H, WINDOW)]
    cols = [(q, min(q + WINDOW, W)) for q in range(0, W, WINDOW)]
    # a last window thinner than MIN_SIDE joins the one before it
    rows = rows[:-2] + [(rows[-2][0], H)] if len(rows) > 1 and H - rows[-1][0] < MIN_SIDE else rows
    cols = cols[:-2] + [(cols[-2][0], W)] if len(cols) > 1 and W - cols[-1][0] < MIN_SIDE else cols
    total = 0.0
    for r0, r1 in rows:
        for c0, c1 in cols:
            (s,) = session.run(None, {"x": _planar(x[r0:r1, c0:c1]), "c": _planar(c[r0:r1, c0:c1])})
            total += float(s[0]) * (r1 - r0) * (c1 - c0)
    return total / (H * W)


def features(rgb: np.ndarray, base, gc, session, quality: float) -> tuple[float, float]:
    """(bpp of its shannon-v2 encoding at `quality`, discriminator mean logit on its gc reconstruction)."""
    H, W = rgb.shape[:2]
    data, c, (x,) = reconstructions(rgb, base, gc, quality)
    return len(data) * 8 / (H * W), discriminate(session, x, c)


def image_features(rgb: np.ndarray, base, session, quality: float) -> tuple[float, float]:
    """(bpp of its own file under `base` at `quality`, the discriminator's mean logit on the image itself given
    its Shannon-AE rendering x̂, post-filtered: what the discriminator saw beside the photos it trained on)."""
    from .api import compress, decompress
    H, W = rgb.shape[:2]
    data = compress(rgb, base, quality=quality)
    return len(data) * 8 / (H * W), discriminate(session, rgb, decompress(data, base, realism=0.0))


def score_dir_of(gc_weights: Path) -> Path:
    """weights/NAME.npz → weights/NAME-score/."""
    return Path(gc_weights).with_name(Path(gc_weights).stem + "-score")


def default_score_dir() -> Path:
    """The score of the installed gc model built on the default model (the newest in the manifest order, a
    user's included), else the shipped gc-v2-score."""
    from .weights import entries, read_manifest
    default = read_manifest().get("default")
    found = [score_dir_of(folder / e["file"]) for folder, e in entries()
             if e.get("mode") == "gc" and e.get("base", {}).get("name") == default
             and (score_dir_of(folder / e["file"]) / "score.json").is_file()]
    return found[-1] if found else SCORE_DIR


def rate_feature(bpp: float) -> float:
    return math.log2(max(bpp, 1e-6))


def feature_stats(values: list[tuple[float, float]]) -> dict:
    """The mean and std of the two features (rate as rate_feature) over photos, as score.json holds them."""
    a = np.array([(rate_feature(b), d) for b, d in values])
    mean, std = a.mean(0), a.std(0, ddof=1)
    return {"photos": len(values), "log2_bpp": {"mean": float(mean[0]), "std": float(std[0])},
            "d": {"mean": float(mean[1]), "std": float(std[1])}}


@dataclass
class Score:
    file: str
    width: int
    height: int
    bpp: float        # of its shannon-v2 encoding at the scoring quality
    d: float          # the discriminator's mean logit on its gc reconstruction
    z_rate: float     # (log2 bpp − mean) / std over training photos
    z_d: float        # (d − mean) / std over training photos
    novelty: float    # √(z_rate² + z_d²): distance from the training photos in their std units


class Scorer:
    """The exported discriminator, its statistics and the models they were made with (checked by sha256)."""

    def __init__(self, folder: Path | None = None):
        folder = Path(folder) if folder else default_score_dir()
        try:
            self.info = json.loads((folder / "score.json").read_text())
            if self.info.get("format") != SCORE_FORMAT:
                raise ValueError(f"format {self.info.get('format')!r}")
            stats = self.info["stats"]
            self.mean = np.array([stats["log2_bpp"]["mean"], stats["d"]["mean"]])
            self.std = np.array([stats["log2_bpp"]["std"], stats["d"]["std"]])
            self.quality = float(self.info["quality"])
            self.on_image = self.info.get("d_input", "gc") == "image"
        except (OSError, KeyError, ValueError, TypeError) as e:
            raise CodecError(f"{folder}: no usable novelty-score statistics ({type(e).__name__}: {e})") from None
        self.gc = load_model(self.info["gc"]["name"])
        self.base = load_model(self.info["base"]["name"])
        for role, lm in (("gc", self.gc), ("base", self.base)):
            if lm.sha256 != self.info[role]["sha256"]:
                raise CodecError(f"{folder}: the statistics were taken with {self.info[role]['name']} "
                                 f"{self.info[role]['sha256'][:16]}, but {lm.name} is {lm.sha256[:16]} (take them "
                                 "again: python -m ibc.codec.training.discriminator export)")
        from .postfilter import one_thread_session
        self.session = one_thread_session(str(folder / "discriminator.onnx"))

    def features(self, rgb: np.ndarray) -> tuple[float, float]:
        if self.on_image:
            return image_features(rgb, self.base, self.session, self.quality)
        return features(rgb, self.base, self.gc, self.session, self.quality)

    def score(self, rgb: np.ndarray, name: str = "image") -> Score:
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise CodecError(f"{name}: expected an (H,W,3) uint8 RGB image")
        if min(rgb.shape[:2]) < MIN_SIDE:
            raise CodecError(f"{name}: {rgb.shape[1]}×{rgb.shape[0]} is too small to score "
                             f"(at least {MIN_SIDE}×{MIN_SIDE})")
        bpp, d = self.features(rgb)
        z = (np.array([rate_feature(bpp), d]) - self.mean) / self.std
        return Score(name, rgb.shape[1], rgb.shape[0], bpp, d, float(z[0]), float(z[1]), float(np.hypot(*z)))


def score_files(paths: list[Path], folder: Path | None = None) -> list[dict]:
    """Score each image file; a folder stands for the images directly inside it (sorted)."""
    from .image_io import IMAGE_SUFFIXES, read_image
    files = []
    for p in map(Path, paths):
        if p.is_dir():
            inside = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise CodecError(f"{p}: no images found")
            files += inside
        elif not p.is_file():
            raise CodecError(f"{p}: no such file")
        else:
            files.append(p)
    scorer = Scorer(folder)
    rows = []
    for f in files:
        rows.append(asdict(scorer.score(read_image(f), str(f))))
    return rows


def table(rows: list[dict]) -> str:
    head = f"{'novelty':>8} {'z_rate':>7} {'z_d':>7} {'bpp':>8} {'d':>8}  file"
    return "\n".join([head] + [f"{r['novelty']:8.2f} {r['z_rate']:7.2f} {r['z_d']:7.2f} {r['bpp']:8.4f} "
                               f"{r['d']:8.3f}  {r['file']}" for r in rows]) + "\n"
