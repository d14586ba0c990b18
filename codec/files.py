"""One file in, one file out: the jobs behind `ibc compress` and `ibc decompress`, for single files and
folders alike (codec.bulk runs them over a folder's shards). Each returns a summary dict; failures raise
CodecError."""
from pathlib import Path

from .api import DEFAULT_SEED, check_seed, compress, decode, decoding_choices, model_for, read_header, read_indices, render
from .errors import CodecError
from .image_io import IMAGE_SUFFIXES, check_output_quality, read_image, write_atomic, write_image
from .metrics import psnr
from .step_code import quality_of_code, step_from_code
from .weights import LoadedModel, find_by_hash, find_generative, load_model


def _check_free(out: Path, force: bool) -> None:
    if out.exists() and not force:
        raise CodecError(f"{out}: already exists (use --force to overwrite)")


def model_for_mode(model: str | None = None, mode: str | None = None, backend: str = "auto") -> LoadedModel:
    """The model `ibc compress` encodes with: `model` (default: the shipped default) in its own mode, or for
    `mode` "gc" the shipped generative model built on it (the same payload, decoded by g_θ(ẑ, u); with no
    `model`, the shipped gc model on its own base when the default has none), or for "shannon" a gc
    model's shipped base. `backend` as in codec.weights (a gc model such as gc-v4 is numpy tables on its
    base, on its base's backend)."""
    lm = load_model(model, backend=backend)
    if mode is None or mode == lm.mode:
        return lm
    if mode == "gc":
        found = find_generative(lm.sha256) or (find_generative(None) if model is None else None)
        if found is None:
            raise CodecError(f"no generative (gc) model built on {lm.name!r} is installed "
                             "(train one with `ibc train --mode gc`, or pass a gc model with --model)")
        return found
    found = find_by_hash(lm.base_hash, backend=backend) if lm.base_hash else None
    if found is None:
        raise CodecError(f"{lm.name!r} is a generative (gc) model and its Shannon-AE base is not installed")
    return found


def quality_of(header) -> float:
    """The quality setting q a file was made at."""
    return quality_of_code(header.step_code)


def _step(header) -> dict:
    """A file's real quantiser step and the header's code for it: users see the step, not the code."""
    return {"step": step_from_code(header.step_code), "step_code": header.step_code}


def compress_file(src: Path, out: Path, model: str | None = None, quality: float | None = None,
                  target_bpp: float | None = None, size: int | None = None, drop_alpha: bool = False,
                  force: bool = False, verbose: bool = False, progress=None, mode: str | None = None,
                  seed: int = DEFAULT_SEED, backend: str = "auto", tune: str = "psnr") -> dict:
    _check_free(out, force)
    rgb = read_image(src, drop_alpha=drop_alpha)
    lm = model_for_mode(model, mode, backend)
    data = compress(rgb, lm, quality=quality, target_bpp=target_bpp, size=size, seed=seed, progress=progress,
                    tune=tune)
    write_atomic(out, data, force=force)
    H, W, _ = rgb.shape
    header = read_header(data)
    result = {"src": str(src), "out": str(out), "bytes": len(data), "pixels": W * H, "width": W, "height": H,
              "bpp": len(data) * 8 / (W * H), **_step(header),
              "quality": quality_of(header), "mode": header.mode, "seed": header.seed, "grey": header.grey,
              "tune": tune}
    if verbose:  # the pixels `ibc decompress` gives by default: generative for a gc file, with its seed
        result["psnr"] = psnr(rgb, decode(data, lm).image)
    return result


def sample_paths(out: Path, seeds) -> list[Path]:
    """x.png → x-s{seed}.png for each seed: a sample is named by the seed that reproduces it."""
    return [out.with_name(f"{out.stem}-s{s}{out.suffix}") for s in seeds]


def _all_windows(progress, k: int, n: int):
    """Report decoding sample k of n as part of one count, so a progress bar runs once over all samples."""
    return progress and (lambda done, total: progress(k * total + done, n * total))


def decompress_file(src: Path, out: Path, model: str | None = None, force: bool = False,
                    salvage: bool = False, progress=None, seed: int | None = None,
                    realism: float | None = None, samples: int | None = None, backend: str = "auto",
                    postfilter: bool = True, output_quality: int | None = None) -> dict:
    """Decode `src` into `out`; with `samples` N, into N files out-s{seed}.png for seeds seed … seed+N-1
    (default seed: the file's). Every output is checked free before any is written. A lossy output format
    (JPEG, WebP, AVIF) is written at `output_quality` (codec.image_io.write_image), and the result's
    "written_as" says so; None for a lossless one."""
    if output_quality is not None:
        check_output_quality(output_quality)
    if samples is not None and samples < 1:
        raise CodecError("--samples must be at least 1")
    if not Path(src).is_file():
        raise CodecError(f"{src}: no such file")
    data = Path(src).read_bytes()
    header = read_header(data)
    first, strength = decoding_choices(header, seed, realism)
    if samples is not None and strength == 0:
        raise CodecError("--samples draws the generative decoder's noise: it needs --realism above 0 "
                         f"(this file is mode {header.mode})")
    seeds = [first] if samples is None else list(range(first, first + samples))
    check_seed(*seeds)
    outs = [out] if samples is None else sample_paths(Path(out), seeds)
    for path in outs:
        _check_free(path, force)
    lm = model_for(header, load_model(model, backend=backend) if model else None, strength, backend)
    read = read_indices(data, lm, salvage)  # once: only the rendering depends on the seed
    for k, (s, path) in enumerate(zip(seeds, outs)):
        image = render(lm, header, read.indices, s, strength, progress=_all_windows(progress, k, len(outs)),
                       postfilter=postfilter)
        written_as = write_image(path, image[..., 0] if header.grey else image, force=force,  # greyscale: mode L
                                 quality=output_quality)
    H, W, _ = image.shape
    return {"src": str(src), "out": str(outs[0]), "outputs": [str(p) for p in outs], "seeds": seeds,
            "realism": strength, "bytes": len(data), "pixels": W * H, "width": W, "height": H,
            "bpp": len(data) * 8 / (W * H), **_step(header),
            "quality": quality_of(header), "model": header.model, "grey": header.grey,
            "damaged_tiles": read.damaged_tiles, "missing_tiles": read.missing_tiles, "written_as": written_as}


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
    suffix = ".ibc" if compressing else ".png"
    pairs = [(p, out_dir / (p.stem + suffix)) for p in inputs]
    _check_distinct(pairs)
    out_dir.mkdir(parents=True, exist_ok=True)
    return pairs


def _check_distinct(pairs) -> None:
    """Two inputs that map to one output (a.jpeg and a.png → a.ibc) are refused before anything is written."""
    seen = {}
    for src, out in pairs:
        if out.name.lower() in seen:
            raise CodecError(f"{seen[out.name.lower()]} and {src} would both be written to {out}; "
                             "rename one, or code them one at a time with -o")
        seen[out.name.lower()] = src
