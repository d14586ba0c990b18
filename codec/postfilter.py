"""The decoder's post-filter (models.postfilter) on ONNX Runtime, whichever backend decodes the file.

    weights/NAME-postfilter/
        postfilter.onnx   (x (1,3,h,w) float32 in [0,1], s (1,) float32) → x + r
        postfilter.json   format, the base model's name and sha256, the graph's sha256, margin, how it was
                          trained and what it measured
    weights/NAME-postfilter-ms-ssim/   the same, trained for MS-SSIM on the ms-ssim tune's files ("tune")

It is found beside the weights it was trained for and used only with them (same sha256); a tune's filter
also in the user model directory (fitted by a user for a shipped model). The file names the filter it is
rendered through (codec.bitstream, version 5). The filter
runs in horizontal stripes that overlap by its receptive field, so a 24-megapixel image costs a stripe of
activations, and the stripes join exactly: every output pixel sees the same inputs as in one pass.
It filters the decoded 8-bit image, as it was trained.
"""
import hashlib
import json
import math
from pathlib import Path

import numpy as np

from .errors import CodecError
from .loaded_model import find_beside

FILTER_FORMAT = "ibc-postfilter-1"
STRIPE = 128  # output rows per run


def step_feature(step: float) -> float:
    """The step as the filter sees it (its input plane; the trainer's too): log2(step)/8, so steps
    4 … 256 → 0.25 … 1."""
    return math.log2(step) / 8


def filter_dir(weights: Path, tune: str = "psnr") -> Path:
    """weights/NAME.pt → weights/NAME-postfilter/ (the model's own filter, for squared error), or
    weights/NAME-postfilter-TUNE/ (the filter trained for another tune's files)."""
    weights = Path(weights)
    return weights.with_name(weights.stem + "-postfilter" + ("" if tune == "psnr" else f"-{tune}"))


class PostFilterRunner:
    """One ONNX session of the filter, one thread (the same sums on any machine), opened on first use
    (an encoder never needs it)."""

    def __init__(self, folder: Path, info: dict):
        self.folder, self.info, self.margin, self.sha256 = Path(folder), info, int(info["margin"]), info["sha256"]
        self._opened = None

    @property
    def _session(self):
        if self._opened is None:
            self._opened = one_thread_session(str(self.folder / "postfilter.onnx"))
        return self._opened

    def __call__(self, image: np.ndarray, step: float) -> np.ndarray:
        """The decoded (H,W,3) uint8 image (what the filter was trained on) → (H,W,3) uint8, filtered."""
        H, W, _ = image.shape
        s = np.array([step_feature(step)], np.float32)
        out = np.empty((H, W, 3), np.uint8)
        for r0, r1, a, b in stripes(H, self.margin):
            x = (image[a:b].astype(np.float32) / 255).transpose(2, 0, 1)[None]
            (y,) = self._session.run(None, {"x": x, "s": s})
            out[r0:r1] = np.clip(np.round(y[0, :, r0 - a:r1 - a] * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
        return out


def one_thread_session(graph):
    """An ONNX Runtime session of `graph` (a path or the bytes) on one CPU thread: the same sums on every run."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    return ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])


def stripes(H: int, margin: int):
    """(r0, r1, a, b) per stripe of STRIPE output rows r0:r1, read from rows a:b (the stripe and `margin`
    rows each side, within the image): a network of that receptive field gives each output row what one
    pass over the whole image would."""
    for r0 in range(0, H, STRIPE):
        r1 = min(r0 + STRIPE, H)
        yield r0, r1, max(r0 - margin, 0), min(r1 + margin, H)


def load_postfilter(weights: Path, sha256: str, tune: str = "psnr", elsewhere: Path | None = None) -> PostFilterRunner | None:
    """The post-filter trained for `weights` (whose sha256 is given) and `tune`'s files, or None if it has
    none: the folder beside the weights, else in the folder `elsewhere` (the user model directory)."""
    found = find_beside(weights, f"{filter_dir(weights, tune).name}/postfilter.json", elsewhere)
    if found is None:
        return None
    folder = found.parent
    try:
        info = json.loads((folder / "postfilter.json").read_text())
        if info.get("format") != FILTER_FORMAT:
            raise CodecError(f"{folder}: unknown post-filter format {info.get('format')!r}")
        if info.get("tune", "psnr") != tune:
            raise CodecError(f"{folder}: trained for the {info.get('tune', 'psnr')} tune, not {tune}")
        if hashlib.sha256((folder / "postfilter.onnx").read_bytes()).hexdigest() != info["sha256"]:
            raise CodecError(f"{folder / 'postfilter.onnx'}: damaged (sha256 does not match postfilter.json)")
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise CodecError(f"{folder}: not a usable post-filter ({type(e).__name__}: {e})") from None
    if info["base"]["sha256"] != sha256:
        raise CodecError(f"{folder}: trained for other weights than {weights} (retrain or remove it)")
    return PostFilterRunner(folder, info)
