"""Checkpoints of the training stages, written atomically.

A checkpoint is a dict of plain data (tensors, numbers, lists, the configs as dicts) keyed by name,
so it does not depend on where the code that wrote it lives."""
import os
from pathlib import Path

import torch


def save_checkpoint(path: Path, state: dict) -> None:
    """Write `state` to a temporary file and rename it: a crash never leaves half a checkpoint."""
    tmp = Path(path).with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
