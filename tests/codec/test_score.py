"""`ibc score`: the novelty score (paper §4.3) on the default model's gc discriminator and statistics
(weights/gc-v5-score/; the retired form, weights/gc-v2-score/, still loads): a photo lies near the training photos, uniform noise and a flat image far from
them; JSON and table output; bad inputs are one error line and exit 2; no torch on the way."""
import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ibc.codec.score import SCORE_DIR, Scorer, default_score_dir

from conftest import DATA, one_line_error, run

SAMPLE = DATA / "sample.png"  # a 384×256 photograph
KEYS = {"file", "width", "height", "bpp", "d", "z_rate", "z_d", "novelty"}


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score")
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (256, 384, 3), dtype=np.uint8)).save(folder / "noise.png")
    Image.fromarray(np.full((256, 384, 3), (118, 128, 140), np.uint8)).save(folder / "flat.png")
    return {"photo": SAMPLE, "noise": folder / "noise.png", "flat": folder / "flat.png"}


@pytest.fixture(scope="module")
def scored(images, tmp_path_factory):
    """`ibc score --json` on the three images, in a fresh interpreter that cannot import torch."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] == 'torch':\n"
            "            raise ModuleNotFoundError('blocked: ' + name, name=name)\n"
            "sys.meta_path.insert(0, Block())\n"
            "from ibc.cli.main import main\n"
            "rc = main(sys.argv[1:])\n"
            "assert not [m for m in sys.modules if m.startswith('torch')]\n"
            "sys.exit(rc)\n")
    proc = subprocess.run([sys.executable, "-c", code, "score", "--json", *map(str, images.values())],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    rows = json.loads(proc.stdout)
    return dict(zip(images, rows))


@pytest.mark.parametrize("folder", [default_score_dir(), SCORE_DIR], ids=["default", "gc-v2-score"])
def test_statistics_match_the_shipped_models(folder):
    info = json.loads((folder / "score.json").read_text())
    scorer = Scorer(folder)  # refuses statistics made against other gc or Shannon-AE weights
    assert scorer.gc.sha256 == info["gc"]["sha256"] and scorer.base.sha256 == info["base"]["sha256"]
    assert info["stats"]["photos"] >= 50 and info["stats"]["log2_bpp"]["std"] > 0 and info["stats"]["d"]["std"] > 0
    assert (folder / "discriminator.onnx").stat().st_size < 8 * 2 ** 20


def test_json_shape(scored, images):
    for name, row in scored.items():
        assert set(row) == KEYS
        assert row["file"] == str(images[name])
        assert (row["width"], row["height"]) == (384, 256)
        assert row["novelty"] == pytest.approx(np.hypot(row["z_rate"], row["z_d"]))
        assert row["bpp"] > 0


def test_noise_and_flat_lie_further_from_the_training_photos_than_a_photo(scored):
    photo = scored["photo"]["novelty"]
    assert photo < 2.0  # within two of the training photos' stds
    assert scored["noise"]["novelty"] > photo + 1
    assert scored["flat"]["novelty"] > photo + 1
    assert scored["noise"]["z_rate"] > 0 > scored["flat"]["z_rate"]  # far too much to code, and almost nothing


def test_table_and_folder(images, tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    Image.open(SAMPLE).save(folder / "a.png")
    assert run("score", folder) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["novelty", "z_rate", "z_d", "bpp", "d", "file"]
    assert len(lines) == 2 and lines[1].endswith(str(folder / "a.png"))


def test_bad_inputs_are_refused(images, tmp_path, capsys):
    assert run("score", images["photo"], tmp_path / "missing.png") == 2
    assert "missing.png: no such file" in one_line_error(capsys)
    assert capsys.readouterr().out == ""
    (tmp_path / "not.png").write_bytes(b"not an image")
    assert run("score", tmp_path / "not.png") == 2
    assert "not an image" in one_line_error(capsys)
    Image.fromarray(np.zeros((32, 200, 3), np.uint8)).save(tmp_path / "small.png")
    assert run("score", tmp_path / "small.png") == 2
    assert "too small to score" in one_line_error(capsys)
    (tmp_path / "empty").mkdir()
    assert run("score", tmp_path / "empty") == 2
    assert "no images found" in one_line_error(capsys)
