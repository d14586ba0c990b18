"""Step weights (format version 4) and the tunes that choose them: the file carries the weights, the decoder
applies them, and `ibc train --base MODEL` fits a model's MS-SSIM tune."""
import dataclasses
import json

import pytest
from PIL import Image

from ibc.codec.api import compress, decompress, read_header
from ibc.codec.bitstream import parse_chunks, parse_header, serialise
from ibc.codec.errors import CodecError
from ibc.codec.metrics import psnr
from ibc.codec.step_code import UNIFORM, weight_from_code
from ibc.codec.tune import TUNE_FORMAT, load_tunes
from ibc.codec.weights import _load, load_model

from conftest import natural_like, one_line_error, run

MS = (176, 176, 160, 144, 128, 96)  # LL finer by 1.9 … level 1 coarser by 1.4


def with_tune(lm, codes=MS):
    return dataclasses.replace(lm, tunes={"ms-ssim": codes})


def test_a_tuned_file_carries_its_weights_and_decodes_through_them(tiny_wavelet):
    img = natural_like(128, 192, seed=7)
    data = compress(img, with_tune(tiny_wavelet), quality=40, tune="ms-ssim")
    header, offset = parse_header(data)
    assert header.step_weights == MS and data[4] == 4
    good = psnr(img, decompress(data, tiny_wavelet))  # any model object decodes: the weights are in the file
    # the same indices read as uniform weights: the bands come out at the wrong scale
    wrong = serialise(dataclasses.replace(header, step_weights=UNIFORM), parse_chunks(data, offset, header.chunks))
    assert good > psnr(img, decompress(wrong, tiny_wavelet)) + 3
    assert good > 24


def test_finer_weights_spend_more_bits_and_coarser_fewer(tiny_wavelet):
    img = natural_like(128, 192, seed=8)
    sizes = [len(compress(img, with_tune(tiny_wavelet, (c,) * 6), quality=40, tune="ms-ssim")) for c in (96, 160)]
    assert sizes[0] < len(compress(img, tiny_wavelet, quality=40)) < sizes[1]
    assert weight_from_code(192) == 2.0 and weight_from_code(128) == 1.0


def test_psnr_is_uniform_and_a_missing_tune_is_refused_in_one_line(tiny_wavelet, tiny_wavelet_weights, tmp_path,
                                                                    capsys):
    img = natural_like(64, 64)
    assert read_header(compress(img, tiny_wavelet, quality=40)).step_weights == UNIFORM
    with pytest.raises(CodecError, match="has no ms-ssim tune"):
        compress(img, tiny_wavelet, tune="ms-ssim")
    src = tmp_path / "a.png"
    Image.fromarray(img).save(src)
    assert run("compress", src, "--model", tiny_wavelet_weights, "--tune", "ms-ssim") == 2
    assert "has no ms-ssim tune (it has: psnr;" in one_line_error(capsys)
    assert not (tmp_path / "a.ibc").exists()


def test_a_generative_model_refuses_another_tune(tiny_wavelet):
    gc = dataclasses.replace(with_tune(tiny_wavelet), noise=object())
    with pytest.raises(CodecError, match="--tune psnr only"):
        gc.step_weights("ms-ssim")


def test_a_tune_file_is_bound_to_its_weights(tiny_wavelet_weights, tmp_path):
    weights = tmp_path / "m.pt"
    weights.write_bytes(tiny_wavelet_weights.read_bytes())
    good = {"format": TUNE_FORMAT, "base": {"name": "m", "sha256": "ab"}, "tunes": {"ms-ssim": list(MS)}}
    (tmp_path / "m-tune.json").write_text(json.dumps(good))
    assert load_tunes(weights, "ab") == {"ms-ssim": MS}
    with pytest.raises(CodecError, match="fitted for other weights"):
        load_tunes(weights, "cd")
    (tmp_path / "m-tune.json").write_text(json.dumps({**good, "tunes": {"ms-ssim": [1, 2]}}))
    with pytest.raises(CodecError, match="6 codes"):
        load_tunes(weights, "ab")
    (tmp_path / "m-tune.json").unlink()
    assert load_tunes(weights, "ab") is None


def test_ibc_train_base_fits_the_tune_and_compress_uses_it(tiny_wavelet_weights, tmp_path, capsys, monkeypatch):
    """`ibc train PHOTOS --base MODEL --name MODEL`: the tune stages alone (the step weights, then their
    post-filter), into the user model directory, where `ibc compress --tune ms-ssim` finds them beside
    nothing else and names the tune's filter in the file."""
    photos, val, models = tmp_path / "photos", tmp_path / "val", tmp_path / "models"
    for folder, n in ((photos, 3), (val, 1)):
        folder.mkdir()
        for i in range(n):
            Image.fromarray(natural_like(208, 224, seed=20 + 5 * i + n)).save(folder / f"p{i}.png")
    monkeypatch.setenv("IBC_MODEL_PATH", str(models))
    base = str(tiny_wavelet_weights)
    assert run("train", photos, "--base", base, "--name", "not-it", "--dest", models, "--hours", "0.05") == 2
    assert "--name tiny-wavelet" in one_line_error(capsys)
    assert run("train", photos, "--base", base, "--name", "tiny-wavelet", "--val", val, "--dest", models,
               "--run", tmp_path / "run", "--hours", "0.02", "--rates", "0.3:1.0") == 0
    info = json.loads((models / "tiny-wavelet-tune.json").read_text())
    codes = tuple(info["tunes"]["ms-ssim"])
    assert info["base"]["sha256"] == load_model(base).sha256 and info["training"]["command"].startswith("ibc train")
    assert len(codes) == 6 and info["training"]["validation"]["bd_rate_ms_ssim"] <= 0
    pf = json.loads((models / "tiny-wavelet-postfilter-ms-ssim" / "postfilter.json").read_text())
    assert pf["tune"] == "ms-ssim" and pf["base"]["sha256"] == info["base"]["sha256"]
    assert pf["training"]["recipe"].startswith("1 − MS-SSIM")
    _load.cache_clear()
    assert load_model(base).tune_filters["ms-ssim"].sha256 == pf["sha256"]
    src = tmp_path / "a.png"
    Image.fromarray(natural_like(96, 96, seed=3)).save(src)
    assert run("compress", src, "--model", base, "--tune", "ms-ssim", "-o", tmp_path / "a.ibc") == 0
    header = read_header((tmp_path / "a.ibc").read_bytes())
    assert header.step_weights == codes and header.filter == "ms-ssim"
    assert decompress((tmp_path / "a.ibc").read_bytes(), load_model(base)).shape == (96, 96, 3)
    _load.cache_clear()
