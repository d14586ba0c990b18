"""`ibc train`: the one recipe that builds a complete model from a folder of photos, stage by stage.

    photos ─ split (by file-name hash, or --val) ─► rates → steps (measured on training photos)
      ─ design: ECVQ codebooks + integer context priors (entropy-constrained k-means, closed form)
      ─ post-filter: SGD on the model's own decodes over the rate range (the rest of the budget)
      ─ tune: the MS-SSIM tune's step weights per level, by a search over real files on the validation
        photos (codec.training.tune; TUNE_SHARE of the budget, at most TUNE_MAX_S)
      ─ tune-filter: the tune's own post-filter, trained for MS-SSIM on the tune's files from the model's
        filter (codec.training.postfilter --tune ms-ssim; TUNE_FILTER_SHARE, at most TUNE_FILTER_MAX_S)
      ─ [gc: the randomized decoder: the closed-form noise fill, then its head trained with eq. 36 against a
        discriminator (codec.training.generative) for the rest of the budget]
      ─ export: NAME.pt, NAME/ (ONNX graphs + tables), NAME-postfilter/, NAME-tune.json,
        NAME-postfilter-ms-ssim/, [NAME-gc.npz] into the user model directory (codec.weights.user_dir),
        with manifest entries
    With --base MODEL (mode gc), the Shannon-AE is an installed model whose bitstream stays as it is: only the
    gc stage runs, and NAME is the gc model (NAME.npz), as HiFiC freezes the encoder and trains the decoder.
    With --base MODEL in mode shannon (NAME = MODEL's name), only the tune stages run: MODEL-tune.json and
    MODEL-postfilter-ms-ssim/, the tunes of an installed model, whose tables and files stay as they are (a
    tune the model already has is kept, and its filter trained; remove MODEL-tune.json to refit it).

Everything happens in a run folder (default: beside the user model directory, runs/NAME): a stage that
finished is never run again, the post-filter resumes from its checkpoint, so a killed run re-run with the
same arguments continues where it stopped. `hours` is the budget of the whole recipe, set-up included:
the post-filter gets what the other stages leave.
"""
import hashlib
import json
import shutil
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from ..errors import CodecError
from ..image_io import read_image
from ..loaded_model import sha256_of
from ..step_code import code_from_step, quality_of_code, step_from_code

RECIPE_FORMAT = "ibc-recipe-1"
VAL_SHARE = 10          # one photo in VAL_SHARE is held out for validation (by the hash of its name)
MIN_SIDE = 128          # photos smaller than this on either side are skipped (the post-filter's crops)
DESIGN_STEPS = 7        # the design pools its statistics over this many steps, log-spaced over the range
GC_SHARE = 0.4          # with --mode gc, the share of the time left after the design that the gc stage gets
EXPORT_RESERVE_S = 30
TUNE_SHARE, TUNE_MAX_S = 0.1, 1200  # the tune stage's part of the budget (set aside from the post-filter's)
TUNE_PHOTOS, TUNE_QUALITIES = 8, 4  # validation photos and q values (over the run's q range) it codes
TUNE_FILTER_SHARE, TUNE_FILTER_MAX_S = 0.1, 1800  # the tune's post-filter (also set aside from the post-filter's)
BASE_FIT_SHARE = 0.4  # with --base in mode shannon: the tune search's share of the budget; its filter gets the rest
TUNE_FILTER_LR = 1e-4  # the tune's filter fine-tunes a trained one


@dataclass(frozen=True)
class Recipe:
    data: str                       # folder of training photos (any names; never the evaluation set)
    name: str                       # the model's name (not a shipped model's)
    rates: tuple = (0.1, 1.0)       # bits per pixel on the training photos the model is fitted to
    hours: float = 4.0              # wall-clock budget of the whole recipe
    mode: str = "shannon"           # "gc" adds the randomized decoder
    base: str | None = None         # an installed Shannon-AE model: gc on its bitstream, or (mode shannon) its tunes
    val: str | None = None          # validation folder (default: 1 in VAL_SHARE photos of `data`, by name hash)
    images: int = 30                # photos the codebooks and priors are designed on
    context: int = 3                # context version (codec.subband_context)
    tile: int = 512                 # coder tile side in pixels
    filter_depth: int = 8           # post-filter layers (models.postfilter)
    filter_width: int = 16          # … and channels
    filter_init: str | None = None  # warm-start the post-filter from this checkpoint (an earlier run's postfilter/checkpoint.pt)
    seed: int = 0

    def key(self) -> dict:
        """What a run folder is bound to: changing any of it needs a new run (the budget may change)."""
        return {k: v for k, v in asdict(self).items() if k != "hours"} | {"rates": list(self.rates)}


