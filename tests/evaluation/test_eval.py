"""`ibc eval` and `ibc plot` end to end on a few generated images: outputs, the resumable cache, errors."""
import csv
import json

import pytest
from PIL import Image

import ibc.codec.evaluation.evaluate as evaluate

from conftest import ROOT, natural_like, one_line_error, run

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

    def counted(coder, rgb, setting, *realisms):
        calls.append((coder.name, setting))
        return real(coder, rgb, setting, *realisms)
    monkeypatch.setattr(evaluate, "_code", counted)
    return calls


def count_judging(monkeypatch):
    calls = []
    real = evaluate._judge

    def counted(images, recons):
        calls.append(len(recons))
        return real(images, recons)
    monkeypatch.setattr(evaluate, "_judge", counted)
    return calls


def strip_timings(report):
    for r in report["results"]:
        for row in [r, *r["per_image"]]:
            row.pop("encode_s", None), row.pop("decode_s", None)
    return report


def test_eval_plot_and_resume(photos, tiny_wavelet_weights, tmp_path, capsys, monkeypatch):
    out = tmp_path / "res" / "r.json"
    out.parent.mkdir()
    codecs = ["--codec", "jpeg", "--codec", f"ibc:{tiny_wavelet_weights}", "--levels", "20", "50", "80"]
    assert run("eval", photos, *codecs, "-o", out) == 0
    report = json.loads(out.read_text())
    assert report["images"] == ["im0.png", "im1.png", "im2.png"]
    jpeg = [r for r in report["results"] if r["codec"] == "jpeg"]
    ibc = [r for r in report["results"] if r["codec"] == "ibc:tiny-wavelet"]
    assert [r["setting"] for r in ibc] == [20, 50, 80] and len(jpeg) >= 5
    for r in report["results"]:
        assert FIELDS <= set(r) and r["images"] == 3 and len(r["per_image"]) == 3
        assert 0 < r["ms_ssim"] < 1 and r["swd"] > 0 and len(r["swd_levels"]) == 4
        # a 2 × 2 grid of held-out patches per image, original and reconstruction each
        assert 0 <= r["c2st"] <= 1 and 0 <= r["c2st_cond"] <= 1 and r["c2st_n"] == 3 * 4 * 2
        assert r["c2st_threshold"] == evaluate.judge.null_threshold(24)
        assert all(FIELDS - {"swd"} <= set(p) for p in r["per_image"])
        assert r["bpp"] == pytest.approx(sum(p["bytes"] * 8 / (168 * 176) for p in r["per_image"]) / 3)
    assert ibc[0]["bpp"] < ibc[-1]["bpp"] and ibc[0]["psnr"] < ibc[-1]["psnr"]
    assert jpeg[0]["swd"] > jpeg[-1]["swd"]
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert len(rows) == len(report["results"]) and FIELDS | {"c2st", "c2st_cond", "c2st_threshold"} <= set(rows[0])

    # A finished run is served from the cache entirely: nothing is coded or judged again.
    calls, judged = count_coding(monkeypatch), count_judging(monkeypatch)
    assert run("eval", photos, *codecs, "-o", out) == 0
    assert calls == judged == [] and strip_timings(json.loads(out.read_text())) == strip_timings(report)

    # An interrupted run (cache cut mid-setting, torn last line) codes only what is missing, plus the
    # finished images of the interrupted setting again for their reconstructions (realism needs them all).
    cache = out.with_name("r.json.cache.jsonl")
    lines = cache.read_text().splitlines(keepends=True)
    cache.write_text("".join(lines[:-4]) + lines[-4][:20])  # lost: im1, im2, the SWD and the C2ST of ibc q 80
    assert run("eval", photos, *codecs, "-o", out) == 0
    assert sorted(calls) == [("ibc:tiny-wavelet", 80)] * 3 and judged == [3]
    assert strip_timings(json.loads(out.read_text())) == strip_timings(report)

    capsys.readouterr()
    png, table = tmp_path / "rdp.png", tmp_path / "bd.md"
    assert run("plot", out, "-o", png, "--table", table) == 0
    printed = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "| JPEG |" in printed and "| ibc (tiny-wavelet) |" in printed and "BD-rate" in table.read_text()
    assert "+0.0 %" in printed.splitlines()[4]  # the anchor against itself
    assert "| C2ST | C2ST cond. |" in printed and "at the 5 % level" in printed
    assert run("plot", out, "-o", png, "--judge", "swd") == 0 and png.stat().st_size > 20_000


