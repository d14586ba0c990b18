"""`ibc eval`: every codec × quality setting × image coded for real, measured, and cached so a run resumes.

Per image: real bytes → bpp, PSNR, MS-SSIM (also in dB), encode and decode seconds. Per setting: the means,
plus realism, which needs the whole set at once: the judge, a C2ST (c2st.py: a small CNN's accuracy at telling
held-out patches of the reconstructions from the originals', plain and conditional, with its 95 % null
threshold), and the sliced Wasserstein distance of all reconstructions against all originals as a second
opinion. Cache lines are keyed by codec identity (model hash or Pillow version), setting and
image content, so changed weights or images are never served stale results.

A generative (gc) model is also swept over its decoder's realism A (`--realism`): the file of a setting does not
depend on A, so each image is encoded once per setting, range-decoded once and rendered once per A; every A is
its own series ("ibc-gc (NAME) A=0.5"), and its cache keys add A and the decoder seed.

The images of a setting are coded on a distributor (codec.bulk: this process, a pool of -j processes, or a
Dask cluster), in shards; a worker reads each image by path, builds its coder once and sends back the
measurements and reconstructions, and the realism distance is computed here from all of them. The results
are the same on any distributor, apart from the timings.
"""
import csv
import hashlib
import io
import json
import math
import time
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..bulk import check_distributor, open_distributor, plan_shards
from ..errors import CodecError
from ..image_io import read_image, write_atomic
from ..metrics import SlicedWasserstein, bpp, db, ms_ssim, psnr
from ..training.dataset import list_images
from . import c2st as judge
from .classical import CODECS
from .codecs import Coder, IbcCoder

DEFAULT_CODECS = ("ibc", "jpeg", "webp", "avif", "jpeg2000")
SWD = {"patches": 2048, "repeats": 4, "directions": 128, "seed": 0}  # 2048 patches per image and level
SUMMARY = ("bpp", "psnr", "ms_ssim", "ms_ssim_db", "swd", "encode_s", "decode_s")
C2ST = {"seed": 0}  # the realism judge's seed; its other settings are c2st.py's constants (both in the cache key)
C2ST_FIELDS = ("c2st", "c2st_cond", "c2st_threshold", "c2st_n")


def make_coder(spec: str, levels: list[float] | None = None, realisms: list[float] | None = None,
               seed: int = 0) -> Coder:
    """`ibc`, `ibc:MODEL` (name or path), either with `@TUNE` (codec.tune: `ibc@ms-ssim`), or a Pillow codec
    name → a coder with a default sweep: `levels`,
    the q values `ibc eval --levels` takes, else EVAL_QUALITIES. A gc model runs each at each of
    `realisms` (default: A = 1, its own decoder)."""
    spec, tune = split_tune(spec)
    kind, _, model = spec.partition(":")
    if kind == "ibc":
        from ..weights import load_model
        lm = load_model(model or None)
        lm.step_weights(tune)  # refused here, before any coding, if the model lacks the tune
        bad = [q for q in levels or [] if not 0 <= q <= 100]
        if bad:
            raise CodecError(f"quality {bad[0]:g} is not in 0..100 for model {lm.name}")
        from ..wavelet_api import EVAL_QUALITIES
        sweep = tuple(float(q) for q in levels) if levels else tuple(map(float, EVAL_QUALITIES))
        if lm.mode != "gc":
            return IbcCoder(lm, sweep, tune=tune)
        return IbcCoder(lm, sweep, tuple(dict.fromkeys(float(a) for a in realisms or [1.0])), seed)
    if tune != "psnr":
        raise CodecError(f"@{tune} is a tune of ibc models (ibc[:MODEL]@TUNE), not of {spec}")
    if spec in CODECS:
        CODECS[spec].check()
        return CODECS[spec]
    raise CodecError(f"unknown codec {spec!r} (choose from ibc[:MODEL], {', '.join(CODECS)})")


def split_tune(spec: str) -> tuple[str, str]:
    """`ibc:MODEL@ms-ssim` → (`ibc:MODEL`, "ms-ssim"); without a known tune after an @, (spec, "psnr")."""
    from ..tune import TUNES
    head, at, tune = spec.rpartition("@")
    return (head, tune) if at and tune in TUNES else (spec, "psnr")


