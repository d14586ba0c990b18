"""The `ibc` command end to end: outputs, messages, exit codes, and that bad input leaves nothing behind."""
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from ibc.codec.weights import read_manifest

from conftest import DATA, natural_like, one_line_error, run

SAMPLE = DATA / "sample.png"


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    Image.fromarray(natural_like(40, 56)).save(path)
    return path


def test_compress_decompress_info(photo, tiny_wavelet_weights, capsys):
    assert run("compress", photo, "--model", tiny_wavelet_weights, "-q", "40", "--verbose") == 0
    out = capsys.readouterr().out
    ibc = photo.with_suffix(".ibc")
    size = ibc.stat().st_size
    bpp = float(re.search(r"([\d.]+) bpp", out).group(1))
    assert abs(bpp - size * 8 / (40 * 56)) < 1e-3 and "PSNR" in out
    assert run("decompress", ibc, "--model", tiny_wavelet_weights, "-o", photo.parent / "back.png") == 0
    assert np.asarray(Image.open(photo.parent / "back.png")).shape == (40, 56, 3)
    capsys.readouterr()
    assert run("info", ibc, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["width"] == 56 and info["height"] == 40 and abs(info["quality"] - 40) < 0.5 and info["bytes"] == size
    assert "level" not in info


def test_existing_output_needs_force(photo, tiny_wavelet_weights, capsys):
    out = photo.with_suffix(".ibc")
    out.write_bytes(b"precious")
    assert run("compress", photo, "--model", tiny_wavelet_weights) == 2
    assert "--force" in one_line_error(capsys)
    assert out.read_bytes() == b"precious"
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--force", "--quiet") == 0
    assert out.read_bytes()[:4] == b"IBC\x1a"


def corrupt_variants(good: bytes) -> dict:
    flipped = bytearray(good)
    flipped[len(good) // 2 + 20] ^= 0x04
    version = bytearray(good)
    version[4] = 9
    return {"magic": b"JUNK" + good[4:], "version": bytes(version), "truncated": good[: len(good) - 10],
            "flipped": bytes(flipped), "empty": b""}


def test_bad_ibc_files_fail_cleanly(photo, tiny_wavelet_weights, tmp_path, capsys):
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--quiet") == 0
    good = photo.with_suffix(".ibc").read_bytes()
    for name, data in corrupt_variants(good).items():
        bad = tmp_path / f"{name}.ibc"
        bad.write_bytes(data)
        # corrupt data has its own status; a format version this ibc does not know may be a newer ibc's
        assert run("decompress", bad, "--model", tiny_wavelet_weights) == (2 if name == "version" else 3), name
        one_line_error(capsys)
        assert not bad.with_name(bad.name + ".png").exists(), name


def test_bad_images_fail_cleanly(tmp_path, tiny_wavelet_weights, capsys):
    truncated = tmp_path / "trunc.png"
    Image.fromarray(natural_like(64, 64)).save(truncated)
    truncated.write_bytes(truncated.read_bytes()[:200])
    text = tmp_path / "text.png"
    text.write_text("not an image")
    for src in (tmp_path / "missing.png", truncated, text):
        assert run("compress", src, "--model", tiny_wavelet_weights) == 2
        one_line_error(capsys)
        assert not src.with_suffix(".ibc").exists()


def test_image_above_the_pixel_limit(tmp_path, tiny_wavelet_weights, capsys):
    big = tmp_path / "big.png"
    Image.new("1", (12000, 9000)).save(big)  # 108 MP, a few kB on disk
    assert run("compress", big, "--model", tiny_wavelet_weights) == 2
    assert "limit" in one_line_error(capsys)
    assert not big.with_suffix(".ibc").exists()


def test_other_models_file(photo, tiny_wavelet_weights, tmp_path, capsys):
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--quiet") == 0
    from ibc.codec.training.wavelet_design import design
    from ibc.codec.training.wavelet_model import WaveletCodec
    from ibc.codec.training.weights_torch import save_weights
    model = WaveletCodec(tile=128)
    design(model, [natural_like(64, 64, seed=9)], (20.0,), rounds=1)  # other tables: another sha256
    other = tmp_path / "other.pt"
    save_weights(model, other, "other")
    assert run("decompress", photo.with_suffix(".ibc"), "--model", other, "-o", tmp_path / "x.png") == 2
    assert "made by model" in one_line_error(capsys)


def test_shipped_default_model_end_to_end(tmp_path, capsys):
    manifest = read_manifest()
    assert manifest["default"], "weights/manifest.json names no default model"
    src = tmp_path / "sample.png"
    src.write_bytes(SAMPLE.read_bytes())
    assert run("compress", src, "--verbose") == 0
    psnr = float(re.search(r"PSNR ([\d.]+) dB", capsys.readouterr().out).group(1))
    assert psnr > 32.5  # its measured level on the sample, as in test_golden.py (32.77 dB, 0.3215 bpp)
    assert src.with_suffix(".ibc").stat().st_size * 8 / (384 * 256) < 0.33
    assert src.with_suffix(".ibc").read_bytes() == (SAMPLE.parent / "sample.ibc").read_bytes()
    assert run("decompress", src.with_suffix(".ibc"), "-o", tmp_path / "out.png") == 0
    original = np.asarray(Image.open(src).convert("RGB"))
    assert np.asarray(Image.open(tmp_path / "out.png")).shape == original.shape


def test_console_script_never_shows_a_traceback(tmp_path):
    bad = tmp_path / "bad.ibc"
    bad.write_bytes(b"IBC\x1a" + b"\xff" * 40)
    proc = subprocess.run([sys.executable, "-m", "ibc.cli", "decompress", str(bad)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.startswith("ibc: error:") and "Traceback" not in proc.stderr
    assert not bad.with_name(bad.name + ".png").exists()


def test_folders_in_bulk_with_a_bad_file(tmp_path, tiny_wavelet_weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        Image.fromarray(natural_like(24 + i, 40, seed=i)).save(src / f"p{i}.png")
    (src / "broken.png").write_text("not an image")
    out = tmp_path / "out"
    assert run("compress", src, "-o", out, "--model", tiny_wavelet_weights, "-j", "2", "-q", "30") == 2
    captured = capsys.readouterr()
    assert "broken.png" in captured.err and "3 of 4 files" in captured.out and "mean" in captured.out
    assert sorted(p.name for p in out.iterdir()) == ["p0.ibc", "p1.ibc", "p2.ibc"]
    back = tmp_path / "back"
    assert run("decompress", out, "-o", back, "--model", tiny_wavelet_weights) == 0
    assert sorted(p.name for p in back.iterdir()) == ["p0.png", "p1.png", "p2.png"]
    assert np.asarray(Image.open(back / "p2.png")).shape == (26, 40, 3)


def test_salvage_flag(tmp_path, tiny_wavelet_weights, capsys):
    """A damaged tile is refused with a hint, and --salvage decodes the rest, saying which."""
    weights = tiny_wavelet_weights
    src = tmp_path / "wide.png"
    Image.fromarray(natural_like(100, 300)).save(src)
    assert run("compress", src, "--model", weights, "--quiet") == 0
    data = bytearray(src.with_suffix(".ibc").read_bytes())
    from ibc.codec.bitstream import parse_header
    _, offset = parse_header(bytes(data))
    data[offset + 6] ^= 0x01
    bad = tmp_path / "bad.ibc"
    bad.write_bytes(bytes(data))
    assert run("decompress", bad, "--model", weights) == 3
    assert "--salvage" in one_line_error(capsys)
    assert run("decompress", bad, "--model", weights, "--salvage") == 3  # written, but tiles were lost
    assert "tile(s) 0 failed" in capsys.readouterr().err and bad.with_name(bad.name + ".png").exists()


# Generative compression (--mode gc, --seed, --realism, --samples)

def pixels(path) -> np.ndarray:
    return np.asarray(Image.open(path))


def info_of(path, capsys) -> dict:
    capsys.readouterr()
    assert run("info", path, "--json") == 0
    return json.loads(capsys.readouterr().out)


def test_gc_seed_round_trip_and_samples(photo, tiny_gc, tmp_path, capsys):
    assert run("compress", photo, "--model", tiny_gc, "-q", "20", "--seed", "7", "--quiet") == 0
    ibc = photo.with_suffix(".ibc")
    info = info_of(ibc, capsys)
    assert (info["mode"], info["seed"], info["model"]) == ("gc", 7, "tiny-gc")
    assert run("decompress", ibc, "--model", tiny_gc, "--samples", "3", "-o", tmp_path / "x.png") == 0
    assert capsys.readouterr().out.count("realism 1, seed ") == 3
    names = sorted(p.name for p in tmp_path.glob("x*.png"))
    assert names == ["x-s7.png", "x-s8.png", "x-s9.png"]
    samples = [pixels(tmp_path / n) for n in names]
    assert all(not np.array_equal(a, b) for i, a in enumerate(samples) for b in samples[i + 1:])
    # the header's seed by default, --seed S overrides it: each reproduces its sample
    assert run("decompress", ibc, "--model", tiny_gc, "-o", tmp_path / "default.png", "--quiet") == 0
    assert np.array_equal(pixels(tmp_path / "default.png"), samples[0])
    assert run("decompress", ibc, "--model", tiny_gc, "--seed", "8", "-o", tmp_path / "s8.png") == 0
    assert np.array_equal(pixels(tmp_path / "s8.png"), samples[1])
    # an existing sample is refused before any is written, unless --force
    before = (tmp_path / "x-s9.png").read_bytes()
    (tmp_path / "x-s9.png").write_bytes(b"precious")
    (tmp_path / "x-s7.png").unlink()
    (tmp_path / "x-s8.png").unlink()
    capsys.readouterr()
    assert run("decompress", ibc, "--model", tiny_gc, "--samples", "3", "-o", tmp_path / "x.png") == 2
    assert "x-s9.png" in one_line_error(capsys) and (tmp_path / "x-s9.png").read_bytes() == b"precious"
    assert not (tmp_path / "x-s7.png").exists() and not (tmp_path / "x-s8.png").exists()
    assert run("decompress", ibc, "--model", tiny_gc, "--samples", "3", "-o", tmp_path / "x.png",
               "--force", "--quiet") == 0
    assert (tmp_path / "x-s9.png").read_bytes() == before


def test_gc_verbose_psnr_is_of_the_default_decode(photo, tiny_gc, tmp_path, capsys):
    from ibc.codec.metrics import psnr
    assert run("compress", photo, "--model", tiny_gc, "-q", "10", "--seed", "4", "--verbose") == 0
    out = capsys.readouterr().out
    assert "mode gc, seed 4" in out
    printed = float(re.search(r"PSNR ([\d.]+) dB", out).group(1))
    ibc = photo.with_suffix(".ibc")
    original = pixels(photo)
    for realism, name in (("1", "gen.png"), ("0", "mse.png")):
        assert run("decompress", ibc, "--model", tiny_gc, "--realism", realism, "-o", tmp_path / name) == 0
    assert abs(psnr(original, pixels(tmp_path / "gen.png")) - printed) < 0.01
    assert abs(psnr(original, pixels(tmp_path / "mse.png")) - printed) > 0.01  # so the check above can fail


def test_mode_gc_picks_the_gc_model_built_on_the_base(photo, tiny_wavelet_weights, tmp_path, capsys, monkeypatch,
                                                      request):
    ibc = photo.with_suffix(".ibc")
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--mode", "gc") == 2
    assert "no generative (gc) model built on 'tiny-wavelet'" in one_line_error(capsys)
    assert not ibc.exists()
    gc = request.getfixturevalue("tiny_gc")  # installed now, with its base
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--mode", "gc", "-q", "20", "--quiet") == 0
    info = info_of(ibc, capsys)
    assert (info["mode"], info["model"]) == ("gc", "tiny-gc")
    assert run("compress", photo, "--model", gc, "--mode", "shannon", "-f", "--quiet") == 0
    assert info_of(ibc, capsys)["model"] == "tiny-wavelet"
    monkeypatch.setenv("IBC_MODEL_PATH", str(tmp_path / "empty"))  # the gc model stays loaded, its base is gone
    assert run("compress", photo, "--model", gc, "--mode", "shannon", "-f") == 2
    assert "base is not installed" in one_line_error(capsys)


def test_realism_on_a_shannon_file(photo, tiny_wavelet_weights, tmp_path, capsys, request):
    assert run("compress", photo, "--model", tiny_wavelet_weights, "-q", "20", "--quiet") == 0
    ibc = photo.with_suffix(".ibc")
    assert run("decompress", ibc, "--model", tiny_wavelet_weights, "--realism", "1", "-o", tmp_path / "g.png") == 2
    assert "needs a generative (gc) model built on 'tiny-wavelet'" in one_line_error(capsys)
    assert not (tmp_path / "g.png").exists()
    request.getfixturevalue("tiny_gc")  # installed now
    assert run("decompress", ibc, "--model", tiny_wavelet_weights, "--realism", "1", "-o", tmp_path / "g.png") == 0
    assert run("decompress", ibc, "--model", tiny_wavelet_weights, "-o", tmp_path / "s.png") == 0
    assert not np.array_equal(pixels(tmp_path / "g.png"), pixels(tmp_path / "s.png"))


def test_bad_gc_options_fail_cleanly(photo, tiny_wavelet_weights, tiny_gc, tmp_path, capsys):
    assert run("compress", photo, "--model", tiny_gc, "-q", "20", "--quiet") == 0
    gc = photo.with_suffix(".ibc")
    assert run("compress", photo, "--model", tiny_wavelet_weights, "-q", "20", "-o", tmp_path / "plain.ibc",
               "--quiet") == 0
    cases = {"samples 0": (gc, "--samples", "0"), "realism 1.5": (gc, "--realism", "1.5"),
             "seed -1": (gc, "--seed", "-1"), "samples past the last seed": (gc, "--seed", "4294967295", "--samples", "2"),
             "samples of realism 0": (tmp_path / "plain.ibc", "--samples", "2")}
    for name, (src, *options) in cases.items():
        model = tiny_gc if src == gc else tiny_wavelet_weights
        assert run("decompress", src, "--model", model, "-o", tmp_path / "out.png", *options) == 2, name
        one_line_error(capsys)
        assert not list(tmp_path.glob("out*.png")), name
    assert run("compress", photo, "--model", tiny_gc, "--seed", "-1", "-o", tmp_path / "neg.ibc") == 2
    assert "seed" in one_line_error(capsys) and not (tmp_path / "neg.ibc").exists()


def test_gc_options_reach_every_file_of_a_folder(tmp_path, tiny_gc, capsys):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(2):
        Image.fromarray(natural_like(24, 32, seed=i)).save(src / f"p{i}.png")
    assert run("compress", src, "-o", tmp_path / "c", "--model", tiny_gc, "--seed", "5", "-q", "20") == 0
    assert [info_of(p, capsys)["seed"] for p in sorted((tmp_path / "c").iterdir())] == [5, 5]
    back = tmp_path / "back"
    assert run("decompress", tmp_path / "c", "-o", back, "--model", tiny_gc, "--samples", "2",
               "--quiet") == 0
    assert sorted(p.name for p in back.iterdir()) == ["p0-s5.png", "p0-s6.png", "p1-s5.png", "p1-s6.png"]
    assert run("decompress", tmp_path / "c", "-o", tmp_path / "mse", "--model", tiny_gc,
               "--realism", "0", "--quiet") == 0
    assert not np.array_equal(pixels(back / "p0-s5.png"), pixels(tmp_path / "mse" / "p0.png"))
