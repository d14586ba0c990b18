"""What `ibc` tells the user is true: a lossy output format is a second loss, stated with its quality;
labels show q 0 (never "q -0") and the real quantiser step beside the header's code; help texts claim
torch only where it is needed."""
import json

import numpy as np
import pytest
from PIL import Image

from ibc.codec.step_code import CODE_AT_Q0, quality_of_code, step_from_code

from conftest import natural_like, one_line_error, run


@pytest.fixture
def coded(tmp_path, tiny_wavelet_weights):
    src = tmp_path / "photo.png"
    Image.fromarray(natural_like(100, 300, seed=4)).save(src)
    assert run("compress", src, "--model", tiny_wavelet_weights, "--quiet") == 0
    return src.with_suffix(".ibc")


def test_a_lossy_output_states_its_quality(coded, tmp_path, tiny_wavelet_weights, capsys):
    sizes = {}
    for q in (None, "50"):
        out = tmp_path / f"out{q}.jpg"
        assert run("decompress", coded, "--model", tiny_wavelet_weights, "-o", out,
                   *(["--output-quality", q] if q else [])) == 0
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"{out}: written as JPEG at quality {q or 95} (a second lossy step" in err
        assert Image.open(out).format == "JPEG"
        sizes[q] = out.stat().st_size
    assert sizes["50"] < sizes[None]
    assert run("decompress", coded, "--model", tiny_wavelet_weights, "-o", tmp_path / "q.webp", "--quiet") == 0
    assert capsys.readouterr().err == "" and Image.open(tmp_path / "q.webp").format == "WEBP"


def test_lossless_outputs_say_nothing_and_keep_the_pixels(coded, tmp_path, tiny_wavelet_weights, capsys):
    pixels = []
    for name in ("out.png", "out.tiff", "out.bmp"):
        assert run("decompress", coded, "--model", tiny_wavelet_weights, "-o", tmp_path / name,
                   "--output-quality", "10") == 0
        assert "quality" not in capsys.readouterr().err
        pixels.append(np.asarray(Image.open(tmp_path / name).convert("RGB")))
    assert all(np.array_equal(pixels[0], p) for p in pixels[1:])


@pytest.mark.parametrize("bad", ["0", "101", "high", "9.5", "-5"])
def test_a_bad_output_quality_is_one_line(coded, tmp_path, tiny_wavelet_weights, capsys, bad):
    out = tmp_path / "out.jpg"
    assert run("decompress", coded, "--model", tiny_wavelet_weights, "-o", out, f"--output-quality={bad}") == 2
    assert "--output-quality takes a whole number in 1..100" in one_line_error(capsys) and not out.exists()


def test_q_0_is_not_minus_0_and_the_step_is_the_real_one(tmp_path, tiny_wavelet_weights, capsys):
    assert f"{quality_of_code(CODE_AT_Q0):g}" == "0"
    src = tmp_path / "photo.png"
    Image.fromarray(natural_like(100, 300, seed=4)).save(src)
    assert run("compress", src, "--model", tiny_wavelet_weights, "-q", "0", "--verbose") == 0
    out = capsys.readouterr().out.replace(str(tmp_path), "TMP")  # a temporary folder may be named …-0
    real = f"step {step_from_code(CODE_AT_Q0):.1f} (code {CODE_AT_Q0})"
    assert f"q 0, {real}," in out and "-0" not in out
    assert run("info", src.with_suffix(".ibc"), "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert (info["quality"], info["step"], info["step_code"]) == (0, step_from_code(CODE_AT_Q0), CODE_AT_Q0)
    assert run("info", src.with_suffix(".ibc")) == 0
    text = capsys.readouterr().out.replace(str(tmp_path), "TMP")
    assert "-0" not in text and f"step          {real[5:]}\n" in text
    assert run("decompress", src.with_suffix(".ibc"), "--model", tiny_wavelet_weights, "-v") == 0
    assert f"q 0, {real}" in capsys.readouterr().out


def test_help_names_no_retired_model(capsys):
    """The block models and the CompressAI peer are gone (0.2.0): no help text offers them."""
    for command in ("compress", "decompress", "eval", "export", "plot"):
        with pytest.raises(SystemExit):
            run(command, "--help")
        text = " ".join(capsys.readouterr().out.split()).lower()
        assert "rvq5" not in text and "block model" not in text and "compressai" not in text, command
        assert "gc file's generative decoder runs on torch" not in text
