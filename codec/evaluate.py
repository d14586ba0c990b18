"""`ibc eval`: every codec × quality setting × image coded for real, measured, and cached so a run resumes.

Per image: real bytes → bpp, PSNR, MS-SSIM (also in dB), encode and decode seconds. Per setting: the means,
plus the realism distance (sliced Wasserstein) of all reconstructions against all originals, which needs
the whole set at once. Cache lines are keyed by codec identity (model hash or Pillow version), setting and
image content, so changed weights or images are never served stale results.
"""
import csv
import hashlib
import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .classical import CODECS
from .dataset import list_images
from .errors import CodecError
from .image_io import read_image, write_atomic
from .metrics import SlicedWasserstein, bpp, db, ms_ssim, psnr

DEFAULT_CODECS = ("ibc", "jpeg", "webp", "avif", "jpeg2000")
SWD = {"patches": 2048, "repeats": 4, "directions": 128, "seed": 0}  # 2048 patches per image and level
SUMMARY = ("bpp", "psnr", "ms_ssim", "ms_ssim_db", "swd", "encode_s", "decode_s")


@dataclass(frozen=True)
class IbcCoder:
    """The learned codec behind the same interface as the Pillow codecs; settings are quality levels."""
    lm: object
    sweep: tuple

    @property
    def name(self) -> str:
        return f"ibc:{self.lm.name}"

    @property
    def label(self) -> str:
        return f"ibc ({self.lm.name})"

    @property
    def key(self) -> str:
        return f"ibc:{self.lm.name}@{self.lm.sha256[:16]}"

    def encode(self, rgb: np.ndarray, level: int) -> bytes:
        from .api import compress
        return compress(rgb, self.lm, level=level)

    def decode(self, data: bytes) -> np.ndarray:
        from .api import decompress
        return decompress(data, self.lm)


def make_coder(spec: str, levels: list[int] | None = None):
    """`ibc`, `ibc:MODEL` (name or path) or a Pillow codec name → a coder with a default sweep."""
    kind, _, model = spec.partition(":")
    if kind == "ibc":
        from .weights import load_model
        lm = load_model(model or None)
        top = lm.model.cfg.stages
        bad = [L for L in levels or [] if not 1 <= L <= top]
        if bad:
            raise CodecError(f"level {bad[0]} is not in 1..{top} for model {lm.name}")
        return IbcCoder(lm, tuple(levels) if levels else tuple(range(1, top + 1)))
    if kind == "compressai":
        from .peer import PeerCoder
        return PeerCoder(Path(model))
    if spec in CODECS:
        CODECS[spec].check()
        return CODECS[spec]
    raise CodecError(f"unknown codec {spec!r} (choose from ibc[:MODEL], compressai:CKPT, {', '.join(CODECS)})")


class Cache:
    """Append-only JSON lines, one finished unit of work each; a torn last line (a killed run) is ignored."""

    def __init__(self, path: Path):
        self.path, self.records = Path(path), {}
        if self.path.is_file():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    self.records[entry["key"]] = entry["value"]
                except (ValueError, KeyError, TypeError):
                    continue

    def get(self, key: str):
        return self.records.get(key)

    def put(self, key: str, value: dict) -> None:
        self.records[key] = value
        with self.path.open("a") as f:
            f.write(json.dumps({"key": key, "value": value}) + "\n")


def _code(coder, rgb: np.ndarray, setting) -> tuple[dict, np.ndarray]:
    """Compress and decompress once for real; the measurements and the reconstruction."""
    t0 = time.perf_counter()
    data = coder.encode(rgb, setting)
    t1 = time.perf_counter()
    recon = coder.decode(data)
    t2 = time.perf_counter()
    if recon.shape != rgb.shape:
        raise CodecError(f"{coder.name} returned a {recon.shape} image for a {rgb.shape} one")
    sim = ms_ssim(rgb, recon)
    return {"bytes": len(data), "bpp": bpp(len(data), rgb.shape[1], rgb.shape[0]), "psnr": psnr(rgb, recon),
            "ms_ssim": sim, "ms_ssim_db": db(sim), "encode_s": t1 - t0, "decode_s": t2 - t1}, recon


