"""Wavelet (Shannon-AE v2) models through the product's API: weights, version-3 files, the quality number,
rate control over real lengths, seamless tiles, thread-independent bytes and salvage."""
import numpy as np
import pytest
import torch

from ibc.codec.api import compress, decode, decompress, read_header, read_indices
from ibc.codec.bitstream import parse_header, serialise
from ibc.codec.errors import CodecError
from ibc.codec.metrics import psnr
from ibc.codec.step_code import step_from_code
from ibc.codec.training.weights_torch import save_weights
from ibc.codec.wavelet_api import DEFAULT_QUALITY, code_of_quality, filler_tile, quality_of_code
from ibc.codec.weights import load_model

from conftest import natural_like, split_chunks, tiny_wavelet_model


def test_weights_hold_the_frozen_model_without_design_statistics(tiny_wavelet, tiny_wavelet_weights, tmp_path):
    blob = torch.load(tiny_wavelet_weights, weights_only=True)
    assert blob["config"]["arch"] == "wavelet" and not any(k.startswith("stat_") for k in blob["state_dict"])
    assert tiny_wavelet.mode == "shannon" and tiny_wavelet.noise is None and tiny_wavelet.backend == "torch"
    fresh = tiny_wavelet_model()  # the same design: the same tables and the same files
    for name, table in fresh.priors().items():
        assert np.array_equal(tiny_wavelet.model.priors()[name], table)
    img = natural_like(100, 150, seed=3)
    step = step_from_code(code_of_quality(DEFAULT_QUALITY))
    x_hat = fresh.decode(fresh.encode(img, step), 100, 150, step)
    assert np.array_equal(decompress(compress(img, tiny_wavelet), tiny_wavelet), x_hat)
    # re-saving a loaded model keeps its priors (it has no statistics to freeze them from again)
    again = tmp_path / "again.pt"
    save_weights(tiny_wavelet.model, again, "again")
    assert np.array_equal(load_model(str(again)).model.priors()["vec"], tiny_wavelet.model.priors()["vec"])


def test_quality_is_a_fine_continuous_setting(tiny_wavelet):
    img = natural_like(128, 160, seed=1)
    sizes, quality = [], []
    for q in (0, 20, 40, 40.5, 60, 80, 100):
        data = compress(img, tiny_wavelet, quality=q)
        header = read_header(data)
        assert (header.level, header.step_code, header.tile) == (0, code_of_quality(q), 128)
        assert quality_of_code(header.step_code) == pytest.approx(q, abs=0.2)
        sizes.append(len(data))
        quality.append(psnr(img, decompress(data, tiny_wavelet)))
    assert sizes == sorted(sizes) and quality == sorted(quality) and sizes[-1] > 8 * sizes[0]
    assert code_of_quality(40.5) != code_of_quality(40)  # steps finer than one unit of q
    assert read_header(compress(img, tiny_wavelet)).step_code == code_of_quality(DEFAULT_QUALITY)


@pytest.mark.parametrize("kwargs, words", [({"quality": 101}, "0..100"), ({"quality": -1}, "0..100"),
                                           ({"level": 2}, "not a level")])
def test_bad_quality_is_refused(tiny_wavelet, kwargs, words):
    with pytest.raises(CodecError, match=words):
        compress(natural_like(16, 16), tiny_wavelet, **kwargs)


@pytest.mark.parametrize("shape", [(96, 128), (200, 330), (64, 700)])
def test_size_and_target_bpp_land_within_ten_percent_under_the_budget(tiny_wavelet, shape):
    img = natural_like(*shape, seed=shape[1])
    smallest, largest = (len(compress(img, tiny_wavelet, quality=q)) for q in (0, 100))
    for budget in np.geomspace(smallest * 1.5, largest * 0.9, 3).astype(int):
        data = compress(img, tiny_wavelet, size=int(budget))
        assert 0.9 * budget <= len(data) <= budget, (budget, len(data))
        assert decompress(data, tiny_wavelet).shape == img.shape
    bpp = largest * 0.5 * 8 / (shape[0] * shape[1])
    data = compress(img, tiny_wavelet, target_bpp=bpp)
    assert 0.9 * bpp <= len(data) * 8 / (shape[0] * shape[1]) <= bpp