def test_no_c2st(photos, tmp_path, monkeypatch, capsys):
    out, judged = tmp_path / "r.json", count_judging(monkeypatch)
    assert run("eval", photos, "--codec", "webp", "--no-c2st", "-o", out) == 0
    report = json.loads(out.read_text())
    assert judged == [] and all(r[f] is None for r in report["results"] for f in evaluate.C2ST_FIELDS)
    capsys.readouterr()
    assert run("plot", out, "-o", tmp_path / "p.png", "--anchor", "webp", "--judge", "c2st") == 2
    assert "no C2ST" in one_line_error(capsys)
    # Turned on again, the C2ST is all that is missing: each setting is coded again for it, and judged.
    assert run("eval", photos, "--codec", "webp", "-o", out) == 0
    judged_report = json.loads(out.read_text())
    assert judged == [3] * len(report["results"])
    assert all(r["c2st"] is not None and r["swd"] == s["swd"]
               for r, s in zip(judged_report["results"], report["results"]))
    # Off again, figures in the cache are still reported.
    assert run("eval", photos, "--codec", "webp", "--no-c2st", "-o", out) == 0
    assert judged == [3] * len(report["results"])
    assert strip_timings(json.loads(out.read_text())) == strip_timings(judged_report)


def test_levels_and_limit(photos, tiny_wavelet_weights, tmp_path):
    out = tmp_path / "r.json"
    assert run("eval", photos, "--codec", f"ibc:{tiny_wavelet_weights}", "--levels", "40", "--limit", "1",
               "-o", out) == 0
    report = json.loads(out.read_text())
    assert report["images"] == ["im0.png"] and [r["setting"] for r in report["results"]] == [40]


@pytest.mark.parametrize("argv, words", [
    (["eval", "{tmp}/missing", "--codec", "jpeg"], "no such folder"),
    (["eval", "{photos}", "--codec", "gif"], "unknown codec"),
    (["eval", "{photos}", "--codec", "ibc:{weights}", "--levels", "101"], "not in 0..100"),
    (["eval", "{photos}", "--codec", "compressai:{weights}"], "unknown codec"),
    (["eval", "{photos}", "--codec", "ibc:nonesuch"], "unknown model"),
    (["eval", "{tmp}", "--codec", "jpeg"], "no images"),
    (["eval", "{photos}", "--codec", "jpeg", "--lpips"], "need local network weights"),
    (["eval", "{photos}", "--codec", "ibc:{weights}", "--realism", "0.5"], "needs a generative model"),
    (["eval", "{photos}", "--codec", "jpeg", "--realism", "1.5"], "must lie in [0, 1]"),
    (["plot", "{tmp}/missing.json"], "no such file"),
    (["plot", "{photos}/notes.txt"], "not an `ibc eval` results file"),
])
def test_bad_input_fails_cleanly(argv, words, photos, tiny_wavelet_weights, tmp_path, capsys):
    fill = {"tmp": tmp_path, "photos": photos, "weights": tiny_wavelet_weights}
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


# Generative compression: a gc model swept over its decoder's realism A.

@pytest.fixture
def small(tmp_path):
    folder = tmp_path / "small"
    folder.mkdir()
    for seed in range(2):
        Image.fromarray(natural_like(48, 64, seed)).save(folder / f"s{seed}.png")
    return folder


