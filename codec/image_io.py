"""Reading and writing images: every Pillow mode becomes 8-bit RGB or a clear CodecError."""
import os
import tempfile
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .bitstream import MAX_PIXELS  # refuse larger images (decompression-bomb guard)
from .errors import CodecError


def _to_rgb(im: Image.Image, drop_alpha: bool) -> np.ndarray:
    has_alpha = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (im.mode == "P" and "transparency" in im.info)
    if has_alpha and not drop_alpha:
        raise CodecError(f"image has an alpha channel ({im.mode}); pass --drop-alpha to encode its colours only")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        a = np.clip(np.round(a / 257.0), 0, 255).astype(np.uint8)  # 16-bit → 8-bit
        return np.repeat(a[..., None], 3, axis=2)
    if im.mode == "F":
        raise CodecError("floating-point images are not supported")
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


def read_image(path: Path, drop_alpha: bool = False, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any Pillow-readable image → (H,W,3) uint8 RGB, EXIF orientation applied."""
    path = Path(path)
    if not path.is_file():
        raise CodecError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    raise CodecError(f"{path}: {im.width}×{im.height} is above the {max_pixels:,}-pixel limit")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb(im, drop_alpha)
    except CodecError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise CodecError(f"{path}: image is above the {max_pixels:,}-pixel limit (decompression-bomb guard)") from None
    except Image.UnidentifiedImageError:
        raise CodecError(f"{path}: not an image Pillow can read") from None
    except (OSError, ValueError, SyntaxError) as e:
        raise CodecError(f"{path}: cannot decode image ({e})") from None


def write_atomic(path: Path, data: bytes, force: bool = False) -> None:
    """Write to a temporary file beside `path`, then rename: no half-written or clobbered output."""
    path = Path(path)
    if path.exists() and not force:
        raise CodecError(f"{path}: already exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise CodecError(f"{path.parent}: no such folder")
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def encode_image(rgb: np.ndarray, fmt: str) -> bytes:
    """(H,W,3) uint8 → image file bytes in Pillow format `fmt` (PNG for decoded output)."""
    import io
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt)
    return buf.getvalue()


def write_image(path: Path, rgb: np.ndarray, force: bool = False) -> None:
    """Save (H,W,3) uint8 in the format the suffix names (PNG unless told otherwise), atomically."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise CodecError(f"{path}: unknown image format (use .png)")
    write_atomic(path, encode_image(rgb, fmt), force)
