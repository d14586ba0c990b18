"""The coding bundle of a wavelet model: what the torch-free coding path loads instead of the .pt.

    weights/NAME.pt          the model (torch), whose sha256 the .ibc header carries
    weights/NAME/            its bundle, written by `ibc export` (codec.training.export_onnx)
        coding.json          format, name, the .pt's sha256, coder settings, sha256 of every file below
        tables.npz           codebooks (float64), integer priors and codeword magnitudes, colour matrix,
                             subband energies (a context-4 model also its integer activity weights,
                             prior_act): plain arrays, exact
        analysis-J.onnx      lifting level J (1 = finest) forward, (1,3,h,w) float64
        synthesis-J.onnx     its inverse

A bundle is used only if it matches the .pt beside it (same sha256) and every file its digest."""
import hashlib
import json
from pathlib import Path

import numpy as np

from .engine import WaveletCoder
from .errors import CodecError
from .lifting import LiftingSpec, WindowedLifting
from .loaded_model import LoadedModel

BUNDLE_FORMAT = "ibc-coding-1"
TABLES = ("books", "prior_vec", "prior_mag", "prior_ll", "cmag", "color", "phi_energy", "psi_energy")
OPTIONAL_TABLES = ("prior_act",)  # context 4 only (codec.subband_context)


def bundle_dir(weights: Path) -> Path:
    """weights/NAME.pt → weights/NAME/."""
    return Path(weights).with_suffix("")


def graph_names(levels: int) -> list[str]:
    return [f"{kind}-{j}.onnx" for kind in ("analysis", "synthesis") for j in range(1, levels + 1)]


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load_bundle(weights: Path):
    """The LoadedModel of `weights` on the onnx backend; CodecError if its bundle is stale or damaged."""
    from .onnx_steps import OnnxSteps  # imports onnxruntime: only when a bundle is loaded
    folder = bundle_dir(weights)
    try:
        info = json.loads((folder / "coding.json").read_text())
        if info.get("format") != BUNDLE_FORMAT:
            raise CodecError(f"{folder}: unknown coding bundle format {info.get('format')!r}")
        for name, digest in info["files"].items():
            if _sha256(folder / name) != digest:
                raise CodecError(f"{folder / name}: damaged (sha256 does not match coding.json); "
                                 f"re-export it with `ibc export --onnx-only {weights}`")
        if Path(weights).is_file() and _sha256(Path(weights)) != info["weights_sha256"]:
            raise CodecError(f"{folder}: made for other weights than {weights}; "
                             f"re-export it with `ibc export --onnx-only {weights}`")
        with np.load(folder / "tables.npz", allow_pickle=False) as z:
            t = {k: z[k] for k in TABLES + tuple(k for k in OPTIONAL_TABLES if k in z.files)}
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise CodecError(f"{folder}: not a usable coding bundle ({type(e).__name__}: {e})") from None
    spec = LiftingSpec(int(info["levels"]), int(info["margin"]), tuple(map(float, t["phi_energy"])),
                       tuple(map(float, t["psi_energy"])), t["color"])
    context = int(info.get("context", 1))
    priors = {"vec": t["prior_vec"], "mag": t["prior_mag"], "ll": t["prior_ll"]}
    if context >= 4:
        if "prior_act" not in t:
            raise CodecError(f"{folder}: tables.npz lacks the activity weights (prior_act) of context {context}; "
                             f"re-export it with `ibc export --onnx-only {weights}`")
        priors["act"] = t["prior_act"]
    coder = WaveletCoder(WindowedLifting(spec, OnnxSteps(folder)), t["books"], priors, t["cmag"],
                         info["mode"], float(info["lmbda"]), int(info["tile"]), context)
    return LoadedModel(info["name"], info["weights_sha256"], None, info.get("meta", {}), coder, "onnx")
