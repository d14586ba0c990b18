"""`ibc export`: a training checkpoint (or weights, re-exported) frozen into a weights file, with a record
of how it was trained; a gc model also records the Shannon-AE base whose files it reads."""
from pathlib import Path

from ..weights_torch import save_weights
from .checkpoint import build_model, load_checkpoint

# the training data's origin and terms, recorded with every model exported from it (weights/manifest.json)
DATA_SOURCES = ("BSDS500 (Arbeláez et al., TPAMI 2011; Berkeley, distributed for research) and an ImageNet "
                "sample (research use); Kodak never used for training or validation")


def export(checkpoint: Path, out: Path, name: str, meta: dict | None = None) -> str:
    """Freeze a training checkpoint into a weights file; returns its sha256."""
    state = load_checkpoint(checkpoint)
    if state["config"].get("arch") == "wavelet":
        from .wavelet import load_start
        model = load_start(str(checkpoint), 0)
    else:
        model = build_model(state)
    tcfg = state.get("train_config", {})
    seconds = state.get("train_seconds", 0.0)
    training = {"steps": state.get("step"), "data": tcfg.get("data"), "batch": tcfg.get("batch"),
                "crop": tcfg.get("crop"), "target_bpp": tcfg.get("target_bpp"), "device": tcfg.get("device"),
                "wall_hours": round(seconds / 3600, 2),
                "cpu_core_hours": round(seconds * tcfg.get("threads", 1) / 3600, 2)}
    base = state.get("base") or state.get("meta", {}).get("base")  # from a gc checkpoint or gc weights
    if "train_config" not in state and "training" in state.get("meta", {}):  # re-exporting weights
        training = state["meta"]["training"]
    elif base:
        training.update(gc_levels=tcfg.get("gc_levels"), mse_ratio=tcfg.get("mse_ratio"),
                        adversarial=tcfg.get("adversarial"), beta=state.get("beta"))
    if base:  # a generative model: it decodes the files of the Shannon-AE weights it was built on
        meta = {"base": base, **(meta or {})}
    return save_weights(model, out, name, {"training": training, **(meta or {})})
