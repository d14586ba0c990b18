"""`ibc eval` and `ibc plot` end to end on a few generated images: outputs, the resumable cache, errors."""
import csv
import json

import pytest
from PIL import Image

import ibc.codec.evaluate as evaluate

from conftest import natural_like, one_line_error, run

FIELDS = {"bpp", "psnr", "ms_ssim", "ms_ssim_db", "swd", "encode_s", "decode_s"}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    for seed in range(3):  # 168 px: MS-SSIM's five scales fit
        Image.fromarray(natural_like(168, 176, seed)).save(folder / f"im{seed}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def count_coding(monkeypatch):
    calls = []
    real = evaluate._code

    def counted(coder, rgb, setting):
        calls.append((coder.name, setting))
        return real(coder, rgb, setting)
    monkeypatch.setattr(evaluate, "_code", counted)
    return calls


def strip_timings(report):
    for r in report["results"]:
        for row in [r, *r["per_image"]]:
            row.pop("encode_s", None), row.pop("decode_s", None)
    return report


def test_eval_plot_and_resume(photos, tiny_weights, tmp_path, capsys, monkeypatch):
    out = tmp_path / "res" / "r.json"
    out.parent.mkdir()
    codecs = ["--codec", "jpeg", "--codec", f"ibc:{tiny_weights}"]
    assert run("eval", photos, *codecs, "-o", out) == 0
    report = json.loads(out.read_text())
    assert report["images"] == ["im0.png", "im1.png", "im2.png"]
    jpeg = [r for r in report["results"] if r["codec"] == "jpeg"]
    ibc = [r for r in report["results"] if r["codec"] == "ibc:tiny"]
    assert [r["setting"] for r in ibc] == [1, 2, 3] and len(jpeg) >= 5
    for r in report["results"]:
        assert FIELDS <= set(r) and r["images"] == 3 and len(r["per_image"]) == 3
        assert 0 < r["ms_ssim"] < 1 and r["swd"] > 0 and len(r["swd_levels"]) == 4
        assert all(FIELDS - {"swd"} <= set(p) for p in r["per_image"])
        assert r["bpp"] == pytest.approx(sum(p["bytes"] * 8 / (168 * 176) for p in r["per_image"]) / 3)
    assert ibc[0]["bpp"] < ibc[-1]["bpp"] and ibc[0]["psnr"] < ibc[-1]["psnr"]
    assert jpeg[0]["swd"] > jpeg[-1]["swd"]
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert len(rows) == len(report["results"]) and FIELDS <= set(rows[0])

    # A finished run is served from the cache entirely: nothing is coded again.
    calls = count_coding(monkeypatch)
    assert run("eval", photos, *codecs, "-o", out) == 0
    assert calls == [] and strip_timings(json.loads(out.read_text())) == strip_timings(report)

    # An interrupted run (cache cut mid-setting, torn last line) codes only what is missing, plus the
    # finished images of the interrupted setting again for their reconstructions (realism needs them all).
    cache = out.with_name("r.json.cache.jsonl")
    lines = cache.read_text().splitlines(keepends=True)
    cache.write_text("".join(lines[:-3]) + lines[-3][:20])  # lost: im1, im2 and the realism of ibc level 3
    assert run("eval", photos, *codecs, "-o", out) == 0
    assert sorted(calls) == [("ibc:tiny", 3)] * 3
    assert strip_timings(json.loads(out.read_text())) == strip_timings(report)

    capsys.readouterr()
    png, table = tmp_path / "rdp.png", tmp_path / "bd.md"
    assert run("plot", out, "-o", png, "--table", table) == 0
    printed = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "| JPEG |" in printed and "| ibc (tiny) |" in printed and "BD-rate" in table.read_text()
    assert "+0.0 %" in printed.splitlines()[4]  # the anchor against itself


def test_levels_and_limit(photos, tiny_weights, tmp_path):
    out = tmp_path / "r.json"
    assert run("eval", photos, "--codec", f"ibc:{tiny_weights}", "--levels", "2", "--limit", "1", "-o", out) == 0
    report = json.loads(out.read_text())
    assert report["images"] == ["im0.png"] and [r["setting"] for r in report["results"]] == [2]


@pytest.mark.parametrize("argv, words", [
    (["eval", "{tmp}/missing", "--codec", "jpeg"], "no such folder"),
    (["eval", "{photos}", "--codec", "gif"], "unknown codec"),
    (["eval", "{photos}", "--codec", "ibc:{weights}", "--levels", "9"], "not in 1..3"),
    (["eval", "{photos}", "--codec", "ibc:nonesuch"], "unknown model"),
    (["eval", "{tmp}", "--codec", "jpeg"], "no images"),
    (["eval", "{photos}", "--codec", "jpeg", "--lpips"], "need local network weights"),
    (["plot", "{tmp}/missing.json"], "no such file"),
    (["plot", "{photos}/notes.txt"], "not an `ibc eval` results file"),
])
def test_bad_input_fails_cleanly(argv, words, photos, tiny_weights, tmp_path, capsys):
    fill = {"tmp": tmp_path, "photos": photos, "weights": tiny_weights}
    argv = [a.format(**fill) for a in argv] + ["-o", str(tmp_path / "out.json")]
    assert run(*argv) == 2
    assert words in one_line_error(capsys)
    assert not (tmp_path / "out.json").exists()


def test_plot_unknown_anchor(photos, tmp_path, capsys):
    out = tmp_path / "r.json"
    assert run("eval", photos, "--codec", "jpeg", "--limit", "1", "-o", out) == 0
    capsys.readouterr()
    assert run("plot", out, "-o", tmp_path / "p.png", "--anchor", "webp") == 2
    assert "anchor 'webp' is not in the results" in one_line_error(capsys)
