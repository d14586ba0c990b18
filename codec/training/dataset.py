"""Training and evaluation images: a folder's photographs, its validation split, and reading one as a tensor."""
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms.v2 import functional as TF

from ..errors import CodecError
from ..image_io import IMAGE_SUFFIXES


def list_images(folder: Path) -> list[Path]:
    folder = Path(folder)
    if not folder.is_dir():
        raise CodecError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise CodecError(f"{folder}: no images found")
    return files


def load_rgb(path: Path) -> torch.Tensor:
    """(3,H,W) uint8."""
    try:
        with Image.open(path) as im:
            return TF.pil_to_tensor(im.convert("RGB"))
    except (OSError, ValueError) as e:
        raise CodecError(f"{path}: cannot read image ({e})") from None


def split_train_val(files: list[Path], val_every: int = 10) -> tuple[list[Path], list[Path]]:
    """Hold out BSDS500's own validation split when present, else every `val_every`-th file."""
    val = [p for p in files if p.name.startswith("bsds_val_")]
    if not val:
        val = files[::val_every]
    train = [p for p in files if p not in set(val)]
    return train, val