def test_a_budget_below_the_coarsest_step_is_refused(tiny_wavelet):
    img = natural_like(96, 128)
    container = len(serialise(read_header(compress(img, tiny_wavelet, quality=0)), [b""]))  # one tile, no payload
    with pytest.raises(CodecError, match="cannot reach the target: the coarsest step needs"):
        compress(img, tiny_wavelet, size=container + 1)
    with pytest.raises(CodecError, match="container alone"):
        compress(img, tiny_wavelet, size=20)


def test_tiles_are_chunks_and_join_without_seams(tiny_wavelet):
    """One chunk per tile, and the file decodes to exactly the pixels of one whole-image decode of the
    model (the transform spans the image; only contexts stop at tile edges)."""
    model = tiny_wavelet.model
    img = natural_like(300, 400, seed=6)
    data = compress(img, tiny_wavelet, quality=60)
    assert read_header(data).chunks == len(model.tiles(300, 400)) == 12
    step = step_from_code(code_of_quality(60))
    assert np.array_equal(decompress(data, tiny_wavelet), model.decode(model.encode(img, step), 300, 400, step))


def test_files_and_pixels_are_the_same_for_any_thread_count(tiny_wavelet):
    img = natural_like(200, 260, seed=4)
    before = torch.get_num_threads()
    out = []
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            data = compress(img, tiny_wavelet, quality=55)
            out.append((data, decompress(data, tiny_wavelet), compress(img, tiny_wavelet, size=len(data) - 50)))
    finally:
        torch.set_num_threads(before)
    assert out[0][0] == out[1][0] and out[0][2] == out[1][2] and np.array_equal(out[0][1], out[1][1])


def test_salvage_fills_a_damaged_tile_with_mid_grey(tiny_wavelet):
    model = tiny_wavelet.coder
    img = natural_like(384, 384, seed=7)  # 3×3 tiles of 128 px
    img[:128, 128:256] = 30  # a dark tile, so mid-grey there is visibly a fill
    data = compress(img, tiny_wavelet, quality=70)
    head, chunks = split_chunks(data)
    broken = bytearray(chunks[1])
    broken[6] ^= 0x10
    broken = head + b"".join([chunks[0], bytes(broken), *chunks[2:]])
    with pytest.raises(CodecError, match=r"CRC mismatch in tile\(s\) 1 "):
        decompress(broken, tiny_wavelet)
    result = decode(broken, tiny_wavelet, salvage=True)
    assert result.damaged_tiles == [1]
    # the other tiles' indices are the file's; tile 1 is the filler (details zero, LL at mid-grey) …
    step = step_from_code(read_header(data).step_code)
    tiles = read_indices(data, tiny_wavelet).indices
    tiles[1] = filler_tile(model, model.tiles(384, 384)[1], step)
    assert np.array_equal(result.image, model.decode(tiles, 384, 384, step))
    # … which decodes to grey in the tile's middle; the synthesis spreads it only so far
    assert abs(result.image[40:88, 168:216].astype(float).mean() - 128) < 6
    assert np.array_equal(result.image[300:], decompress(data, tiny_wavelet)[300:])


def test_header_and_model_must_agree(tiny_wavelet):
    data = compress(natural_like(40, 40), tiny_wavelet)
    with pytest.raises(CodecError, match="made by model"):
        decompress(data, load_model("shannon-v2"))
    with pytest.raises(CodecError, match="which is not installed"):
        decompress(data)  # the tiny model is not installed: the file names its model
    with pytest.raises(CodecError, match="limited"):
        compress(np.zeros((1, 70000, 3), np.uint8), tiny_wavelet)
    header, _ = parse_header(data)
    assert header.step_code and header.level == 0
    with pytest.raises(CodecError, match="generative"):
        decode(data, tiny_wavelet, realism=1.0)