@lru_cache(maxsize=16)
def _worker_coder(spec: str, levels: tuple | None, realisms: tuple | None, seed: int) -> Coder:
    """A worker's coder, built once (with its model) for all the images it codes."""
    return make_coder(spec, list(levels) if levels else None, list(realisms) if realisms else None, seed)


def _code_shard(coder_args: tuple, setting, units: list, drop_alpha: bool, threads: int | None) -> list:
    """A worker's part of a setting: each unit (image path, realisms to reconstruct at) coded for real, as
    `_code` codes it. `threads`: torch's (MS-SSIM), as the caller runs it."""
    if threads:
        import torch
        torch.set_num_threads(threads)
    coder = _worker_coder(*coder_args)
    return [_code(coder, read_image(Path(path), drop_alpha=drop_alpha), setting, tuple(todo)) for path, todo in units]


def _coder_args(spec: str, levels, realisms, seed: int, absolute: bool) -> tuple:
    """What a worker needs to build the coder of `spec` (hashable); a model path made absolute for a cluster."""
    kind, _, model = spec.partition(":")
    if absolute and kind == "ibc" and model and Path(model).is_file():
        spec = f"ibc:{Path(model).resolve()}"
    return spec, tuple(levels) if levels else None, tuple(realisms) if realisms else None, seed


def _code_units(d, coder_args: tuple, setting, units: list, drop_alpha: bool, threads, shard_size, done) -> dict:
    """{image index: {realism: (measurements, reconstruction)}} of units [(index, path, realisms)], coded in
    shards on distributor `d`; `done(index, coded)` as each image's results come back."""
    shards = plan_shards(units, shard_size or d.shard_size(len(units))) if units else []
    out = {}
    args = [(coder_args, setting, [(p, todo) for _, p, todo in shard], drop_alpha, threads) for shard in shards]
    for i, result, lost in d.map(_code_shard, args):
        if lost is not None:
            raise CodecError(f"{shards[i][0][1]} (and the rest of its shard): not coded: {lost}")
        for (k, _, todo), coded in zip(shards[i], result):
            out[k] = dict(zip(todo, coded))
            done(k, out[k])
    return out


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


def _code(coder: Coder, rgb: np.ndarray, setting, realisms=(None,)) -> list[tuple[dict, np.ndarray]]:
    """Compress once for real and reconstruct at each realism A (None: the codec's only decoder); the
    measurements and the reconstruction of each."""
    t0 = time.perf_counter()
    data = coder.encode(rgb, setting)
    encode_s = time.perf_counter() - t0
    out = []
    for recon, decode_s in coder.reconstruct(data, tuple(realisms)):
        if recon.shape != rgb.shape:
            raise CodecError(f"{coder.name} returned a {recon.shape} image for a {rgb.shape} one")
        sim = ms_ssim(rgb, recon)
        out.append(({"bytes": len(data), "bpp": bpp(len(data), rgb.shape[1], rgb.shape[0]),
                     "psnr": psnr(rgb, recon), "ms_ssim": sim, "ms_ssim_db": db(sim), "encode_s": encode_s,
                     "decode_s": decode_s}, recon))
    return out


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


def _variant(coder, realism) -> list:
    """What a realism A adds to a cache key: nothing for a codec with one decoder, so old caches stay valid."""
    return [] if realism is None else [{"realism": realism, "seed": coder.seed}]


def _judge(images: list[np.ndarray], recons: list[np.ndarray]) -> dict:
    """The C2ST of one setting's reconstructions, plain and conditional: the same seed gives both the same
    held-out patches, so the same n and 95 % null threshold."""
    plain, cond = (judge.c2st(images, recons, conditional=c, **C2ST) for c in (False, True))
    return {"c2st": plain.accuracy, "c2st_cond": cond.accuracy, "c2st_threshold": plain.threshold95,
            "c2st_n": plain.n_test}