def _realism(folder: Path, images: list[np.ndarray]) -> SlicedWasserstein:
    try:
        return SlicedWasserstein(images, **SWD)
    except ValueError as e:
        raise CodecError(f"{folder}: {e}") from None


def _mean(rows: list[dict], field: str) -> float | None:
    values = [r[field] for r in rows if r[field] is not None]
    return float(np.mean(values)) if values else None


def _finite(value):
    """JSON has no inf or NaN: undefined values (a lossless image's PSNR) are written as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v) for v in value]
    return value


def evaluate(folder: Path, specs: list[str], out: Path, levels: list[int] | None = None,
             limit: int | None = None, record: bool = False) -> dict:
    """Run every codec over every setting and image; write OUT (JSON), OUT.csv and OUT.cache.jsonl.
    With `record`, shipped ibc models' figures also go into weights/manifest.json."""
    from tqdm import tqdm

    out = Path(out)
    if not out.parent.is_dir():
        raise CodecError(f"{out.parent}: no such folder")
    if limit is not None and limit < 1:
        raise CodecError("--limit must be at least 1")
    coders = [make_coder(s, levels) for s in dict.fromkeys(specs or DEFAULT_CODECS)]
    paths = list_images(folder)[:limit]
    images = [read_image(p) for p in paths]
    digests = [hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in paths]
    cache = Cache(out.with_name(out.name + ".cache.jsonl"))
    realism = None  # built from the originals on first need: a fully cached run skips it
    swd_params = {"patch": SlicedWasserstein.PATCH, "min_side": SlicedWasserstein.MIN_SIDE, **SWD}

    results = []
    total = sum(len(c.sweep) for c in coders) * len(images)
    with tqdm(total=total, unit="image", disable=None, dynamic_ncols=True) as bar:
        for coder in coders:
            for setting in coder.sweep:
                bar.set_description(f"{coder.name} {setting}")
                set_key = json.dumps([coder.key, setting, digests, swd_params])
                realism_done = cache.get(set_key)
                rows, recons = [], []
                for path, rgb, digest in zip(paths, images, digests):
                    key = json.dumps([coder.key, setting, digest])
                    row = cache.get(key)
                    if row is None:
                        row, recon = _code(coder, rgb, setting)
                        cache.put(key, row)
                    elif realism_done is None:  # an interrupted setting: re-code for the reconstruction only
                        recon = _code(coder, rgb, setting)[1]
                    if realism_done is None:
                        recons.append(recon)
                    rows.append({"image": path.name, **row})
                    bar.update(1)
                if realism_done is None:
                    realism = realism or _realism(folder, images)
                    swd, swd_levels = realism.distance(recons)
                    realism_done = {"swd": swd, "swd_levels": swd_levels}
                    cache.put(set_key, realism_done)
                summary = {f: _mean(rows, f) for f in SUMMARY if f != "swd"}
                summary["ms_ssim_db"] = db(summary["ms_ssim"])  # dB of the mean, not the mean of dB
                results.append({"codec": coder.name, "label": coder.label, "setting": setting,
                                "images": len(rows), **summary, **realism_done, "per_image": rows})

    report = {"dataset": str(folder), "images": [p.name for p in paths], "swd": swd_params,
              "results": results}
    _write(out, report)
    if record:
        _record(coders, results, Path(folder).resolve().name, len(paths))
    return report


def _record(coders, results: list[dict], dataset: str, images: int) -> None:
    """Write each shipped ibc model's per-level figures into weights/manifest.json."""
    from .weights import record_figures
    for coder in coders:
        if isinstance(coder, IbcCoder):
            figures = [{k: r[k] for k in ("setting", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "swd")}
                       for r in results if r["codec"] == coder.name]
            record_figures(coder.lm.name, f"{dataset} ({images} images)", _finite(figures))


def _write(out: Path, report: dict) -> None:
    write_atomic(out, (json.dumps(_finite(report), indent=1) + "\n").encode(), force=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["codec", "setting", "images", *SUMMARY])
    for r in report["results"]:
        w.writerow([r["codec"], r["setting"], r["images"],
                    *("" if r[f] is None or not math.isfinite(r[f]) else f"{r[f]:.6g}" for f in SUMMARY)])
    write_atomic(out.with_suffix(".csv"), buf.getvalue().encode(), force=True)
