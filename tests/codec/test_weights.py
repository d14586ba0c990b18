import json

import pytest
import torch

from ibc.codec.errors import CodecError
from ibc.codec.loaded_model import FORMAT
from ibc.codec.training.weights_torch import save_weights
from ibc.codec.weights import add_to_manifest, load_model, read_manifest, record_figures, sha256_of


def test_manifest_entries_and_recorded_figures(tmp_path, tiny_wavelet):
    path = tmp_path / "tiny.pt"
    save_weights(tiny_wavelet.model, path, "tiny", {"training": {"steps": 0}})
    entry = add_to_manifest(path, {"data_sources": "generated"}, weights_dir=tmp_path)
    assert entry["sha256"] == sha256_of(path) and entry["training"] == {"steps": 0}
    assert entry["config"] == {"arch": "wavelet", "mode": "vq", "lmbda": tiny_wavelet.model.lmbda, "tile": 128,
                               "context": 1}
    manifest = read_manifest(tmp_path)
    assert manifest["default"] == "tiny" and [e["name"] for e in manifest["models"]] == ["tiny"]
    assert load_model("tiny", weights_dir=tmp_path).sha256 == entry["sha256"]
    figures = [{"setting": 1, "bpp": 0.1, "psnr": 25.0}]
    assert record_figures("tiny", "set (2 images)", figures, weights_dir=tmp_path)
    assert json.loads((tmp_path / "manifest.json").read_text())["models"][0]["measured"] == {"set (2 images)": figures}
    assert not record_figures("nonesuch", "set", figures, weights_dir=tmp_path)


def test_foreign_files_are_not_weights(tmp_path):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00" * 100)
    with pytest.raises(CodecError, match="not an ibc weights file"):
        load_model(str(junk))
    with pytest.raises(CodecError, match="unknown model"):
        load_model("nonesuch", weights_dir=tmp_path)


def test_retired_and_never_shipped_architectures_are_refused_by_name(tmp_path, tiny_wavelet):
    """A block model's weights (config without "arch", as the first shipped files, or "block") name the last
    ibc that loads them; a wavelet model with learned lifting corrections (hidden > 0) is refused too."""
    for name, config in (("old", {"block": 8, "stages": 5}), ("block", {"arch": "block"})):
        path = tmp_path / f"{name}.pt"
        torch.save({"format": FORMAT, "config": config, "state_dict": {}, "meta": {"name": name}}, path)
        with pytest.raises(CodecError, match=r"block model, retired in ibc 0\.2\.0: ibc 0\.1\.0 is the last"):
            load_model(str(path))
    save_weights(tiny_wavelet.model, tmp_path / "tiny.pt", "tiny")
    blob = torch.load(tmp_path / "tiny.pt", weights_only=True)
    blob["config"]["hidden"] = 8
    torch.save(blob, tmp_path / "corrected.pt")
    with pytest.raises(CodecError, match="learned lifting corrections"):
        load_model(str(tmp_path / "corrected.pt"))
    blob["config"]["hidden"] = 0  # as the shipped files' configs say: they load
    torch.save(blob, tmp_path / "closed.pt")
    assert load_model(str(tmp_path / "closed.pt")).name == "tiny"