def _summary(coder, setting, realism, rows: list[dict], swd: dict, judged: dict | None = None) -> dict:
    """One result: the means over the images of one setting (and realism A, for a gc model)."""
    summary = {f: _mean(rows, f) for f in SUMMARY if f != "swd"}
    summary["ms_ssim_db"] = db(summary["ms_ssim"])  # dB of the mean, not the mean of dB
    head = {"codec": coder.name, "label": coder.label, "setting": setting}
    if realism is not None:
        head.update(label=f"{coder.label} A={realism:g}", realism=realism, seed=coder.seed)
    judged = judged or dict.fromkeys(C2ST_FIELDS)
    return {**head, "images": len(rows), **summary, **swd, **judged, "per_image": rows}


def _readable(paths: list[Path], drop_alpha: bool, warn) -> tuple[list[Path], list[np.ndarray], list[str]]:
    """The images that can be coded, and why each other one cannot: one bad image does not end a run."""
    kept, images, skipped = [], [], []
    for path in paths:
        try:
            images.append(read_image(path, drop_alpha=drop_alpha))
            kept.append(path)
        except CodecError as e:
            skipped.append(str(e))
            if warn:
                warn(f"{e} (skipped)")
    if not kept:
        raise CodecError(f"no image in {paths[0].parent} could be read (first: {skipped[0]})")
    return kept, images, skipped


def evaluate(folder: Path, specs: list[str], out: Path, levels: list[float] | None = None,
             limit: int | None = None, record: bool = False, realisms: list[float] | None = None,
             seed: int = 0, drop_alpha: bool = False, warn=None, distributor: str = "local",
             jobs: int | None = None, scheduler: str | None = None, shard_size: int | None = None,
             threads: int | None = None, c2st: bool = True) -> dict:
    """Run every codec over every setting and image; write OUT (JSON), OUT.csv and OUT.cache.jsonl.
    gc models run at each of `realisms` with decoder seed `seed`. An image that cannot be read is
    reported to `warn(message)`, listed under "skipped" and left out.
    The images are coded on `distributor` (codec.bulk: "local", in this process or -j `jobs` processes,
    or "dask", on the cluster at `scheduler` or a LocalCluster of `jobs` workers), in shards of
    `shard_size` images (default: codec.bulk's), with `threads` torch threads each (None: as they are).
    With `c2st` (unless two images have no room for a patch) each setting is also judged by the C2ST
    (c2st.py), plain and conditional; figures already in the cache are reported either way.
    With `record`, shipped ibc models' figures also go into weights/manifest.json."""
    from tqdm import tqdm

    out = Path(out)
    if not out.parent.is_dir():
        raise CodecError(f"{out.parent}: no such folder")
    if limit is not None and limit < 1:
        raise CodecError("--limit must be at least 1")
    if any(not 0 <= a <= 1 for a in realisms or []):
        raise CodecError("--realism values must lie in [0, 1]")
    from ..api import check_seed
    check_seed(seed)
    check_distributor(distributor, jobs, scheduler, shard_size)
    specs = list(dict.fromkeys(specs or DEFAULT_CODECS))
    coders = [make_coder(s, levels, realisms, seed) for s in specs]
    if realisms and all(c.realisms == (None,) for c in coders):
        raise CodecError("--realism needs a generative model: --codec ibc:MODEL with a gc model")
    paths, images, skipped = _readable(list_images(folder)[:limit], drop_alpha, warn)
    digests = [hashlib.sha256(p.read_bytes()).hexdigest()[:16] for p in paths]
    cache = Cache(out.with_name(out.name + ".cache.jsonl"))
    reference = None  # the originals' patch sets, built on first need: a fully cached run skips it
    swd_params = {"patch": SlicedWasserstein.PATCH, "min_side": SlicedWasserstein.MIN_SIDE, **SWD}
    c2st_params = {**judge.settings(), **C2ST}
    if c2st and len(judge.usable(images)) < 2:
        c2st = False
        if warn:
            warn(f"no C2ST: it needs two images with sides of at least {judge.PATCH} px")

    results = []
    total = sum(len(c.sweep) * len(c.realisms) for c in coders) * len(images)
    with open_distributor(distributor, jobs, scheduler) as d, \
            tqdm(total=total, unit="image", disable=None, dynamic_ncols=True) as bar:
        image_paths = [str(p.resolve()) if d.absolute else str(p) for p in paths]
        for spec, coder in zip(specs, coders):
            variants = coder.realisms
            coder_args = _coder_args(spec, levels, realisms, seed, d.absolute)
            for setting in coder.sweep:
                bar.set_description(f"{coder.name} {setting}")
                set_keys = {a: json.dumps([coder.key, setting, digests, swd_params, *_variant(coder, a)])
                            for a in variants}
                swd_done = {a: cache.get(k) for a, k in set_keys.items()}
                c2st_keys = {a: json.dumps([coder.key, setting, digests, c2st_params, *_variant(coder, a)])
                             for a in variants}
                c2st_done = {a: cache.get(k) for a, k in c2st_keys.items()}
                whole = {a: swd_done[a] is None or (c2st and c2st_done[a] is None) for a in variants}
                keys, cached, units = [], [], []
                for k, digest in enumerate(digests):
                    keys.append({a: json.dumps([coder.key, setting, digest, *_variant(coder, a)]) for a in variants})
                    cached.append({a: cache.get(key) for a, key in keys[k].items()})
                    # An interrupted setting re-codes its finished images too: realism needs every reconstruction.
                    todo = [a for a in variants if cached[k][a] is None or whole[a]]
                    if todo:
                        units.append((k, image_paths[k], todo))

                def done(k, coded):
                    for a, (measured, _) in coded.items():
                        if cached[k][a] is None:
                            cached[k][a] = measured
                            cache.put(keys[k][a], measured)
                    bar.update(len(variants))

                coded = _code_units(d, coder_args, setting, units, drop_alpha, threads, shard_size, done)
                bar.update(len(variants) * (len(paths) - len(units)))
                rows, recons = {a: [] for a in variants}, {a: [] for a in variants}
                for k, path in enumerate(paths):
                    for a in variants:
                        if whole[a]:
                            recons[a].append(coded[k][a][1])
                        rows[a].append({"image": path.name, **cached[k][a]})
                for a in variants:
                    if swd_done[a] is None:
                        reference = reference or _realism(folder, images)
                        swd, swd_levels = reference.distance(recons[a])
                        swd_done[a] = {"swd": swd, "swd_levels": swd_levels}
                        cache.put(set_keys[a], swd_done[a])
                    if c2st and c2st_done[a] is None:
                        bar.set_description(f"{coder.name} {setting}: C2ST")
                        c2st_done[a] = _judge(images, recons[a])
                        cache.put(c2st_keys[a], c2st_done[a])
                    results.append(_summary(coder, setting, a, rows[a], swd_done[a], c2st_done[a]))

    report = {"dataset": str(folder), "images": [p.name for p in paths], "skipped": skipped, "swd": swd_params,
              "c2st": c2st_params, "results": results}
    _write(out, report)
    if record:
        _record(coders, results, Path(folder).resolve().name, len(paths))
    return report


