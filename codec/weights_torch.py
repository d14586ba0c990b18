"""Weights files on torch: reading either architecture, and writing frozen weights.

One weights format holds either architecture; its config's `arch` says which: "block" (CodecModel,
also when absent, as in the first shipped files) or "wavelet" (WaveletCodec: transform, codebooks
and the frozen integer priors, without the design statistics)."""
from pathlib import Path

import numpy as np
import torch

from ..models import CodecModel, ModelConfig
from ..models.wavelet_codec import WaveletCodec

from .errors import CodecError
from .loaded_model import FORMAT, LoadedModel, sha256_of


def load_torch(path: Path) -> LoadedModel:
    """A weights file on torch (either architecture)."""
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


# WaveletCodec's constructor arguments in the config ("context" is absent from shannon-v2's: version 1)
WAVELET_OPTIONS = ("hidden", "mode", "lmbda", "tile", "context")


def wavelet_config(model: WaveletCodec) -> dict:
    corrections = model.transform.wavelet.corrections
    hidden = corrections[0][0].net[0].out_channels if corrections is not None else 0
    return {"arch": "wavelet", "hidden": hidden, "mode": model.mode, "lmbda": model.lmbda, "tile": model.tile,
            "context": model.context}


def _is_statistic(key: str) -> bool:
    """The design statistics (stat_*) a wavelet model is frozen from: not needed to code."""
    return key.startswith("stat_")


def _load_wavelet(path: Path, blob: dict) -> LoadedModel:
    try:
        cfg = blob["config"]
        model = WaveletCodec(**{k: cfg[k] for k in WAVELET_OPTIONS if k in cfg})
        missing, unexpected = model.load_state_dict(blob["state_dict"], strict=False)
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CodecError(f"{path}: weights do not match the wavelet architecture ({str(e).splitlines()[0]})") from None
    if unexpected or not all(_is_statistic(k) for k in missing):
        raise CodecError(f"{path}: weights do not match the wavelet architecture")
    model.eval()
    meta = blob.get("meta", {})
    return LoadedModel(meta.get("name", path.stem), sha256_of(path), model, None, meta, "wavelet", model.coder())




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
