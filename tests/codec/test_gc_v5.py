"""gc-v5, the shipped generative decoder with a trained head: it decodes, and scores novelty, without torch,
from shannon-v4's bitstream; its manifest entry says how it was trained."""
import json
import subprocess
import sys

import numpy as np

from ibc.codec.api import compress, decode
from ibc.codec.image_io import read_image
from ibc.codec.score import default_score_dir
from ibc.codec.weights import WEIGHTS_DIR, load_model

from conftest import BLOCK_TORCH, DATA

SAMPLE = DATA / "sample.png"


def test_gc_v5_decodes_and_scores_without_torch(tmp_path):
    code = BLOCK_TORCH + f"""
from ibc.cli.main import main
out = {str(tmp_path)!r}
assert main(['compress', {str(SAMPLE)!r}, '-o', out + '/s.ibc', '--model', 'gc-v5', '-q', '20', '--quiet']) == 0
assert main(['decompress', out + '/s.ibc', '-o', out + '/s.png', '--quiet']) == 0
assert main(['score', {str(SAMPLE)!r}, '--json']) == 0
assert not any(m.split('.')[0] == 'torch' for m in sys.modules)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout)[0]["novelty"] >= 0
    assert (tmp_path / "s.png").is_file()


def test_gc_v5_reads_shannon_v4_files_and_keeps_realism_0_exact():
    rgb = read_image(SAMPLE)
    base, gc = load_model("shannon-v4"), load_model("gc-v5")
    data = compress(rgb, base, quality=20)
    assert np.array_equal(decode(data, gc, realism=0.0).image, decode(data, base).image)
    one = decode(data, gc, realism=1.0, seed=0).image
    assert np.abs(one.astype(int) - decode(data, base).image).mean() > 0.5


def test_the_manifest_records_the_training_and_the_score_is_gc_v5s():
    entry = next(e for e in json.loads((WEIGHTS_DIR / "manifest.json").read_text())["models"] if e["name"] == "gc-v5")
    training = entry["training"]
    assert training["command"].startswith("ibc train") and "--base shannon-v4" in training["command"]
    assert "D" in training["gc"]["head"]["loss"] and training["cpu_core_hours"] <= 6
    assert default_score_dir().name == "gc-v5-score"