def _record(coders, results: list[dict], dataset: str, images: int) -> None:
    """Write each shipped ibc model's per-setting figures into weights/manifest.json."""
    from ..weights import record_figures
    for coder in coders:
        if isinstance(coder, IbcCoder):
            fields = ("setting", "realism", "bpp", "psnr", "ms_ssim", "ms_ssim_db", "swd", "c2st", "c2st_cond")
            figures = [{k: r[k] for k in fields if k in r} for r in results if r["codec"] == coder.name]
            tune = "" if coder.tune == "psnr" else f", tune {coder.tune}"
            record_figures(coder.lm.name, f"{dataset} ({images} images{tune})", _finite(figures))


def _write(out: Path, report: dict) -> None:
    write_atomic(out, (json.dumps(_finite(report), indent=1) + "\n").encode(), force=True)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    # realism and the C2ST last: old readers keep working
    w.writerow(["codec", "setting", "images", *SUMMARY, "realism", *C2ST_FIELDS])
    for r in report["results"]:
        w.writerow([r["codec"], r["setting"], r["images"],
                    *("" if r[f] is None or not math.isfinite(r[f]) else f"{r[f]:.6g}" for f in SUMMARY),
                    r.get("realism", ""), *("" if r.get(f) is None else f"{r[f]:.6g}" for f in C2ST_FIELDS)])
    write_atomic(out.with_suffix(".csv"), buf.getvalue().encode(), force=True)
