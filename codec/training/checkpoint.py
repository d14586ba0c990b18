"""Checkpoints of ibc models: written atomically, read back for resuming, warm starts and export.

A checkpoint is a dict of plain data (tensors, numbers, lists, the configs as dicts) keyed by name,
so it does not depend on where the code that wrote it lives."""
import os
from pathlib import Path

import torch

from ...models import CodecModel, ModelConfig
from ..errors import CodecError


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to a temporary file and rename it: a crash never leaves half a checkpoint."""
    tmp = Path(path).with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> dict:
    """A training checkpoint, or exported weights (for --init)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state["config"].get("arch") != "wavelet":  # a wavelet model's config holds its constructor's options
            ModelConfig.from_dict(state["config"])
        if "model" not in state and "state_dict" not in state:
            raise KeyError("model")
        return state
    except Exception as e:  # torch.load raises many types for a damaged or foreign file
        raise CodecError(f"{path}: not an ibc training checkpoint ({str(e).splitlines()[0]})") from None


def build_model(state: dict) -> CodecModel:
    """The model of a checkpoint; from exported weights, the training-only parts are rebuilt from the
    frozen ones (logits from the integer tables, EMA statistics from the codebooks)."""
    model = CodecModel(ModelConfig.from_dict(state["config"]))
    try:
        if "model" in state:
            model.load_state_dict(state["model"])
            return model
        missing, unexpected = model.load_state_dict(state["state_dict"], strict=False)
        if unexpected or set(missing) - set(CodecModel.TRAINING_ONLY):
            raise RuntimeError("keys differ")
    except RuntimeError:
        raise CodecError("checkpoint does not match this version's model architecture") from None
    with torch.no_grad():
        model.entropy.logits.copy_(torch.log(model.frequencies.float()))
        model.quantizer.ema_count.fill_(1.0)
        model.quantizer.ema_sum.copy_(model.quantizer.codebooks)
    return model
