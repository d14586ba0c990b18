"""One file in, one file out: the jobs behind `ibc compress` and `ibc decompress`, for single files and
folders alike. Each returns a summary dict; failures raise CodecError."""
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import torch

from .api import compress, decode, read_header
from .dataset import IMAGE_SUFFIXES
from .errors import CodecError
from .image_io import read_image, write_atomic, write_image
from .metrics import psnr
from .weights import load_model


def _check_free(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise CodecError(f"{out}: already exists (use --force to overwrite)")


def compress_file(src: Path, out: Path, model: str | None = None, level: int | None = None,
                  target_bpp: float | None = None, size: int | None = None, drop_alpha: bool = False,
                  force: bool = False, verbose: bool = False, progress=None) -> dict:
    _check_free(out, force)
    rgb = read_image(src, drop_alpha=drop_alpha)
    lm = load_model(model)
    data = compress(rgb, lm, level=level, target_bpp=target_bpp, size=size, progress=progress)
    write_atomic(out, data, force=force)
    H, W, _ = rgb.shape
    result = {"src": str(src), "out": str(out), "bytes": len(data), "pixels": W * H, "width": W, "height": H,
              "bpp": len(data) * 8 / (W * H), "level": read_header(data).level}
    if verbose:
        result["psnr"] = psnr(rgb, decode(data, lm).image)
    return result


def decompress_file(src: Path, out: Path, model: str | None = None, force: bool = False,
                    salvage: bool = False, progress=None) -> dict:
    _check_free(out, force)
    if not Path(src).is_file():
        raise CodecError(f"{src}: no such file")
    data = Path(src).read_bytes()
    decoded = decode(data, load_model(model) if model else None, salvage=salvage, progress=progress)
    write_image(out, decoded.image, force=force)
    H, W, _ = decoded.image.shape
    return {"src": str(src), "out": str(out), "bytes": len(data), "pixels": W * H, "width": W, "height": H,
            "damaged_tiles": decoded.damaged_tiles}


def folder_jobs(src_dir: Path, out_dir: Path, compressing: bool) -> list[tuple[Path, Path]]:
    """(input, output) pairs for every image (or .ibc file) in src_dir; output names keep the stem."""
    src_dir, out_dir = Path(src_dir), Path(out_dir)
    if not src_dir.is_dir():
        raise CodecError(f"{src_dir}: no such folder")
    if compressing:
        inputs = [p for p in sorted(src_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES]
    else:
        inputs = sorted(src_dir.glob("*.ibc"))
    if not inputs:
        raise CodecError(f"{src_dir}: no {'images' if compressing else '.ibc files'} found")
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = ".ibc" if compressing else ".png"
    return [(p, out_dir / (p.stem + suffix)) for p in inputs]


def _run_one(job, src, out, kwargs, threads):
    torch.set_num_threads(threads)
    try:
        return src, job(src, out, **kwargs), None
    except CodecError as e:
        return src, None, str(e)
    except OSError as e:
        return src, None, f"{src}: {e.strerror or e}"


def run_folder(job, pairs, workers: int, **kwargs):
    """Run `job` on every (src, out) pair in `workers` processes; yields (src, result | None, error | None)
    as files finish. One file's failure does not stop the others."""
    threads = max(1, (os.cpu_count() or 1) // max(1, workers))
    if workers <= 1:
        for src, out in pairs:
            yield _run_one(job, src, out, kwargs, threads)
        return
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_one, job, src, out, kwargs, threads) for src, out in pairs]
        for f in as_completed(futures):
            yield f.result()