def say(message: str) -> None:
    print(f"train: {message}", file=sys.stderr, flush=True)


# -- data --------------------------------------------------------------------------------------------
def _usable(path: Path) -> str | None:
    """Why a photo cannot be used, or None."""
    try:
        rgb = read_image(path, drop_alpha=True)
    except CodecError as e:
        return str(e)
    except OSError as e:
        return f"{path}: {e.strerror or e}"
    if min(rgb.shape[:2]) < MIN_SIDE:
        return f"{path}: smaller than {MIN_SIDE} pixels on a side"
    return None


def _photos(folder: Path) -> tuple[list[Path], list[str]]:
    """Usable photos of a folder (sorted by name), and one line for each file skipped."""
    from .dataset import list_images
    from .loop import progress_bar
    folder = Path(folder)
    if "kodak" in folder.resolve().name.lower():
        raise CodecError(f"{folder}: Kodak is the evaluation set, never trained on")
    files = list_images(folder)
    good, skipped = [], []
    with progress_bar(f"reading {folder.name}") as progress:
        for k, p in enumerate(files):
            why = _usable(p)
            (skipped.append(why) if why else good.append(p))
            progress(k + 1, len(files))
    return good, skipped


def _name_hash(p: Path) -> int:
    return int.from_bytes(hashlib.sha256(p.name.encode()).digest()[:8], "big")


