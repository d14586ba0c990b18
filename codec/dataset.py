"""Training images: a folder of photographs held in memory as uint8, served as random crops."""
from pathlib import Path

import torch
from PIL import Image
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as TF

from .errors import CodecError
from .image_io import IMAGE_SUFFIXES


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


class CropDataset(torch.utils.data.Dataset):
    """Random crops with flips from images preloaded into memory (decoding JPEGs each step costs more)."""

    def __init__(self, files: list[Path], crop: int, length: int = 10 ** 9):
        self.files = files
        self.images = [load_rgb(p) for p in files]
        small = [str(p) for p, im in zip(files, self.images) if min(im.shape[1:]) < crop]
        if small:
            raise CodecError(f"{len(small)} image(s) smaller than the {crop}px crop, e.g. {small[0]}")
        self.length = length
        self.transform = v2.Compose([v2.RandomCrop(crop), v2.RandomHorizontalFlip(), v2.RandomVerticalFlip()])

    def __len__(self):
        return self.length

    def __getitem__(self, i):
        im = self.images[torch.randint(len(self.images), ()).item()]
        return self.transform(im).float() / 255.0


def center_crops(files: list[Path], size: int) -> torch.Tensor:
    """(N,3,size,size) float validation crops: deterministic, so validation figures compare across runs."""
    crops = [TF.center_crop(load_rgb(p), [size, size]) for p in files]
    return torch.stack(crops).float() / 255.0


def split_train_val(files: list[Path], val_every: int = 10) -> tuple[list[Path], list[Path]]:
    """Hold out BSDS500's own validation split when present, else every `val_every`-th file."""
    val = [p for p in files if p.name.startswith("bsds_val_")]
    if not val:
        val = files[::val_every]
    train = [p for p in files if p not in set(val)]
    return train, val