def count_encodes(monkeypatch):
    calls = []
    real = evaluate.IbcCoder.encode

    def counted(self, rgb, setting):
        calls.append((self.name, setting))
        return real(self, rgb, setting)
    monkeypatch.setattr(evaluate.IbcCoder, "encode", counted)
    return calls


def by_series(report, codec):
    return {(r["setting"], r.get("realism")): r for r in report["results"] if r["codec"] == codec}


def test_gc_realism_sweep(small, tiny_wavelet_weights, tiny_gc, tmp_path, monkeypatch):
    out = tmp_path / "gc.json"
    encodes = count_encodes(monkeypatch)
    argv = ["eval", small, "--codec", f"ibc:{tiny_gc}", "--codec", f"ibc:{tiny_wavelet_weights}",
            "--levels", "20", "40"]
    assert run(*argv, "--realism", "0", "0.5", "1", "-o", out) == 0
    # One encode per image and setting, whatever the number of realisms.
    names = ("ibc-gc:tiny-gc", "ibc:tiny-wavelet")
    assert sorted(encodes) == sorted([(name, q) for name in names for q in (20, 40)] * 2)
    report = json.loads(out.read_text())
    gc, base = by_series(report, "ibc-gc:tiny-gc"), by_series(report, "ibc:tiny-wavelet")
    assert set(gc) == {(q, a) for q in (20, 40) for a in (0, 0.5, 1)} and set(base) == {(20, None), (40, None)}
    assert gc[20, 0.5]["label"] == "ibc-gc (tiny-gc) A=0.5" and gc[20, 0.5]["seed"] == 0
    header_extra = len("tiny-gc") - len("tiny-wavelet")  # the file names its model; the payload is the base's
    for L in (20, 40):
        assert gc[L, 0]["bpp"] == gc[L, 0.5]["bpp"] == gc[L, 1]["bpp"]
        assert gc[L, 0]["psnr"] != gc[L, 1]["psnr"] and gc[L, 0]["swd"] != gc[L, 1]["swd"]
        for f in ("psnr", "ms_ssim", "swd"):  # A = 0 is the Shannon-AE base model exactly
            assert gc[L, 0][f] == base[L, None][f]
        base_bytes = [p["bytes"] for p in base[L, None]["per_image"]]
        assert [p["bytes"] for p in gc[L, 0]["per_image"]] == [b + header_extra for b in base_bytes]
    rows = list(csv.DictReader(out.with_suffix(".csv").open()))
    assert sorted(r["realism"] for r in rows) == ["", "", "0.0", "0.0", "0.5", "0.5", "1.0", "1.0"]

    # The cache keys hold A and the seed: a rerun codes nothing, another seed re-codes the gc model only.
    calls = count_coding(monkeypatch)
    assert run(*argv, "--realism", "0", "0.5", "1", "-o", out) == 0
    assert calls == [] and strip_timings(json.loads(out.read_text())) == strip_timings(report)
    assert run(*argv, "--realism", "0", "1", "--seed", "1", "-o", out) == 0
    assert sorted(set(calls)) == [("ibc-gc:tiny-gc", 20), ("ibc-gc:tiny-gc", 40)]
    reseeded = by_series(json.loads(out.read_text()), "ibc-gc:tiny-gc")
    assert reseeded[20, 0]["psnr"] == gc[20, 0]["psnr"] and reseeded[20, 1]["psnr"] != gc[20, 1]["psnr"]