def split(recipe: Recipe) -> tuple[list[Path], list[Path], dict, list[str]]:
    """Training and validation photos, the record of exactly what was used, and why files were skipped."""
    train, skipped = _photos(Path(recipe.data))
    if recipe.val:
        val, more = _photos(Path(recipe.val))
        skipped += more
    else:  # deterministic and independent of how files are named: the smallest name hashes
        by_hash = sorted(train, key=_name_hash)
        val = sorted(by_hash[:max(1, len(train) // VAL_SHARE)])
        train = [p for p in train if p not in set(val)]
    if len(train) < 2 or not val:
        raise CodecError(f"{recipe.data}: too few usable photos ({len(train)} for training, {len(val)} for "
                         f"validation; at least {MIN_SIDE}×{MIN_SIDE} pixels each)")

    def listing(files):
        return {"folder": files[0].parent.name, "files": len(files),
                "list_sha256": hashlib.sha256("\n".join(p.name for p in files).encode()).hexdigest()}

    record = {"train": listing(train), "val": listing(val), "skipped": len(skipped),
              "split": "--val folder" if recipe.val else f"1 in {VAL_SHARE} by the sha256 of the file name"}
    return train, val, record, skipped


# -- rates ⇄ steps -----------------------------------------------------------------------------------
def steps_for_rates(files: list[Path], rates: tuple, n: int = 6, model: str | None = None) -> list[float]:
    """The quantiser steps that reach `rates` (bpp) on up to `n` training photos, measured with `model` (default:
    the shipped default; log bpp is about linear in log step); DESIGN_STEPS log-spaced from coarse to fine."""
    from ..api import compress
    from ..weights import load_model
    lm = load_model(model)
    probes = [step_from_code(code_from_step(s)) for s in (400.0, 160.0, 64.0, 24.0, 8.0)]
    rng = np.random.default_rng(0)
    chosen = [files[i] for i in sorted(rng.choice(len(files), min(n, len(files)), replace=False))]
    from .loop import progress_bar
    log_bpp = np.zeros(len(probes))
    with progress_bar("rates") as progress:
        for i, path in enumerate(chosen):
            rgb = read_image(path, drop_alpha=True)[:512, :512]
            for k, step in enumerate(probes):
                q = quality_of_code(code_from_step(step))
                log_bpp[k] += np.log(len(compress(rgb, lm, quality=min(max(q, 0), 100))) * 8 / rgb[..., 0].size)
                progress(i * len(probes) + k + 1, len(chosen) * len(probes))
    log_bpp /= len(chosen)
    fit = np.polyfit(log_bpp, np.log(probes), 1)
    lo, hi = (float(np.exp(np.polyval(fit, np.log(r)))) for r in (min(rates), max(rates)))
    return [float(s) for s in np.geomspace(lo, hi, DESIGN_STEPS)]


def quality_range(steps: list[float]) -> tuple[float, float]:
    """The -q range of the steps (q is log-linear in the step: codec.step_code), within 0..100."""
    qs = [min(max(quality_of_code(code_from_step(s)), 0.0), 100.0) for s in (steps[0], steps[-1])]
    return min(qs), max(qs)


# -- the run folder ----------------------------------------------------------------------------------
class Run:
    """state.json of a run folder: the recipe it is bound to, the stages done and the seconds spent."""

    def __init__(self, folder: Path, recipe: Recipe, restart: bool = False):
        self.folder, self.recipe = Path(folder), recipe
        if restart and self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.path = self.folder / "state.json"
        self.state = json.loads(self.path.read_text()) if self.path.exists() else \
            {"format": RECIPE_FORMAT, "recipe": recipe.key(), "done": {}, "values": {}}
        # a setting added since the run began counts as its default (the run was made with it)
        defaults = {f.name: f.default for f in fields(Recipe)}
        stored = {k: self.state["recipe"].get(k, defaults.get(k)) for k in recipe.key()}
        if stored != recipe.key():
            changed = sorted(k for k in recipe.key() if stored[k] != recipe.key()[k])
            raise CodecError(f"{self.folder}: this run was started with other settings ({', '.join(changed)}); "
                             "re-run with the same ones to continue, or pass --restart")
        self.started = time.time()

    def spent(self) -> float:
        """Seconds spent so far: the stages done, plus this process's time on the stage under way."""
        return sum(d["seconds"] for d in self.state["done"].values()) + time.time() - self.started

    def left(self) -> float:
        return self.recipe.hours * 3600 - self.spent()

    def done(self, stage: str) -> bool:
        return stage in self.state["done"]

    def finish(self, stage: str, before: float = 0.0, **values) -> None:
        """Mark `stage` done; `before`: its seconds in earlier, interrupted processes."""
        self.state["done"][stage] = {"seconds": round(before + time.time() - self.started, 1)}
        self.state["values"].update(values)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.state, indent=1))
        tmp.replace(self.path)
        self.started = time.time()

    def __getitem__(self, key):
        return self.state["values"][key]


STAGES = ("data", "rates", "design", "postfilter", "tune", "tune-filter", "gc", "score")  # then export, which is cheap and always runs


def train(recipe: Recipe, run_dir: Path, dest: Path, command: str, restart: bool = False,
          force: bool = False) -> Path:
    """Run (or continue) the recipe; returns the exported model's weights file in `dest`."""
    from ..retired import RETIRED
    from ..weights import WEIGHTS_DIR, shipped_names
    # a user's model may not shadow a shipped one; building into the shipped folder itself (a release's
    # models, --dest weights) may continue one, and the export still refuses to replace other weights
    shipped = set() if Path(dest).resolve() == WEIGHTS_DIR.resolve() else shipped_names()
    if recipe.base and recipe.mode == "shannon":  # the tunes of an installed model: no new model, no new name
        shipped = set()
    if recipe.name in shipped | set(RETIRED):
        raise CodecError(f"{recipe.name!r} is a shipped (or retired) model's name: choose another --name")
    if not recipe.name or any(c in recipe.name for c in "/\\") or recipe.name.startswith("."):
        raise CodecError(f"{recipe.name!r} is not a usable model name")
    if min(recipe.rates) <= 0 or recipe.hours <= 0:
        raise CodecError("--rates and --hours must be positive")
    if recipe.base:
        from ..weights import load_model
        base = load_model(recipe.base)
        if base.mode != "shannon":
            raise CodecError(f"--base {recipe.base!r} must be a Shannon-AE model, not a generative one")
        if recipe.mode == "shannon" and recipe.name != base.name:
            raise CodecError(f"--base in mode shannon fits the tunes of {base.name}: pass --name {base.name}")
    run = Run(run_dir, recipe, restart)
    stages = [s for s in STAGES if (s not in ("gc", "score") or recipe.mode == "gc")
              and not (recipe.base and s in ("design", "postfilter"))
              and not (s in ("tune", "tune-filter") and recipe.mode == "gc")]
    for k, stage in enumerate(stages, 1):
        if run.done(stage):
            say(f"stage {k}/{len(stages)}: {stage} (done before)")
            continue
        say(f"stage {k}/{len(stages)}: {stage} ({max(run.left(), 0) / 60:.1f} min of the budget left)")
        STAGE_FUNCTIONS[stage](run)
    return _export(run, dest, command, force)


def _data(run: Run) -> None:
    train, val, record, skipped = split(run.recipe)
    for why in skipped:
        say(f"skipped {why}")
    (run.folder / "files.json").write_text(json.dumps(
        {"train": [str(p) for p in train], "val": [str(p) for p in val]}, indent=0))
    say(f"{record['train']['files']} training photos, {record['val']['files']} validation photos, "
        f"{record['skipped']} skipped")
    run.finish("data", data=record)


def _files(run: Run) -> tuple[list[Path], list[Path]]:
    f = json.loads((run.folder / "files.json").read_text())
    return [Path(p) for p in f["train"]], [Path(p) for p in f["val"]]


def _rates(run: Run) -> None:
    train, _ = _files(run)
    steps = steps_for_rates(train, run.recipe.rates, model=run.recipe.base)
    q = quality_range(steps)
    say(f"rates {min(run.recipe.rates):g}–{max(run.recipe.rates):g} bpp: steps {steps[0]:.1f}–{steps[-1]:.1f}, "
        f"q {q[0]:g}–{q[1]:g}")
    run.finish("rates", steps=steps, q=list(q))


def _weights(run: Run) -> Path:
    """The Shannon-AE weights: the run's own, or the installed --base model's."""
    if run.recipe.base:
        from ..weights import resolve
        return resolve(run.recipe.base).resolve()
    return run.folder / f"{run.recipe.name}.pt"


def _gc_name(recipe: Recipe) -> str:
    return recipe.name if recipe.base else f"{recipe.name}-gc"


def _design(run: Run) -> None:
    import torch

    from .weights_torch import save_weights
    from .export_onnx import write_coding_bundle
    from .wavelet_start import ROUNDS, new_wavelet_model
    torch.set_num_threads(1)
    train, _ = _files(run)
    r = run.recipe
    model = new_wavelet_model(train, n=r.images, seed=r.seed, steps=tuple(run["steps"]), log=say,
                              context=r.context, tile=r.tile)
    how = (f"closed-form colour transform + 5-level CDF 9/7 lifting; ECVQ codebooks of 2×2 subband blocks and "
           f"integer context priors by entropy-constrained k-means ({ROUNDS} rounds) on {min(r.images, len(train))} "
           f"training photos, pooled over steps {[round(s, 1) for s in run['steps']]}; context version "
           f"{r.context}, {r.tile}-pixel tiles")
    save_weights(model, _weights(run), r.name, {"training": {"how": how}})
    write_coding_bundle(_weights(run))
    run.finish("design")


def _postfilter(run: Run) -> None:
    import torch

    from .postfilter import FilterConfig, export, train
    train_files, val_files = _files(run)
    q0, q1 = max(run["q"][0], 0.0), min(run["q"][1], 100.0)
    ckpt = run.folder / "postfilter" / "checkpoint.pt"  # an interrupted run's: its training time counts
    before = _checkpoint_seconds(ckpt)
    left = run.left() - before - EXPORT_RESERVE_S
    if run.recipe.mode == "shannon":
        left -= _tune_budget(run.recipe) + _tune_filter_budget(run.recipe)
    minutes = left * (1 - GC_SHARE if run.recipe.mode == "gc" else 1) / 60
    # the pool codes each photo once (about a second each): at most a quarter of what the stage had when it
    # first started (the same on a resumed run, so that its pool is the same)
    stage_budget = run.recipe.hours * 3600 - sum(d["seconds"] for d in run.state["done"].values())
    limit = int(max(8, 0.25 * stage_budget))
    cfg = FilterConfig(data=run.recipe.data, out=str(run.folder / "postfilter"), base=str(_weights(run)),
                       width=run.recipe.filter_width, depth=run.recipe.filter_depth, minutes=max(minutes, 0.05),
                       init=run.recipe.filter_init,
                       qualities=(q0, q1), val_qualities=tuple(float(q) for q in np.linspace(q0, q1, 4)),
                       seed=run.recipe.seed)
    torch.set_num_threads(1)
    deadline = run.started + minutes * 60
    train(cfg, train_files[:limit], val_files[:max(4, limit // 8)], deadline=deadline)
    if time.time() < deadline - 10:  # stopped by Ctrl-C or SIGTERM (checkpointed): continue on the next run
        raise KeyboardInterrupt
    export(Path(cfg.out))
    run.finish("postfilter", before)


def _checkpoint_seconds(ckpt: Path) -> float:
    """The training seconds an interrupted run's checkpoint holds (0 without one): they count in the budget."""
    import torch
    return torch.load(ckpt, map_location="cpu", weights_only=False)["train_seconds"] if ckpt.exists() else 0.0


def _tune_budget(recipe: Recipe) -> float:
    """Seconds the tune search has: a share of the budget (with --base, where the tune stages run alone, a
    larger one)."""
    return BASE_FIT_SHARE * recipe.hours * 3600 if recipe.base else min(TUNE_SHARE * recipe.hours * 3600, TUNE_MAX_S)


def _tune_filter_budget(recipe: Recipe) -> float:
    """Seconds the tune's post-filter has (with --base, what the search leaves: the budget's end bounds it)."""
    return recipe.hours * 3600 if recipe.base else \
        min(TUNE_FILTER_SHARE * recipe.hours * 3600, TUNE_FILTER_MAX_S)


def _tune(run: Run) -> None:
    """The MS-SSIM tune (codec.training.tune) on the validation photos, into the run folder's NAME-tune.json."""
    import torch

    from ..tune import TUNE_FORMAT, find_tune_file, tune_file
    from ..weights import load_model, user_dir
    from .tune import fit_ms_ssim
    torch.set_num_threads(1)
    lm = load_model(str(_weights(run)))
    out = run.folder / tune_file(_weights(run)).name
    installed = find_tune_file(_weights(run), user_dir()) if run.recipe.base else None
    if installed is not None and "ms-ssim" in (lm.tunes or {}):  # kept: its filter is what this run adds
        info = json.loads(installed.read_text())
        say(f"tune: {lm.name} already has its ms-ssim tune ({installed}): kept (remove the file to refit it)")
        shutil.copy2(installed, out)
        run.finish("tune", tune=info["training"]["validation"])
        return
    _, val = _files(run)
    photos = [rgb for rgb in map(read_image, val) if min(rgb.shape[:2]) > 160][:TUNE_PHOTOS]
    if not photos:  # a model without it still codes --tune psnr; `--base NAME --name NAME` fits it later
        say("tune: skipped (MS-SSIM's five scales need validation photos over 160 pixels on each side)")
        run.finish("tune", tune=None)
        return
    q0, q1 = max(run["q"][0], 0.0), min(run["q"][1], 100.0)
    qualities = tuple(round(float(q), 1) for q in np.linspace(q0, q1, TUNE_QUALITIES))
    deadline = time.time() + max(min(_tune_budget(run.recipe), run.left() - EXPORT_RESERVE_S), 60)
    fit = fit_ms_ssim(lm, photos, qualities, log=say, deadline=deadline)
    say(f"tune ms-ssim: step weight codes {fit['codes']}, {fit['bd_rate_ms_ssim']:+.2f} % MS-SSIM BD-rate "
        f"against uniform on {len(photos)} validation photos")
    info = {"format": TUNE_FORMAT, "base": {"name": lm.name, "sha256": lm.sha256},
            "tunes": {"ms-ssim": fit["codes"]},
            "training": {"how": "coordinate search over the level weights, real files, BD-rate of MS-SSIM dB "
                                "against uniform weights (codec/training/tune.py)",
                         "validation": {"photos": len(photos), "qualities": list(qualities), **fit}}}
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    tmp.replace(out)
    run.finish("tune", tune=info["training"]["validation"])


def _tune_filter(run: Run) -> None:
    """The ms-ssim tune's post-filter (codec.training.postfilter, tune ms-ssim), warm-started from the
    model's own filter, into the run folder's NAME-postfilter-ms-ssim/."""
    import torch

    from ..postfilter import filter_dir
    from ..tune import tune_file
    from .postfilter import MS_SSIM_CROP, FilterConfig, export, train
    tuned = run.folder / tune_file(_weights(run)).name
    if not tuned.exists():
        say("tune-filter: skipped (no tune was fitted)")
        run.finish("tune-filter", tune_filter=None)
        return
    codes = tuple(json.loads(tuned.read_text())["tunes"]["ms-ssim"])
    train_files, val_files = ([p for p in files if _min_side(p) >= MS_SSIM_CROP] for files in _files(run))
    if not train_files or not val_files:
        say(f"tune-filter: skipped (MS-SSIM's crops need {'training' if not train_files else 'validation'} "
            f"photos of {MS_SSIM_CROP} pixels a side)")
        run.finish("tune-filter", tune_filter=None)
        return
    q0, q1 = max(run["q"][0], 0.0), min(run["q"][1], 100.0)
    out = run.folder / "tune-filter"
    ckpt = out / "checkpoint.pt"  # an interrupted run's: its training time counts
    before = _checkpoint_seconds(ckpt)
    seconds = max(min(_tune_filter_budget(run.recipe) - before, run.left() - EXPORT_RESERVE_S), 10.0)
    limit = int(max(8, 0.2 * (seconds + before)))  # photos in the pool, at about a second each: a fifth of the time
    start = filter_dir(_weights(run))
    cfg = FilterConfig(data=run.recipe.data, out=str(out), base=str(_weights(run)), tune="ms-ssim", codes=codes,
                       width=run.recipe.filter_width, depth=run.recipe.filter_depth, lr=TUNE_FILTER_LR,
                       minutes=seconds / 60, init=str(start) if (start / "postfilter.onnx").is_file() else None,
                       qualities=(q0, q1), val_qualities=tuple(float(q) for q in np.linspace(q0, q1, 4)),
                       seed=run.recipe.seed)
    torch.set_num_threads(1)
    deadline = time.time() + seconds
    train(cfg, train_files[:limit], val_files[:max(4, limit // 8)], deadline=deadline)
    if time.time() < deadline - 10:  # stopped by Ctrl-C or SIGTERM (checkpointed): continue on the next run
        raise KeyboardInterrupt
    dest = export(out, run.folder / filter_dir(_weights(run), "ms-ssim").name)
    info = json.loads((dest / "postfilter.json").read_text())
    run.finish("tune-filter", before, tune_filter={"steps": info["training"]["steps"],
                                                   "validation": info["validation"]})


def _min_side(path: Path) -> int:
    from PIL import Image
    with Image.open(path) as im:
        return min(im.size)


def _gc(run: Run) -> None:
    """The randomized decoder: the noise fill in closed form (kept in the run folder), then its head trained
    with eq. 36 until the budget's end (resumable), then NAME-gc.npz with both."""
    import torch

    from ..noise_model import load_noise_model, save_noise_model
    from ..weights import load_model
    from .generative import HeadConfig, head_graph, train as train_head
    from .noise_design import crop, design_noise
    base = load_model(str(_weights(run)))
    train, val = _files(run)
    steps = run["steps"]
    meta = {"name": _gc_name(run.recipe), "base": {"name": base.name, "sha256": base.sha256}}
    fill_path = run.folder / "gc-fill.npz"
    if not fill_path.exists():
        fit_steps = steps[:4]  # the coarse half of the range: where detail goes missing
        val_steps = [steps[0], steps[2]]
        noise, record = design_noise(base.coder, [crop(p) for p in train[:40]], [crop(p) for p in val[:16]],
                                     fit_steps, val_steps, say)
        save_noise_model(fill_path, noise, {**meta, "training": {"fill": record}})
    fill = load_noise_model(fill_path, lambda *a, **k: base)
    record = fill.meta["training"]["fill"]
    head_dir = run.folder / "gc-head"
    ckpt = head_dir / "checkpoint.pt"  # an interrupted run's: its training time counts
    before = _checkpoint_seconds(ckpt)
    deadline = time.time() + max(run.left() - before - EXPORT_RESERVE_S, 3.0)
    cfg = HeadConfig(out=str(head_dir), seed=run.recipe.seed,
                     step_range=(min(steps[3], steps[0]), max(steps[3], steps[0])), val_steps=(steps[0], steps[2]))
    torch.set_num_threads(1)
    train_head(cfg, base, fill.noise, train[:240], val[:16], deadline=deadline)
    if time.time() < deadline - 10:  # stopped by Ctrl-C or SIGTERM (checkpointed): continue on the next run
        raise KeyboardInterrupt
    graph, head = head_graph(head_dir)
    say(f"gc head: step {head['steps']}, validation {head['validation']} (closed-form fill: "
        f"{head['validation_at_start']})")
    save_noise_model(run.folder / f"{_gc_name(run.recipe)}.npz", fill.noise,
                     {**meta, "head": head, "training": {"fill": record, "head": head}}, head=graph)
    run.finish("gc", before, gc={"fill": record, "head": head})


def _score(run: Run) -> None:
    """The novelty score (`ibc score`) of the gc model: its discriminator and statistics, NAME-score/."""
    from ..noise_model import load_noise_model
    from ..weights import load_model
    from .generative import export_score
    base = load_model(str(_weights(run)))
    gc = run.folder / f"{_gc_name(run.recipe)}.npz"
    lm = load_noise_model(gc, lambda *a, **k: base)
    train, val = _files(run)
    photos = val[:60] if len(val) >= 8 else val + train[:8 - len(val)]  # a std needs a few (tiny folders)
    q = quality_of_code(code_from_step(run["steps"][1]))
    info = export_score(run.folder / "gc-head", base, {"name": lm.name, "sha256": lm.sha256}, photos,
                        run.folder / f"{_gc_name(run.recipe)}-score", min(max(q, 0.0), 100.0))
    say(f"novelty score: statistics over {info['stats']['photos']} validation photos at q {info['quality']:.1f}")
    run.finish("score", score=info["stats"])


def _copy(src: Path, dest: Path) -> None:
    if src.is_dir():
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(src, tmp)
        shutil.rmtree(dest, ignore_errors=True)
        tmp.replace(dest)
    else:
        tmp = dest.with_name(dest.name + ".tmp")
        shutil.copy2(src, tmp)
        tmp.replace(dest)


def _sources(folder: str) -> dict:
    """Where the photos came from and on what terms, for the manifest: a SOURCES.md in the folder or beside it
    (its path and sha256), as a dataset ships it; nothing when there is none."""
    for place in (Path(folder), Path(folder).parent):
        notes = place / "SOURCES.md"
        if notes.is_file():
            text = notes.read_text(errors="replace")
            row = next((line for line in text.splitlines() if line.startswith(f"| {Path(folder).name}/ |")), None)
            return {"sources": {"file": f"{notes.parent.name}/{notes.name}", **({"row": row} if row else {}),
                                "sha256": hashlib.sha256(notes.read_bytes()).hexdigest()}}
    return {}


def _export(run: Run, dest: Path, command: str, force: bool) -> Path:
    from ..postfilter import filter_dir
    from ..tune import tune_file
    from ..weights import add_to_manifest, read_manifest, record_tunes
    r = run.recipe
    existing = {e["name"]: e for e in read_manifest(dest)["models"]}
    built = {} if r.base else {r.name: _weights(run)}  # name → file, the Shannon-AE first
    if r.mode == "gc":
        built[_gc_name(r)] = run.folder / f"{_gc_name(r)}.npz"
    for name, path in built.items():
        if name in existing and existing[name]["sha256"] != sha256_of(path) and not force:
            raise CodecError(f"a model {name!r} is already installed in {dest} (files made with it would no longer "
                             "decode after this one replaced it): choose another --name, or pass --force")
    dest.mkdir(parents=True, exist_ok=True)
    cpu_hours = round(sum(d["seconds"] for d in run.state["done"].values()) / 3600, 3)
    training = {"command": command, "recipe": r.key() | {"hours": r.hours}, "data": run["data"] | _sources(r.data),
                "steps": run["steps"], "quality_range": run["q"], "cpu_core_hours": cpu_hours,
                "stages_seconds": {k: d["seconds"] for k, d in run.state["done"].items()}}
    rates = {"rates_bpp": list(r.rates), "quality": f"q {run['q'][0]:g}–{run['q'][1]:g} reaches "
             f"{min(r.rates):g}–{max(r.rates):g} bpp on the training photos"}
    entries = {}
    tuned = run.folder / tune_file(_weights(run)).name
    tune_filter = run.folder / filter_dir(_weights(run), "ms-ssim").name
    tune_record = {"file": tuned.name, "ms-ssim": run.state["values"].get("tune"), "command": command}
    if tune_filter.is_dir() and run.state["values"].get("tune_filter"):
        tune_record["filter"] = {"folder": tune_filter.name, "command": command, **run["tune_filter"]}
    if tuned.exists():  # the tunes, with how they were fitted
        info = json.loads(tuned.read_text())
        if "command" in info["training"]:  # a tune kept from the installed model keeps its own record
            tune_record["command"] = info["training"]["command"]
        else:
            info["training"] = {**training, **info["training"]}
        tmp = dest / (tuned.name + ".tmp")
        tmp.write_text(json.dumps(info, indent=1))
        tmp.replace(dest / tuned.name)
        if tune_filter.is_dir():
            _copy(tune_filter, dest / tune_filter.name)
    if r.base and r.mode == "shannon":
        if not tuned.exists():
            raise CodecError("no tune was fitted: MS-SSIM needs validation photos over 160 pixels on each side "
                             "(pass some with --val)")
        record_tunes(r.name, tune_record, dest)
        say(f"the tunes of {r.name} installed in {dest / tuned.name}")
        return dest / tuned.name
    if not r.base:
        weights = _weights(run)
        pf = json.loads((run.folder / f"{r.name}-postfilter" / "postfilter.json").read_text())
        for part in (weights, weights.with_suffix(""), run.folder / f"{r.name}-postfilter"):
            _copy(part, dest / part.name)
        shannon = {**training, "postfilter": {"steps": pf["training"]["steps"], "validation": pf["validation"]}}
        tunes = {"tune": tune_record} if tuned.exists() else {}
        entries[r.name] = add_to_manifest(dest / weights.name, {"training": shannon, **rates, "origin": "ibc train",
                                                                **tunes}, weights_dir=dest)
    if r.mode == "gc":
        gc = built[_gc_name(r)]
        _copy(gc, dest / gc.name)
        if (run.folder / f"{_gc_name(r)}-score").is_dir():
            _copy(run.folder / f"{_gc_name(r)}-score", dest / f"{_gc_name(r)}-score")
        entries[_gc_name(r)] = add_to_manifest(dest / gc.name, {"origin": "ibc train", **rates,
                                                                "training": {**training, "gc": run["gc"]}},
                                               weights_dir=dest)
    entry = entries[next(iter(built))]
    say(f"model {', '.join(built)} installed in {dest} (sha256 {entry['sha256'][:16]}); "
        f"{cpu_hours:.2f} CPU-hours in all")
    return dest / entry["file"]


STAGE_FUNCTIONS = {"data": _data, "rates": _rates, "design": _design, "postfilter": _postfilter, "tune": _tune,
                   "tune-filter": _tune_filter, "gc": _gc, "score": _score}
