"""The `ibc` command end to end: outputs, messages, exit codes, and that bad input leaves nothing behind."""
import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ibc.codec.weights import read_manifest

from conftest import natural_like, one_line_error, run

SAMPLE = Path(__file__).parent / "data" / "sample.png"


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(natural_like(40, 56)).save(path)
    return path


def test_compress_decompress_info(photo, tiny_weights, capsys):
    assert run("compress", photo, "--model", tiny_weights, "-q", "2", "--verbose") == 0
    out = capsys.readouterr().out
    ibc = photo.with_suffix(".ibc")
    size = ibc.stat().st_size
    bpp = float(re.search(r"([\d.]+) bpp", out).group(1))
    assert abs(bpp - size * 8 / (40 * 56)) < 1e-3 and "PSNR" in out
    assert run("decompress", ibc, "--model", tiny_weights, "-o", photo.parent / "back.png") == 0
    assert np.asarray(Image.open(photo.parent / "back.png")).shape == (40, 56, 3)
    capsys.readouterr()
    assert run("info", ibc, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["width"] == 56 and info["height"] == 40 and info["level"] == 2 and info["bytes"] == size


def test_existing_output_needs_force(photo, tiny_weights, capsys):
    out = photo.with_suffix(".ibc")
    out.write_bytes(b"precious")
    assert run("compress", photo, "--model", tiny_weights) == 2
    assert "--force" in one_line_error(capsys)
    assert out.read_bytes() == b"precious"
    assert run("compress", photo, "--model", tiny_weights, "--force", "--quiet") == 0
    assert out.read_bytes()[:4] == b"IBC\x1a"


def corrupt_variants(good: bytes) -> dict:
    flipped = bytearray(good)
    flipped[len(good) // 2 + 20] ^= 0x04
    version = bytearray(good)
    version[4] = 9
    return {"magic": b"JUNK" + good[4:], "version": bytes(version), "truncated": good[: len(good) - 10],
            "flipped": bytes(flipped), "empty": b""}


def test_bad_ibc_files_fail_cleanly(photo, tiny_weights, tmp_path, capsys):
    assert run("compress", photo, "--model", tiny_weights, "--quiet") == 0
    good = photo.with_suffix(".ibc").read_bytes()
    for name, data in corrupt_variants(good).items():
        bad = tmp_path / f"{name}.ibc"
        bad.write_bytes(data)
        assert run("decompress", bad, "--model", tiny_weights) == 2, name
        one_line_error(capsys)
        assert not bad.with_suffix(".png").exists(), name


def test_bad_images_fail_cleanly(tmp_path, tiny_weights, capsys):
    truncated = tmp_path / "trunc.png"
    Image.fromarray(natural_like(64, 64)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    text = tmp_path / "text.png"
    text.write_text("not an image")
    for src in (tmp_path / "missing.png", truncated, text):
        assert run("compress", src, "--model", tiny_weights) == 2
        one_line_error(capsys)
        assert not src.with_suffix(".ibc").exists()


def test_image_above_the_pixel_limit(tmp_path, tiny_weights, capsys):
    big = tmp_path / "big.png"
    Image.new("1", (12000, 9000)).save(big)  # 108 MP, a few kB on disk
    assert run("compress", big, "--model", tiny_weights) == 2
    assert "limit" in one_line_error(capsys)
    assert not big.with_suffix(".ibc").exists()


def test_other_models_file(photo, tiny_weights, tmp_path, capsys):
    assert run("compress", photo, "--model", tiny_weights, "--quiet") == 0
    from conftest import tiny_model
    from ibc.codec.weights import save_weights
    other = tmp_path / "other.pt"
    save_weights(tiny_model(seed=2), other, "other")
    assert run("decompress", photo.with_suffix(".ibc"), "--model", other, "-o", tmp_path / "x.png") == 2
    assert "made by model" in one_line_error(capsys)


def test_shipped_default_model_end_to_end(tmp_path, capsys):
    manifest = read_manifest()
    assert manifest["default"], "weights/manifest.json names no default model"
    src = tmp_path / "sample.png"
    src.write_bytes(SAMPLE.read_bytes())
    assert run("compress", src, "--verbose") == 0
    psnr = float(re.search(r"PSNR ([\d.]+) dB", capsys.readouterr().out).group(1))
    assert psnr > 25
    assert run("decompress", src.with_suffix(".ibc"), "-o", tmp_path / "out.png") == 0
    original = np.asarray(Image.open(src).convert("RGB"))
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == original.shape


def test_console_script_never_shows_a_traceback(tmp_path):
    bad = tmp_path / "bad.ibc"
    bad.write_bytes(b"IBC\x1a" + b"\xff" * 40)
    proc = subprocess.run([sys.executable, "-m", "ibc.cli", "decompress", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ibc: error:") and "Traceback" not in proc.stderr
    assert not bad.with_suffix(".png").exists()


def test_folders_in_bulk_with_a_bad_file(tmp_path, tiny_weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(natural_like(24 + i, 40, seed=i)).save(src / f"p{i}.png")
    (src / "broken.png").write_text("not an image")
    out = tmp_path / "out"
    assert run("compress", src, "-o", out, "--model", tiny_weights, "-j", "2", "-q", "1") == 2
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "3 of 4 files" in captured.out and "mean" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["p0.ibc", "p1.ibc", "p2.ibc"]
    back = tmp_path / "back"
    assert run("decompress", out, "-o", back, "--model", tiny_weights) == 0
    assert sorted(p.name for p in back.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert np.asarray(Image.open(back / "p2.png")).shape == (26, 40, 3)


def test_salvage_flag(tmp_path, tiny_weights, capsys):
    src = tmp_path / "wide.png"
    Image.fromarray(natural_like(64, 600)).save(src)
    assert run("compress", src, "--model", tiny_weights, "--quiet") == 0
    data = bytearray(src.with_suffix(".ibc").read_bytes())
    from ibc.codec.bitstream import parse_header
    _, offset = parse_header(bytes(data))
    data[offset + 6] ^= 0x01
    bad = tmp_path / "bad.ibc"
    bad.write_bytes(bytes(data))
    assert run("decompress", bad, "--model", tiny_weights) == 2
    assert "--salvage" in one_line_error(capsys)
    assert run("decompress", bad, "--model", tiny_weights, "--salvage") == 0
    assert "tile(s) 0" in capsys.readouterr().err and bad.with_suffix(".png").exists()
