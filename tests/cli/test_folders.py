"""Folder runs as a user meets them: every failure names its file, `.` works, two inputs never share an
output, `-o` may name a folder, and `ibc eval` goes on past an image it cannot code."""
import json

import numpy as np
from PIL import Image

from conftest import natural_like, run


def transparent(h: int, w: int) -> Image.Image:
    rgba = np.dstack([natural_like(h, w), np.full((h, w), 128, np.uint8)])
    return Image.fromarray(rgba, "RGBA")


def test_every_failure_in_a_folder_names_its_file(tmp_path, tiny_wavelet_weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(natural_like(24, 40)).save(src / "good.png")
    transparent(24, 40).save(src / "glass.png")
    assert run("compress", src, "-o", tmp_path / "out", "--model", tiny_wavelet_weights, "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "glass.png: " in err and "transparency" in err
    good = (tmp_path / "out" / "good.ibc").read_bytes()
    (tmp_path / "out" / "bent.ibc").write_bytes(good[:10] + bytes([good[10] ^ 1]) + good[11:])
    assert run("decompress", tmp_path / "out", "-o", tmp_path / "back", "--model", tiny_wavelet_weights, "--quiet") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"ibc: error: {tmp_path / 'out' / 'bent.ibc'}: ")
    assert sorted(p.name for p in (tmp_path / "back").iterdir()) == ["good.png"]


def test_the_current_folder(tmp_path, tiny_wavelet_weights, monkeypatch, capsys):
    photos = tmp_path / "photos"
    photos.mkdir()
    Image.fromarray(natural_like(24, 40)).save(photos / "a.png")
    monkeypatch.chdir(photos)
    assert run("compress", ".", "--model", tiny_wavelet_weights, "--quiet") == 0
    assert [p.name for p in (tmp_path / "photos-ibc").iterdir()] == ["a.ibc"]
    monkeypatch.chdir(tmp_path / "photos-ibc")
    assert run("decompress", ".", "--model", tiny_wavelet_weights, "--quiet") == 0
    assert [p.name for p in (tmp_path / "photos-ibc-png").iterdir()] == ["a.png"]


def test_two_inputs_with_one_output_are_refused_before_anything_is_written(tmp_path, tiny_wavelet_weights, capsys):
    src = tmp_path / "in"
    src.mkdir()
    Image.fromarray(natural_like(24, 40)).save(src / "a.png")
    Image.fromarray(natural_like(24, 40, seed=1)).save(src / "a.jpeg")
    Image.fromarray(natural_like(24, 40, seed=2)).save(src / "b.png")
    assert run("compress", src, "-o", tmp_path / "out", "--model", tiny_wavelet_weights) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a.jpeg" in err and "a.png" in err and "a.ibc" in err
    assert not (tmp_path / "out").exists()


def test_output_naming_an_existing_folder_writes_into_it(tmp_path, tiny_wavelet_weights, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(natural_like(24, 40)).save(photo)
    (tmp_path / "coded").mkdir()
    (tmp_path / "restored").mkdir()
    assert run("compress", photo, "-o", tmp_path / "coded", "--model", tiny_wavelet_weights, "--quiet") == 0
    assert run("decompress", tmp_path / "coded" / "photo.ibc", "-o", tmp_path / "restored",
               "--model", tiny_wavelet_weights, "--quiet") == 0
    assert [p.name for p in (tmp_path / "restored").iterdir()] == ["photo.ibc.png"]


def test_eval_names_an_image_it_cannot_code_and_goes_on(tmp_path, capsys, one_thread):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(2):
        Image.fromarray(natural_like(72, 88, seed=i)).save(photos / f"im{i}.png")
    transparent(72, 88).save(photos / "glass.png")
    out = tmp_path / "r.json"
    assert run("eval", photos, "--codec", "jpeg", "-o", out, "--quiet") == 0
    err = capsys.readouterr().err
    assert "ibc: warning: " in err and "glass.png" in err and "skipped" in err
    report = json.loads(out.read_text())
    assert report["images"] == ["im0.png", "im1.png"] and "glass.png" in report["skipped"][0]
    out2 = tmp_path / "r2.json"
    assert run("eval", photos, "--codec", "jpeg", "--drop-alpha", "-o", out2, "--quiet") == 0
    assert json.loads(out2.read_text())["images"] == ["glass.png", "im0.png", "im1.png"]