def test_plot_realism_sweep(small, tiny_wavelet_weights, tiny_gc, tmp_path, capsys):
    from ibc.codec.evaluation.plot import load_curves, sweeps

    out = tmp_path / "gc.json"
    assert run("eval", small, "--codec", f"ibc:{tiny_gc}", "--levels", "20", "40", "--realism", "0", "0.5", "1",
               "-o", out) == 0
    base = tmp_path / "base.json"
    assert run("eval", small, "--codec", f"ibc:{tiny_wavelet_weights}", "--codec", "jpeg", "--levels", "20", "40",
               "-o", base) == 0
    curves = load_curves([base, out])
    series = [c["codec"] for c in curves if c["realism"] is not None]
    assert series == [f"ibc-gc:tiny-gc A={a}" for a in ("0", "0.5", "1")]
    [sweep] = sweeps(curves)
    assert sweep["level"] == 20 and [a for a, _ in sweep["points"]] == [0, 0.5, 1]
    assert sweeps(curves, 40)[0]["level"] == 40

    capsys.readouterr()
    png = tmp_path / "rdp.png"
    assert run("plot", base, out, "-o", png, "--sweep-level", "40") == 0
    printed = capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "| ibc-gc (tiny-gc) A=0.5 |" in printed and "| ibc (tiny-wavelet) |" in printed and "realism" in printed
    assert run("plot", base, out, "-o", png, "--sweep-level", "30") == 2
    assert "no realism sweep at level 30" in one_line_error(capsys)


def test_gc_crops_script(tmp_path, tiny_gc):
    import importlib.util

    spec = importlib.util.spec_from_file_location("gc_crops", ROOT / "bench" / "gc_crops.py")
    gc_crops = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gc_crops)
    image, out = tmp_path / "im.png", tmp_path / "crops.png"
    rgb = natural_like(64, 64, 3)
    Image.fromarray(rgb).save(image)
    gc_crops.main(["--image", str(image), "--box", "8", "8", "48", "48", "--model", str(tiny_gc),
                   "-o", str(out)])
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # The classical file is the one nearest in size to the target over the whole quality scale.
    jpeg = gc_crops.CODECS["jpeg"]
    sizes = [len(jpeg.encode(rgb, q)) for q in gc_crops.QUALITIES["jpeg"]]
    target = sorted(sizes)[len(sizes) // 2] + 7
    assert abs(len(gc_crops.nearest_size(jpeg, rgb, target)) - target) == min(abs(s - target) for s in sizes)
    with pytest.raises(SystemExit, match="not inside"):
        gc_crops.main(["--image", str(image), "--box", "40", "0", "48", "48", "--model", str(tiny_gc)])


def test_a_tune_is_named_after_an_at_and_refused_where_it_does_not_exist(tiny_wavelet_weights):
    """`ibc:MODEL@ms-ssim` codes with that tune's step weights and is its own curve (name, label, cache key);
    a model without the tune, or a classical codec with one, is refused before anything is coded."""
    import dataclasses

    from ibc.codec.errors import CodecError
    from ibc.codec.evaluation.codecs import IbcCoder
    assert evaluate.split_tune(f"ibc:{tiny_wavelet_weights}@ms-ssim") == (f"ibc:{tiny_wavelet_weights}", "ms-ssim")
    assert evaluate.split_tune("ibc:odd@name") == ("ibc:odd@name", "psnr")
    with pytest.raises(CodecError, match="has no ms-ssim tune"):
        evaluate.make_coder(f"ibc:{tiny_wavelet_weights}@ms-ssim")
    with pytest.raises(CodecError, match="tune of ibc models"):
        evaluate.make_coder("webp@ms-ssim")
    plain = evaluate.make_coder(f"ibc:{tiny_wavelet_weights}")
    lm = dataclasses.replace(plain.lm, tunes={"ms-ssim": (150, 150, 140, 130, 128, 100)})
    tuned = IbcCoder(lm, plain.sweep, tune="ms-ssim")
    assert tuned.name == plain.name + "@ms-ssim" and "tune ms-ssim" in tuned.label and tuned.key != plain.key
    from ibc.codec.api import read_header
    data = tuned.encode(natural_like(96, 128), 40.0)
    assert read_header(data).step_weights == (150, 150, 140, 130, 128, 100)
    assert tuned.reconstruct(data, (None,))[0][0].shape == (96, 128, 3)
