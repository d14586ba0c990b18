"""Shipped models: the manifest, and loading a model by name, path or hash on a backend.

A model is a weights file (`NAME.pt`, torch) and its ONNX coding bundle beside it (`NAME/`,
`codec.coding_bundle`): the graphs of the transform plus the integer tables; a gc model is `NAME.npz`,
numpy tables on its base (`codec.noise_model`). Backends:

    "onnx"   the bundle on ONNX Runtime + numpy: the coding path, which never imports torch
    "torch"  the .pt on torch (training, evaluation, and checking the other)
    "auto"   onnx when the model has a bundle and onnxruntime is installed, else torch

Either backend gives the same indices, so files from one decode with the other. This module imports
no torch. The torch backend needs the trainable model, so it loads through `codec.training.weights_torch`
(which reads and writes the .pt files): the one import from the core up into training, made only when that
backend is chosen or a model has no bundle, and only with the train extra installed.

Models live in two places with the same layout (manifest.json + the files it names): the shipped ones in
the package's `weights/`, never written after install, and the user's (`ibc train`) in the user model
directory, `user_dir()`. A name is looked up in both; a user model may not take a shipped name."""
import dataclasses
import importlib.util
import json
import os
import sys
from functools import lru_cache
from pathlib import Path

from .errors import CodecError
from .loaded_model import FORMAT, LoadedModel, sha256_of  # noqa: F401  (the names callers know from here)

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
BACKENDS = ("auto", "onnx", "torch")
TRAIN_EXTRA = "pip install 'ibc[train]'"


def user_dir() -> Path:
    """Where `ibc train` puts models: $IBC_MODEL_PATH, else the platform's data directory + ibc/models
    (~/.local/share on Linux, or $XDG_DATA_HOME; ~/Library/Application Support; %APPDATA%)."""
    if os.environ.get("IBC_MODEL_PATH"):
        return Path(os.environ["IBC_MODEL_PATH"]).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA") or Path.home() / "AppData" / "Roaming")
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "ibc" / "models"


def _dirs(weights_dir: Path | None) -> list[Path]:
    """The model directories searched: the one given, else the shipped one, then the user's."""
    return [Path(weights_dir)] if weights_dir is not None else [WEIGHTS_DIR, user_dir()]


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict:
    path = Path(weights_dir) / "manifest.json"
    if not path.is_file():
        return {"default": None, "models": []}
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CodecError(f"{path}: unreadable model manifest ({e})") from None


def entries(weights_dir: Path | None = None):
    """(folder, manifest entry) of every model found, shipped ones first."""
    for folder in _dirs(weights_dir):
        for entry in read_manifest(folder)["models"]:
            yield folder, entry


def _folder_model(folder: Path) -> Path:
    """A model folder (a manifest.json beside its files, as `ibc train` writes one): its default model."""
    manifest = read_manifest(folder)
    entry = next((e for e in manifest["models"] if e["name"] == manifest.get("default")), None)
    if entry is None:
        raise CodecError(f"{folder}: not a model folder (no manifest.json with a default model)")
    return folder / entry["file"]


def resolve(name_or_path: str | None, weights_dir: Path | None = None) -> Path:
    """A path to a weights file or a model folder, a model name (shipped or the user's), or None for the
    shipped default model."""
    if name_or_path and Path(name_or_path).is_file():
        return Path(name_or_path)
    if name_or_path and (Path(name_or_path) / "manifest.json").is_file():
        return _folder_model(Path(name_or_path))
    name = name_or_path or read_manifest(_dirs(weights_dir)[0]).get("default")
    for folder, entry in entries(weights_dir):
        if entry["name"] == name:
            return folder / entry["file"]
    known = ", ".join(e["name"] for _, e in entries(weights_dir)) or "none installed"
    raise CodecError(f"unknown model {name!r} (known: {known}; or give a path to a model file or folder)")


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise CodecError(f"unknown backend {backend!r} (choose one of {', '.join(BACKENDS)})")
    return backend


@lru_cache(maxsize=8)
def _load(path: Path, backend: str = "auto") -> LoadedModel:
    from .coding_bundle import bundle_dir, load_bundle
    check_backend(backend)
    if path.suffix == ".npz":  # a wavelet gc model: numpy tables on its base
        from .noise_model import load_noise_model
        return load_noise_model(path, find_by_hash, backend)
    if backend != "torch" and bundle_dir(path).is_dir() and (backend == "onnx" or _has("onnxruntime")):
        return _with_postfilter(path, load_bundle(path))
    if backend == "onnx":
        raise CodecError(f"{path}: no ONNX graphs beside it (write them with `ibc export --onnx-only {path}`)")
    if not _has("torch"):
        why = "--backend torch" if backend == "torch" else "this model has no ONNX graphs and"
        raise CodecError(f"{path}: {why} needs PyTorch ({TRAIN_EXTRA})")
    from .training.weights_torch import load_torch
    return _with_postfilter(path, load_torch(path))


