"""The `ibc` command with wavelet (v2) models: single files, folders in parallel, the quality number and
budgets, `ibc info`, `ibc eval` over q values, and gc files while the default model is a wavelet one."""
import json
import re

import numpy as np
import pytest
from PIL import Image

from ibc.codec.step_code import step_from_code
from ibc.codec.wavelet_api import EVAL_QUALITIES, code_of_quality, quality_of_code

from conftest import natural_like, one_line_error, run


def info_of(path, capsys) -> dict:
    capsys.readouterr()
    assert run("info", path, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_compress_decompress_info_with_q_and_size(tmp_path, tiny_wavelet_weights, capsys):
    src = tmp_path / "photo.png"
    Image.fromarray(natural_like(150, 230, seed=2)).save(src)
    assert run("compress", src, "--model", tiny_wavelet_weights, "-q", "62.5", "--verbose") == 0
    code = code_of_quality(62.5)
    step = f"step {step_from_code(code):.1f} \\(code {code}\\)"  # the real step, not its code, and then the code
    assert re.search(rf"q 62\.\d, {step}, 230×150, PSNR", capsys.readouterr().out)
    info = info_of(src.with_suffix(".ibc"), capsys)
    assert (info["step_code"], info["chunks"]) == (code, 4) and "level" not in info
    assert info["step"] == step_from_code(code) and round(info["step"], 1) != code
    assert info["quality"] == quality_of_code(info["step_code"]) == pytest.approx(62.5, abs=0.2)
    assert run("info", src.with_suffix(".ibc")) == 0
    out = capsys.readouterr().out
    assert (f"\nquality       {info['quality']}\nstep          {info['step']:.1f} (code {code})\n" in out
            and "level" not in out and "step_code" not in out)
    out = tmp_path / "back.png"
    assert run("decompress", src.with_suffix(".ibc"), "--model", tiny_wavelet_weights, "-o", out, "-v") == 0
    assert "q 62." in capsys.readouterr().out and np.asarray(Image.open(out)).shape == (150, 230, 3)
    for budget in (1500, 4000):
        assert run("compress", src, "--model", tiny_wavelet_weights, "--size", budget, "-f", "--quiet") == 0
        assert 0.9 * budget <= src.with_suffix(".ibc").stat().st_size <= budget
    assert run("compress", src, "--model", tiny_wavelet_weights, "--size", "100", "-f") == 2
    assert "cannot reach the target" in one_line_error(capsys)
    assert run("compress", src, "--model", tiny_wavelet_weights, "-q", "120", "-f") == 2
    assert "0..100" in one_line_error(capsys)


def test_folders_in_parallel(tmp_path, tiny_wavelet_weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(natural_like(60 + 40 * i, 90, seed=i)).save(src / f"p{i}.png")
    assert run("compress", src, "-o", tmp_path / "c", "--model", tiny_wavelet_weights, "-j", "2", "-q", "40") == 0
    assert "3 of 3 files" in capsys.readouterr().out
    assert {info_of(p, capsys)["step_code"] for p in (tmp_path / "c").iterdir()} == {code_of_quality(40)}
    assert run("decompress", tmp_path / "c", "-o", tmp_path / "d", "--model", tiny_wavelet_weights, "-j", "2") == 0
    assert [np.asarray(Image.open(tmp_path / "d" / f"p{i}.png")).shape for i in range(3)] == \
        [(60, 90, 3), (100, 90, 3), (140, 90, 3)]


def test_version_1_and_unknown_versions_are_named(tmp_path, tiny_wavelet_weights, capsys):
    src = tmp_path / "p.png"
    Image.fromarray(natural_like(40, 40)).save(src)
    assert run("compress", src, "--model", tiny_wavelet_weights, "--quiet") == 0
    for version in (1, 7):
        data = bytearray(src.with_suffix(".ibc").read_bytes())
        data[4] = version
        bad = tmp_path / f"v{version}.ibc"
        bad.write_bytes(bytes(data))
        assert run("info", bad) == 2
        assert f"format version {version} (this ibc reads versions 2, 3, 4, 5)" in one_line_error(capsys)


def test_mode_gc_uses_the_gc_model_built_on_the_chosen_model(tmp_path, capsys, one_thread):
    """The default (shannon-v4) takes gc-v4, a q and a step code; shannon-v3 and v2 take gc-v3 and gc-v2."""
    src = tmp_path / "p.png"
    Image.fromarray(natural_like(48, 64)).save(src)
    assert run("compress", src, "--mode", "gc", "-q", "10", "--quiet") == 0
    info = info_of(src.with_suffix(".ibc"), capsys)
    assert (info["mode"], info["model"], info["quality"]) == ("gc", "gc-v4", 10) and "level" not in info
    assert run("decompress", src.with_suffix(".ibc"), "-o", tmp_path / "g.png", "--quiet") == 0
    assert run("compress", src, "--mode", "gc", "--model", "shannon-v2", "-q", "10", "-o", tmp_path / "v2gc.ibc",
               "--quiet") == 0
    assert info_of(tmp_path / "v2gc.ibc", capsys)["model"] == "gc-v2"
    assert run("compress", src, "--mode", "gc", "--model", "shannon-v3", "-q", "10", "-o", tmp_path / "v3gc.ibc",
               "--quiet") == 0
    assert info_of(tmp_path / "v3gc.ibc", capsys)["model"] == "gc-v3"
    assert run("compress", src, "-o", tmp_path / "v4.ibc", "--quiet") == 0  # the default: shannon-v4
    assert info_of(tmp_path / "v4.ibc", capsys)["model"] == "shannon-v4"


def test_eval_sweeps_q_values(tmp_path, tiny_wavelet_weights, one_thread):
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(natural_like(168, 176)).save(folder / "a.png")
    out = tmp_path / "r.json"
    assert run("eval", folder, "--codec", f"ibc:{tiny_wavelet_weights}", "--levels", "30", "72.5", "-o", out,
               "--quiet") == 0
    results = json.loads(out.read_text())["results"]
    assert [r["setting"] for r in results] == [30, 72.5] and results[0]["bpp"] < results[1]["bpp"]
    from ibc.codec.evaluation.evaluate import make_coder
    assert make_coder(f"ibc:{tiny_wavelet_weights}").sweep == tuple(map(float, EVAL_QUALITIES))
    assert len(EVAL_QUALITIES) == 8
