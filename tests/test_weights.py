import json

import pytest

from ibc.codec.errors import CodecError
from ibc.codec.weights import add_to_manifest, load_model, read_manifest, record_figures, sha256_of
from ibc.codec.weights_torch import save_weights

from conftest import tiny_model


def test_manifest_entries_and_recorded_figures(tmp_path):
    path = tmp_path / "tiny.pt"
    save_weights(tiny_model(), path, "tiny", {"training": {"steps": 0}})
    entry = add_to_manifest(path, {"data_sources": "generated"}, weights_dir=tmp_path)
    assert entry["sha256"] == sha256_of(path) and entry["training"] == {"steps": 0}
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
