"""Weights files on torch: reading a wavelet model's .pt, and writing frozen weights.

A .pt holds the WaveletCodec's config (`arch` "wavelet") and its state: transform, codebooks and the frozen
integer priors (context 4: and its integer activity weights, `prior_act`), without the design statistics.
Files of the block models (config without `arch`, or "block"), retired in ibc 0.2.0, are refused with the
last version that loads them."""
from pathlib import Path

import torch

from ..errors import CodecError
from ..loaded_model import FORMAT, LoadedModel, sha256_of
from ..retired import LAST_VERSION, RETIRED_IN
from .wavelet_model import WaveletCodec

# WaveletCodec's constructor arguments in the config ("context" is absent from shannon-v2's: version 1)
WAVELET_OPTIONS = ("mode", "lmbda", "tile", "context")


def load_torch(path: Path) -> LoadedModel:
    """A wavelet model's weights file on torch."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises many types for a damaged or foreign file
        raise CodecError(f"{path}: not an ibc weights file ({type(e).__name__})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        raise CodecError(f"{path}: not an ibc weights file")
    config = blob.get("config")
    arch = config.get("arch", "block") if isinstance(config, dict) else "block"
    if arch == "block":
        raise CodecError(f"{path}: a block model, retired in ibc {RETIRED_IN}: ibc {LAST_VERSION} is the last "
                         f"version that loads it (pip install 'ibc=={LAST_VERSION}')")
    if arch != "wavelet":
        raise CodecError(f"{path}: unknown model architecture {arch!r}")
    if config.get("hidden"):
        raise CodecError(f"{path}: a wavelet model with learned lifting corrections (hidden={config['hidden']}), "
                         f"which ibc no longer runs (removed in {RETIRED_IN}, never shipped)")
    return _load_wavelet(path, blob)


def wavelet_config(model: WaveletCodec) -> dict:
    return {"arch": "wavelet", "mode": model.mode, "lmbda": model.lmbda, "tile": model.tile, "context": model.context}


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
    return LoadedModel(meta.get("name", path.stem), sha256_of(path), model, meta, model.coder())


def save_weights(model: WaveletCodec, out: Path, name: str, meta: dict | None = None) -> str:
    """Freeze `model` and write its inference state to `out` atomically; returns the file's sha256.
    The model is frozen from its design statistics when it has them (a loaded one keeps the priors it
    came with); the statistics are not written."""
    if float(model.stat_vec.sum()) > 0:
        model.freeze()
    config = wavelet_config(model)
    keys = WaveletCodec(**{k: config[k] for k in WAVELET_OPTIONS}).state_dict().keys()  # not its coding copy
    state = {k: v for k, v in model.state_dict().items() if k in keys and not _is_statistic(k)}
    blob = {"format": FORMAT, "config": config, "state_dict": state, "meta": {"name": name, **(meta or {})}}
    tmp = Path(out).with_suffix(".tmp")
    torch.save(blob, tmp)
    tmp.replace(out)
    return sha256_of(out)
