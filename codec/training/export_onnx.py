"""Write the coding bundle of a wavelet weights file (`codec.coding_bundle`): each lifting level of its
transform as an ONNX graph, exported from the very steps the torch backend codes with, plus its tables."""
import hashlib
import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import torch

from ..coding_bundle import BUNDLE_FORMAT, bundle_dir, graph_names
from .wavelet_model import TorchSteps, lifting_spec
from .weights_torch import load_torch, wavelet_config

OPSET = 17
EXAMPLE = (1, 3, 64, 64)  # the traced shape; height and width are dynamic (any even size)


class _Level(torch.nn.Module):
    """One lifting level of `steps` in one direction, as a module to trace."""

    def __init__(self, steps: TorchSteps, level: int, inverse: bool):
        super().__init__()
        self.wavelet, self.level, self.inverse = steps.wavelet, level, inverse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        step = self.wavelet._synthesis_2d if self.inverse else self.wavelet._analysis_2d
        return step(x, self.level)


def _export_graph(module: torch.nn.Module, path: Path) -> None:
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # the TorchScript exporter's deprecation notice
        torch.onnx.export(module, (torch.zeros(EXAMPLE, dtype=torch.float64),), str(path), input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}},
                          opset_version=OPSET, dynamo=False)


def write_coding_bundle(weights: Path) -> Path:
    """weights/NAME.pt (a wavelet model) → weights/NAME/ (replaced whole, atomically by rename)."""
    weights = Path(weights)
    lm = load_torch(weights)
    model = lm.model
    steps, spec = TorchSteps(model.transform), lifting_spec(model.transform)
    out = bundle_dir(weights)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in graph_names(spec.levels):
        kind, level = name[:-len(".onnx")].split("-")
        _export_graph(_Level(steps, int(level) - 1, kind == "synthesis"), tmp / name)
    priors = model.priors()
    act = {"prior_act": priors["act"]} if "act" in priors else {}  # context 4's activity weights
    np.savez_compressed(tmp / "tables.npz", books=model.vq.books(), prior_vec=priors["vec"], prior_mag=priors["mag"],
             prior_ll=priors["ll"], cmag=model.cmag.numpy(), color=spec.color,
             phi_energy=np.array(spec.phi_energy), psi_energy=np.array(spec.psi_energy), **act)
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(tmp.iterdir())}
    config = wavelet_config(model)
    info = {"format": BUNDLE_FORMAT, "name": lm.name, "weights_sha256": lm.sha256, "mode": config["mode"],
            "lmbda": config["lmbda"], "tile": config["tile"], "context": config["context"], "levels": spec.levels, "margin": spec.margin,
            "opset": OPSET, "meta": lm.meta, "files": files}
    (tmp / "coding.json").write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n")
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out
