"""Shipped models: the manifest, writing frozen weights, and loading them by name or hash.

One weights format holds either architecture; its config's `arch` says which: "block" (CodecModel,
also when absent, as in the first shipped files) or "wavelet" (WaveletCodec: transform, codebooks
and the frozen integer priors, without the design statistics)."""
import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from ..models import CodecModel, ModelConfig
from ..models.wavelet_codec import WaveletCodec

from .errors import CodecError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
FORMAT = "ibc-weights-1"


@dataclass(frozen=True)
class LoadedModel:
    name: str
    sha256: str
    model: CodecModel | WaveletCodec   # frozen, eval mode
    freqs: np.ndarray | None  # block models: (S,G,K,K) the range coder's integer tables, as exact float64
    meta: dict            # how it was made (name, training run)
    arch: str = "block"   # "block" (CodecModel) or "wavelet" (WaveletCodec)

    @property
    def mode(self) -> str:
        """"shannon", or "gc" for a generative model (block models only)."""
        return self.model.cfg.mode if self.arch == "block" else "shannon"

    @property
    def weights_hash(self) -> bytes:
        """What the .ibc header stores: the first 8 bytes of the weights file's sha256."""
        return bytes.fromhex(self.sha256[:16])

    @property
    def base_hash(self) -> bytes | None:
        """For a generative (gc) model, the header hash of the Shannon-AE weights whose files it also reads."""
        base = self.meta.get("base", {}).get("sha256")
        return bytes.fromhex(base[:16]) if base else None


def read_manifest(weights_dir: Path = WEIGHTS_DIR) -> dict:
    path = Path(weights_dir) / "manifest.json"
    if not path.is_file():
        return {"default": None, "models": []}
    return json.loads(path.read_text())


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def resolve(name_or_path: str | None, weights_dir: Path = WEIGHTS_DIR) -> Path:
    """A path to a weights file, a model name from the manifest, or None for the default model."""
    manifest = read_manifest(weights_dir)
    if name_or_path and Path(name_or_path).is_file():
        return Path(name_or_path)
    name = name_or_path or manifest.get("default")
    for entry in manifest["models"]:
        if entry["name"] == name:
            return Path(weights_dir) / entry["file"]
    known = ", ".join(e["name"] for e in manifest["models"]) or "none shipped"
    raise CodecError(f"unknown model {name!r} (known: {known}; or give a path to a .pt file)")


