"""`ibc train PHOTOS --name N`: the whole recipe on a folder of arbitrarily named photos, into a user
model directory, then coding with the model by name; reruns continue; names are guarded."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ibc.codec.weights import WEIGHTS_DIR

from conftest import natural_like

IBC = [sys.executable, "-m", "ibc.cli"]


def photos(folder: Path, n: int = 10) -> Path:
    folder.mkdir()
    for k in range(n):  # names of no convention, two formats, and one file that is not an image
        rgb = natural_like(192, 256, seed=k)
        Image.fromarray(rgb).save(folder / (f"IMG {k:03d}.png" if k % 2 else f"x{k}-holiday.jpg"), quality=95)
    (folder / "broken.jpg").write_bytes(b"not a photo")
    return folder


def ibc(*args, env=None, check=True):
    r = subprocess.run(IBC + [str(a) for a in args], capture_output=True, text=True, env=env)
    if check:
        assert r.returncode == 0, r.stderr
    return r


def shipped_digest() -> str:
    return hashlib.sha256((WEIGHTS_DIR / "manifest.json").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One small run (a few minutes of budget, shrunk further by the tiny folder)."""
    root = tmp_path_factory.mktemp("recipe")
    env = {**os.environ, "IBC_MODEL_PATH": str(root / "models"), "OMP_NUM_THREADS": "1"}
    before = shipped_digest()
    r = ibc("train", photos(root / "my photos"), "--name", "mine", "--hours", "0.01", "--images", "3",
            "--run", root / "run", env=env)
    return root, env, before, r


def test_a_run_installs_a_complete_model_outside_the_package(trained):
    root, env, before, r = trained
    models = root / "models"
    manifest = json.loads((models / "manifest.json").read_text())
    entry = manifest["models"][0]
    assert entry["name"] == "mine" and (models / "mine.pt").is_file()
    assert (models / "mine" / "coding.json").is_file() and (models / "mine-postfilter" / "postfilter.json").is_file()
    tune_filter = json.loads((models / "mine-postfilter-ms-ssim" / "postfilter.json").read_text())  # the tune's own
    assert tune_filter["tune"] == "ms-ssim" and entry["tune"]["filter"]["folder"] == "mine-postfilter-ms-ssim"
    data = entry["training"]["data"]
    assert data["train"]["files"] + data["val"]["files"] == 10 and data["skipped"] == 1
    assert "broken.jpg" in r.stderr  # the unreadable file is named
    assert entry["training"]["command"].startswith("ibc train")
    assert shipped_digest() == before  # nothing written into the package


def test_the_model_codes_by_name_and_its_files_decode(trained, tmp_path):
    root, env, _, _ = trained
    img = natural_like(130, 200, seed=42)
    Image.fromarray(img).save(tmp_path / "p.png")
    ibc("compress", tmp_path / "p.png", "--model", "mine", "-q", "40", env=env)
    info = json.loads(ibc("info", tmp_path / "p.ibc", "--json", env=env).stdout)
    assert info["model"] == "mine"
    ibc("decompress", tmp_path / "p.ibc", env=env)  # found by the hash in its header, in the user directory
    back = np.asarray(Image.open(tmp_path / "p.ibc.png"))
    assert back.shape == img.shape and np.abs(back.astype(int) - img).mean() < 12
    listing = ibc("models", "--json", env=env).stdout
    assert any(m["name"] == "mine" and m["origin"] != "shipped" for m in json.loads(listing))
    # without the user directory the file's model is missing, and the error says which
    gone = ibc("decompress", tmp_path / "p.ibc", "-o", tmp_path / "q.png",
               env={**env, "IBC_MODEL_PATH": str(tmp_path / "none")}, check=False)
    assert gone.returncode != 0 and "mine" in gone.stderr and not (tmp_path / "q.png").exists()


def test_a_rerun_continues_and_changed_settings_are_refused(trained):
    root, env, _, _ = trained
    sha = (root / "models" / "mine.pt").read_bytes()
    again = ibc("train", root / "my photos", "--name", "mine", "--hours", "0.01", "--images", "3",
                "--run", root / "run", env=env)
    assert again.stderr.count("(done before)") >= 4  # no stage is run twice
    assert (root / "models" / "mine.pt").read_bytes() == sha
    other = ibc("train", root / "my photos", "--name", "mine", "--images", "5", "--run", root / "run", env=env,
                check=False)
    assert other.returncode == 2 and "images" in other.stderr


