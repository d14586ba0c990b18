"""A model's tunes: the step weights (codec.step_code) its encoder writes for `--tune NAME`.

    NAME-tune.json   beside the weights, or in the user model directory:
                     format, the base model's name and sha256, {tune: 6 weight codes}, how `ibc
                     train` fitted them and what they measured on validation photos

"psnr" is always there and uniform (one step for every band, what minimises squared error); the others
come from `ibc train` (codec.training.tune) and are found beside the weights they were fitted for (same
sha256). The decoder needs none of this: the file carries the weights it was coded with.
"""
import json
from pathlib import Path

from .errors import CodecError
from .loaded_model import find_beside
from .step_code import N_WEIGHTS

TUNE_FORMAT = "ibc-tune-1"
TUNES = ("psnr", "ms-ssim")  # what `--tune` offers; a model has "psnr" always, the rest once fitted


def tune_file(weights: Path) -> Path:
    """weights/NAME.pt → weights/NAME-tune.json."""
    weights = Path(weights)
    return weights.with_name(weights.stem + "-tune.json")


def find_tune_file(weights: Path, elsewhere: Path | None = None) -> Path | None:
    """The tune file of `weights`: beside them, else in the folder `elsewhere`; None if neither has one."""
    return find_beside(weights, tune_file(weights).name, elsewhere)


def load_tunes(weights: Path, sha256: str, elsewhere: Path | None = None) -> dict | None:
    """{tune: codes} fitted for `weights` (whose sha256 is given), or None if it has none: the file beside
    the weights, else in the folder `elsewhere` (the user model directory: a shipped model's tunes fitted
    by a user)."""
    path = find_tune_file(weights, elsewhere)
    if path is None:
        return None
    try:
        info = json.loads(path.read_text())
        if info.get("format") != TUNE_FORMAT:
            raise CodecError(f"{path}: unknown tune format {info.get('format')!r}")
        tunes = {k: tuple(int(c) for c in v) for k, v in info["tunes"].items()}
        base = info["base"]["sha256"]
    except (OSError, KeyError, ValueError, TypeError, AttributeError) as e:
        raise CodecError(f"{path}: not a usable tune file ({type(e).__name__}: {e})") from None
    if any(len(v) != N_WEIGHTS or not all(0 <= c <= 255 for c in v) for v in tunes.values()):
        raise CodecError(f"{path}: not a usable tune file (a tune needs {N_WEIGHTS} codes in 0..255)")
    if base != sha256:
        raise CodecError(f"{path}: fitted for other weights than {weights} (refit or remove it)")
    return tunes