@lru_cache(maxsize=8)
def _load(path: Path) -> LoadedModel:
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged or foreign file
        raise CodecError(f"{path}: not an ibc weights file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CodecError(f"{path}: not an ibc weights file (export a checkpoint with `ibc export`)")
    config = blob.get("config")
    arch = config.get("arch", "block") if isinstance(config, dict) else "block"
    if arch == "wavelet":
        return _load_wavelet(path, blob)
    if arch != "block":
        raise CodecError(f"{path}: unknown model architecture {arch!r}")
    try:
        model = CodecModel(ModelConfig.from_dict(blob["config"]))
        missing, unexpected = model.load_state_dict(blob["state_dict"], strict=False)
    except (ValueError, RuntimeError, TypeError) as e:
        raise CodecError(f"{path}: weights do not match the model architecture ({str(e).splitlines()[0]})") from None
    if unexpected or set(missing) - set(CodecModel.TRAINING_ONLY):
        raise CodecError(f"{path}: weights do not match the model architecture")
    model.eval()
    name = blob.get("meta", {}).get("name", path.stem)
    return LoadedModel(name, sha256_of(path), model, model.frequencies.numpy().astype(np.float64), blob.get("meta", {}))


WAVELET_OPTIONS = ("hidden", "mode", "lmbda", "tile")  # WaveletCodec's constructor arguments in the config


def wavelet_config(model: WaveletCodec) -> dict:
    corrections = model.transform.wavelet.corrections
    hidden = corrections[0][0].net[0].out_channels if corrections is not None else 0
    return {"arch": "wavelet", "hidden": hidden, "mode": model.mode, "lmbda": model.lmbda, "tile": model.tile}


def _is_statistic(key: str) -> bool:
    """The design statistics (stat_*) a wavelet model is frozen from: not needed to code."""
    return key.startswith("stat_")


def _load_wavelet(path: Path, blob: dict) -> LoadedModel:
    try:
        cfg = blob["config"]
        model = WaveletCodec(**{k: cfg[k] for k in WAVELET_OPTIONS})
        missing, unexpected = model.load_state_dict(blob["state_dict"], strict=False)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CodecError(f"{path}: weights do not match the wavelet architecture ({str(e).splitlines()[0]})") from None
    if unexpected or not all(_is_statistic(k) for k in missing):
        raise CodecError(f"{path}: weights do not match the wavelet architecture")
    model.eval()
    meta = blob.get("meta", {})
    return LoadedModel(meta.get("name", path.stem), sha256_of(path), model, None, meta, "wavelet")


def load_model(name_or_path: str | None = None, weights_dir: Path = WEIGHTS_DIR) -> LoadedModel:
    return _load(resolve(name_or_path, weights_dir).resolve())


def find_by_hash(weights_hash: bytes, weights_dir: Path = WEIGHTS_DIR) -> LoadedModel | None:
    """The shipped model whose sha256 starts with `weights_hash`, if any."""
    for entry in read_manifest(weights_dir)["models"]:
        if bytes.fromhex(entry["sha256"][:16]) == weights_hash:
            return _load((Path(weights_dir) / entry["file"]).resolve())
    return None


def find_generative(base_sha256: str | None, weights_dir: Path = WEIGHTS_DIR) -> LoadedModel | None:
    """The shipped generative (gc) model built on the Shannon-AE weights with this sha256 (None: the
    first shipped gc model, whatever its base), if any."""
    for entry in read_manifest(weights_dir)["models"]:
        if entry.get("mode") == "gc" and base_sha256 in (None, entry.get("base", {}).get("sha256")):
            return _load((Path(weights_dir) / entry["file"]).resolve())
    return None


def default_model(arch: str, weights_dir: Path = WEIGHTS_DIR) -> LoadedModel:
    """The default model if it is of `arch` ("block" or "wavelet"), else the first shipped Shannon-AE
    model of that architecture (e.g. the base a generative decoder is trained on)."""
    manifest = read_manifest(weights_dir)
    entries = sorted(manifest["models"], key=lambda e: e["name"] != manifest.get("default"))
    for entry in entries:
        if entry.get("config", {}).get("arch", "block") == arch and entry.get("mode") == "shannon":
            return _load((Path(weights_dir) / entry["file"]).resolve())
    raise CodecError(f"no shipped Shannon-AE model of architecture {arch!r}")


def add_to_manifest(path: Path, meta: dict, default: bool = False, weights_dir: Path = WEIGHTS_DIR) -> dict:
    """Record a weights file in manifest.json (replacing an entry of the same name); returns the entry."""
    model = _load(Path(path).resolve())
    if model.arch == "wavelet":
        rates = {"quality": "q 0–100, log-linear in the quantiser step (codec/wavelet_api.py)"}
        config = wavelet_config(model.model)
    else:
        rates, config = {"levels": model.model.cfg.stages}, model.model.cfg.to_dict()
    entry = {"name": model.name, "file": Path(path).name, "sha256": model.sha256, "mode": model.mode,
             **rates, "bytes": Path(path).stat().st_size, "config": config,
             **{k: v for k, v in model.meta.items() if k != "name"}, **meta}
    manifest = read_manifest(weights_dir)
    manifest["models"] = [e for e in manifest["models"] if e["name"] != entry["name"]] + [entry]
    if default or not manifest.get("default"):
        manifest["default"] = entry["name"]
    _write_manifest(manifest, weights_dir)
    return entry


def record_figures(name: str, dataset: str, figures: list[dict], weights_dir: Path = WEIGHTS_DIR) -> bool:
    """Store measured per-level figures under `measured[dataset]` of the manifest entry `name`;
    False when no shipped model has that name."""
    manifest = read_manifest(weights_dir)
    entry = next((e for e in manifest["models"] if e["name"] == name), None)
    if entry is None:
        return False
    entry.setdefault("measured", {})[dataset] = figures
    _write_manifest(manifest, weights_dir)
    return True


def _write_manifest(manifest: dict, weights_dir: Path) -> None:
    out = Path(weights_dir) / "manifest.json"
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(out)


def save_weights(model: CodecModel | WaveletCodec, out: Path, name: str, meta: dict | None = None) -> str:
    """Freeze `model` and write its inference state to `out` atomically; returns the file's sha256.
    A wavelet model is frozen from its design statistics when it has them (a loaded one keeps the
    priors it came with); the statistics are not written."""
    if isinstance(model, WaveletCodec):
        if float(model.stat_vec.sum()) > 0:
            model.freeze()
        config = wavelet_config(model)
        keys = WaveletCodec(**{k: config[k] for k in WAVELET_OPTIONS}).state_dict().keys()  # not its coding copy
        state = {k: v for k, v in model.state_dict().items() if k in keys and not _is_statistic(k)}
    else:
        model.freeze()
        config, state = model.cfg.to_dict(), model.inference_state_dict()
    blob = {"format": FORMAT, "config": config, "state_dict": state, "meta": {"name": name, **(meta or {})}}
    tmp = Path(out).with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(out)
    return sha256_of(out)