def test_a_shipped_name_is_refused(tmp_path):
    r = ibc("train", photos(tmp_path / "p", 3), "--name", "shannon-v4", "--hours", "0.01",
            env={**os.environ, "IBC_MODEL_PATH": str(tmp_path / "m")}, check=False)
    assert r.returncode == 2 and "shipped" in r.stderr and not (tmp_path / "m").exists()


def test_a_generative_decoder_is_trained_on_an_installed_models_bitstream(tmp_path):
    """--base: only the gc stage runs (the noise fill, then the head against a discriminator), the model is
    named NAME, holds the head, and decodes the base model's files: realism 0 exactly as the base."""
    env = {**os.environ, "IBC_MODEL_PATH": str(tmp_path / "models"), "OMP_NUM_THREADS": "1"}
    r = ibc("train", photos(tmp_path / "p", 6), "--name", "my-gc", "--base", "shannon-v4", "--mode", "gc",
            "--hours", "0.01", "--run", tmp_path / "run", env=env)
    assert "stage 3/4: gc" in r.stderr and "stage 4/4: score" in r.stderr and "design" not in r.stderr
    entry = json.loads((tmp_path / "models" / "manifest.json").read_text())["models"][0]
    assert entry["name"] == "my-gc" and entry["mode"] == "gc" and entry["base"]["name"] == "shannon-v4"
    head = entry["training"]["gc"]["head"]
    assert "generative head" in entry["config"]["decoder"] and head["steps"] >= 0 and "D" in head["loss"]
    Image.fromarray(natural_like(160, 200, seed=9)).save(tmp_path / "x.png")
    ibc("compress", tmp_path / "x.png", "-q", "25", env=env)
    outs = {}
    for name, extra in (("base", []), ("zero", ["--model", "my-gc", "--realism", "0"]),
                        ("one", ["--model", "my-gc", "--realism", "1"])):
        ibc("decompress", tmp_path / "x.ibc", "-o", tmp_path / f"{name}.png", *extra, env=env)
        outs[name] = np.asarray(Image.open(tmp_path / f"{name}.png"))
    assert np.array_equal(outs["base"], outs["zero"])
    assert np.abs(outs["one"].astype(int) - outs["zero"]).mean() > 0.1
    # its discriminator scores novelty (paper §4.3): a flat image is far from the photos it was trained on
    assert (tmp_path / "models" / "my-gc-score" / "score.json").is_file()
    Image.fromarray(np.full((128, 160, 3), 200, np.uint8)).save(tmp_path / "flat.png")
    rows = json.loads(ibc("score", tmp_path / "x.png", tmp_path / "flat.png", "--model", "my-gc", "--json",
                          env=env).stdout)
    assert rows[1]["novelty"] > rows[0]["novelty"]


def test_base_in_shannon_mode_fits_that_models_tunes_under_its_own_name(tmp_path):
    """--base without --mode gc makes no new model (tests/codec/test_tune.py runs one): another name is refused."""
    r = ibc("train", photos(tmp_path / "p", 3), "--name", "x", "--base", "shannon-v4", "--hours", "0.01",
            env={**os.environ, "IBC_MODEL_PATH": str(tmp_path / "m")}, check=False)
    assert r.returncode != 0 and "pass --name shannon-v4" in r.stderr and "Traceback" not in r.stderr


def test_a_run_begun_before_a_setting_existed_continues_as_its_default(tmp_path):
    """state.json of an older ibc lacks settings added since (here the post-filter's warm start): they were
    their defaults then, so the same command continues the run; a changed setting is still refused."""
    from ibc.codec.errors import CodecError
    from ibc.codec.training.recipe import Recipe, Run
    recipe = Recipe(data="photos", name="m")
    Run(tmp_path / "run", recipe).finish("data")
    state = json.loads((tmp_path / "run" / "state.json").read_text())
    del state["recipe"]["filter_init"]
    (tmp_path / "run" / "state.json").write_text(json.dumps(state))
    assert Run(tmp_path / "run", recipe).done("data")
    with pytest.raises(CodecError, match="filter_init"):
        Run(tmp_path / "run", Recipe(data="photos", name="m", filter_init="x.pt"))
