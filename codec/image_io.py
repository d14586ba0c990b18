"""Reading and writing images: every Pillow mode becomes 8-bit RGB or a clear CodecError. A greyscale
image reads as R = G = B (`is_grey` tells it apart; the wavelet models then code one channel) and a
decoded one is written as one (mode L)."""
import os
import struct
import tempfile
import warnings
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .bitstream import MAX_PIXELS  # refuse larger images (decompression-bomb guard)
from .errors import CodecError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".avif", ".jp2", ".bmp", ".tif", ".tiff", ".ppm", ".gif"}


ALPHA_MODES = ("RGBA", "LA", "PA", "RGBa", "La")


def is_grey(rgb: np.ndarray) -> bool:
    """Whether an (H,W,3) image is greyscale: R = G = B at every pixel."""
    return bool((rgb[..., 0] == rgb[..., 1]).all() and (rgb[..., 1] == rgb[..., 2]).all())


def _transparent(im: Image.Image) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Pillow's advice to convert palette transparency to RGBA: done here
        return im.convert("RGBA").getchannel("A").getextrema()[0] < 255


def _to_rgb(im: Image.Image, drop_alpha: bool, name: str = "image") -> np.ndarray:
    """A fully opaque alpha channel carries nothing and is dropped; real transparency needs `drop_alpha`."""
    has_alpha = im.mode in ALPHA_MODES or (im.mode == "P" and "transparency" in im.info)
    if has_alpha and not drop_alpha and _transparent(im):
        raise CodecError(f"{name}: image has transparency ({im.mode}); pass --drop-alpha to encode its colours only")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im, dtype=np.float64)
        a = np.clip(np.round(a / 257.0), 0, 255).astype(np.uint8)  # 16-bit → 8-bit
        return np.repeat(a[..., None], 3, axis=2)
    if im.mode == "F":
        raise CodecError(f"{name}: floating-point images are not supported")
    return np.asarray(im.convert("RGB"), dtype=np.uint8)


PNG_CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # colour type → samples per pixel
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def _png_raw_size(width: int, height: int, depth: int, colour: int, interlaced: bool) -> int:
    """Bytes of filtered scanlines a PNG's zlib stream must hold for all its pixels."""
    bits = depth * PNG_CHANNELS.get(colour, 4)
    passes = ADAM7 if interlaced else [(0, 0, 1, 1)]
    size = 0
    for x0, y0, dx, dy in passes:
        w, h = -(-(width - x0) // dx), -(-(height - y0) // dy)
        if w > 0 and h > 0:
            size += h * (1 + -(-w * bits // 8))
    return size


def _png_is_short(path: Path) -> bool:
    """Whether a PNG's pixel data ends before its pixels do. Pillow fills the rest with zeros silently
    (a 200-byte file can claim 9000×9000), so the stream is inflated once, in bounded pieces, and counted."""
    need, inflate, got = None, zlib.decompressobj(), 0
    with open(path, "rb") as f:
        f.seek(8)
        while (head := f.read(8)) and len(head) == 8 and (need is None or got < need):
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IHDR" and length == 13:
                w, h, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", f.read(13))
                need = _png_raw_size(w, h, depth, colour, interlace == 1)
            elif kind == b"IDAT" and need is not None:
                chunk = f.read(length)
                while chunk and got < need and not inflate.eof:
                    got += len(inflate.decompress(chunk, 1 << 20))
                    chunk = inflate.unconsumed_tail
            else:
                f.seek(length, 1)
            f.seek(4, 1)  # the chunk's CRC
    return need is not None and got < need


def read_image(path: Path, drop_alpha: bool = False, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any Pillow-readable image → (H,W,3) uint8 RGB (greyscale as R = G = B), EXIF orientation applied."""
    path = Path(path)
    if not path.is_file():
        raise CodecError(f"{path}: no such file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > max_pixels:
                    raise CodecError(f"{path}: {im.width}×{im.height} is above the {max_pixels:,}-pixel limit")
                if im.format == "PNG" and _png_is_short(path):
                    raise CodecError(f"{path}: truncated or corrupt image (its data ends before its "
                                     f"{im.width}×{im.height} pixels do)")
                im.load()
                im = ImageOps.exif_transpose(im)
                return _to_rgb(im, drop_alpha, str(path))
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
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes it 0600; give it the mode open() would have
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask (reading it means setting it; it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def as_rgb(image) -> np.ndarray:
    """What the Python API accepts as an image: a path, a PIL image, an (H,W,3) uint8 array or a greyscale
    (H,W) one → RGB array."""
    if isinstance(image, (str, os.PathLike)):
        return read_image(Path(image))
    if isinstance(image, Image.Image):
        return _to_rgb(ImageOps.exif_transpose(image), drop_alpha=False)
    image = np.asarray(image)
    return np.repeat(image[..., None], 3, 2) if image.ndim == 2 else image


# Pillow formats a decoded image can be written to that lose detail at a quality 1..100 (JPEG 2000 is
# written losslessly, Pillow's default): a second lossy step after the codec's, so its quality is stated.
LOSSY_FORMATS = ("JPEG", "WEBP", "AVIF")
OUTPUT_QUALITY = 95  # their default quality: Pillow's own (75) visibly degrades a good decode


def check_output_quality(quality: int) -> int:
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise CodecError(f"the output quality must be a whole number in 1..100 (got {quality!r})")
    return quality


def encode_image(rgb: np.ndarray, fmt: str, quality: int | None = None) -> bytes:
    """(H,W,3) uint8, or (H,W) greyscale → image file bytes in Pillow format `fmt` (PNG for decoded output),
    at `quality` if given (lossy formats)."""
    import io
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format=fmt, **({} if quality is None else {"quality": quality}))
    return buf.getvalue()


def write_image(path: Path, rgb: np.ndarray, force: bool = False, quality: int | None = None) -> str | None:
    """Save (H,W,3) uint8, or (H,W) as greyscale (mode L), in the format the suffix names (PNG unless told
    otherwise), atomically; a lossy format at `quality` (default OUTPUT_QUALITY; lossless ones ignore it).
    → what the format lost, for the user to be told ("JPEG at quality 95"), or None: the pixels as given."""
    fmt = Image.registered_extensions().get(Path(path).suffix.lower())
    if fmt is None:
        raise CodecError(f"{path}: unknown image format (use .png)")
    quality = check_output_quality(OUTPUT_QUALITY if quality is None else quality)
    lossy = fmt in LOSSY_FORMATS
    write_atomic(path, encode_image(rgb, fmt, quality if lossy else None), force)
    if lossy:
        return f"{fmt} at quality {quality}"
    return "GIF, in at most 256 colours" if fmt == "GIF" and rgb.ndim == 3 else None