def _with_postfilter(path: Path, lm: LoadedModel) -> LoadedModel:
    """A model with the post-filter trained for it (weights/NAME-postfilter/), the tunes fitted for it
    (weights/NAME-tune.json) and their filters (weights/NAME-postfilter-TUNE/), where they are installed."""
    from .postfilter import load_postfilter
    from .tune import TUNES, load_tunes
    runner = load_postfilter(path, lm.sha256)
    tunes = load_tunes(path, lm.sha256, user_dir())
    filters = {}
    for t in TUNES[1:]:
        if t in (tunes or {}) and (f := load_postfilter(path, lm.sha256, t, user_dir())) is not None:
            filters[t] = f
    return dataclasses.replace(lm, postfilter=runner, tunes=tunes, tune_filters=filters or None)


def load_model(name_or_path: str | None = None, weights_dir: Path | None = None, backend: str = "auto") -> LoadedModel:
    return _load(resolve(name_or_path, weights_dir).resolve(), backend)


def find_by_hash(weights_hash: bytes, weights_dir: Path | None = None, backend: str = "auto") -> LoadedModel | None:
    """The installed model (shipped or the user's) whose sha256 starts with `weights_hash`, if any."""
    for folder, entry in entries(weights_dir):
        if bytes.fromhex(entry["sha256"][:16]) == weights_hash:
            return _load((folder / entry["file"]).resolve(), backend)
    return None


def find_generative(base_sha256: str | None, weights_dir: Path | None = None) -> LoadedModel | None:
    """The installed generative (gc) model built on the Shannon-AE weights with this sha256 (None: the
    first shipped gc model, whatever its base), if any."""
    for folder, entry in entries(weights_dir):
        if entry.get("mode") == "gc" and base_sha256 in (None, entry.get("base", {}).get("sha256")):
            return _load((folder / entry["file"]).resolve())
    return None


def shipped_names() -> set[str]:
    return {e["name"] for e in read_manifest(WEIGHTS_DIR)["models"]}


def add_to_manifest(path: Path, meta: dict, default: bool = False, weights_dir: Path = WEIGHTS_DIR) -> dict:
    """Record a weights file in manifest.json (replacing an entry of the same name); returns the entry."""
    from .training.weights_torch import wavelet_config
    model = _load(Path(path).resolve(), "torch")
    if model.noise is not None:  # a gc model
        rates = {"quality": "q 0–100, as its base"}
        config = {"arch": "wavelet", "decoder": "noise-fill" + (" + generative head" if model.head else ""),
                  "levels": list(model.noise.levels), **({"head": model.meta["head"]["config"]} if model.head else {})}
    else:
        rates = {"quality": "q 0–100, log-linear in the quantiser step (codec/wavelet_api.py)"}
        config = wavelet_config(model.model)
    entry = {"name": model.name, "file": Path(path).name, "sha256": model.sha256, "mode": model.mode,
             **rates, "bytes": Path(path).stat().st_size, "config": config,
             **{k: v for k, v in model.meta.items() if k != "name"}, **meta}
    manifest = read_manifest(weights_dir)
    manifest["models"] = [e for e in manifest["models"] if e["name"] != entry["name"]] + [entry]
    if default or not manifest.get("default"):
        manifest["default"] = entry["name"]
    _write_manifest(manifest, weights_dir)
    return entry


def _edit_entry(name: str, edit, weights_dir: Path) -> bool:
    """Apply `edit(entry)` to the manifest entry `name` and write the manifest; False when it has no such model."""
    manifest = read_manifest(weights_dir)
    entry = next((e for e in manifest["models"] if e["name"] == name), None)
    if entry is None:
        return False
    edit(entry)
    _write_manifest(manifest, weights_dir)
    return True


def record_figures(name: str, dataset: str, figures: list[dict], weights_dir: Path = WEIGHTS_DIR) -> bool:
    """Store measured per-setting figures under `measured[dataset]` of the manifest entry `name`;
    False when no shipped model has that name."""
    return _edit_entry(name, lambda e: e.setdefault("measured", {}).__setitem__(dataset, figures), weights_dir)


def record_tunes(name: str, tunes: dict, weights_dir: Path = WEIGHTS_DIR) -> bool:
    """Store how a model's tunes (codec.tune) were fitted under `tune` of its manifest entry `name`; False
    when that manifest has no such model."""
    return _edit_entry(name, lambda e: e.__setitem__("tune", tunes), weights_dir)


def _write_manifest(manifest: dict, weights_dir: Path) -> None:
    out = Path(weights_dir) / "manifest.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(out)
