"""Generative compression through the API: a gc file is the base model's payload plus a seed, and its
randomized decoder is reproducible, seamless and blends with the Shannon-AE reconstruction."""
import numpy as np
import pytest

from ibc.codec import block_api
from ibc.codec.api import compress, decompress
from ibc.codec.bitstream import parse_header
from ibc.codec.errors import CodecError
from ibc.codec.image_io import read_image

from conftest import natural_like, payloads

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def img():
    return natural_like(40, 56, seed=11)


@pytest.fixture(scope="module")
def gc_file(img, tiny_gc):
    return compress(img, tiny_gc, level=2, seed=3)


def test_gc_header_and_payload_are_the_base_models(img, tiny, tiny_gc, gc_file):
    header = parse_header(gc_file)[0]
    assert (header.mode, header.seed, header.level) == ("gc", 3, 2)
    assert header.weights_hash == tiny_gc.weights_hash != tiny.weights_hash
    base_file = compress(img, tiny, level=2)
    assert parse_header(base_file)[0].mode == "shannon"
    assert payloads(gc_file) == payloads(base_file)


def test_same_file_and_seed_give_the_same_pixels(gc_file, tiny_gc):
    assert np.array_equal(decompress(gc_file, tiny_gc), decompress(gc_file, tiny_gc))
    assert np.array_equal(decompress(gc_file, tiny_gc), decompress(gc_file, tiny_gc, seed=3))  # the header's


def test_another_seed_draws_another_image_from_the_same_bits(img, gc_file, tiny_gc):
    a, b = decompress(gc_file, tiny_gc, seed=3), decompress(gc_file, tiny_gc, seed=4)
    assert not np.array_equal(a, b)
    other = compress(img, tiny_gc, level=2, seed=4)
    assert payloads(other) == payloads(gc_file) and parse_header(other)[0].seed == 4
    assert np.array_equal(decompress(other, tiny_gc), b)  # a seed stored in the file = the same seed passed


def test_realism_zero_is_the_base_models_decode(img, tiny, tiny_gc, gc_file):
    base = decompress(compress(img, tiny, level=2), tiny)
    assert np.array_equal(decompress(gc_file, tiny_gc, realism=0), base)
    assert not np.array_equal(decompress(gc_file, tiny_gc), base)  # the default for a gc file is realism 1


def test_half_realism_lies_between(gc_file, tiny_gc):
    lo = decompress(gc_file, tiny_gc, realism=0).astype(float)
    hi = decompress(gc_file, tiny_gc, realism=1).astype(float)
    mid = decompress(gc_file, tiny_gc, realism=0.5).astype(float)
    assert np.abs(mid - (lo + hi) / 2).max() <= 1
    assert np.abs(mid - lo).mean() > 0 and np.abs(mid - hi).mean() > 0


def test_noise_is_seamless_across_windows(tiny_gc, monkeypatch):
    """u depends on the seed and the absolute position only: small windows give the pixels of one pass,
    also across a noise tile boundary (33 latent rows)."""
    data = compress(natural_like(264, 40, seed=12), tiny_gc, level=2, seed=5)
    whole = decompress(data, tiny_gc)
    monkeypatch.setattr(block_api, "DECODE_WINDOW", 4)
    windowed = decompress(data, tiny_gc)
    assert np.array_equal(windowed, whole)
    assert not np.array_equal(decompress(data, tiny_gc, seed=6), whole)


def test_realism_on_a_shannon_file_uses_the_gc_model_given(img, tiny, tiny_gc, gc_file):
    shannon_file = compress(img, tiny, level=2)  # seed 0 in the header
    assert np.array_equal(decompress(shannon_file, tiny_gc, realism=1), decompress(gc_file, tiny_gc, seed=0))
    with pytest.raises(CodecError, match="generative"):
        decompress(shannon_file, tiny, realism=1)  # no gc model built on tiny is installed


def test_bad_realism_and_levels_are_refused(img, tiny, tiny_gc, gc_file):
    for bad in (1.5, -0.1):
        with pytest.raises(CodecError, match="realism"):
            decompress(gc_file, tiny_gc, realism=bad)
    with pytest.raises(CodecError, match="seed"):
        decompress(gc_file, tiny_gc, seed=2 ** 32)
    with pytest.raises(CodecError, match=r"level must be 1\.\.2"):
        compress(img, tiny_gc, level=3)
    level3 = compress(img, tiny, level=3)
    with pytest.raises(CodecError, match="covers levels 1..2"):
        decompress(level3, tiny_gc, realism=1)
    assert decompress(level3, tiny_gc, realism=0).shape == img.shape  # the Shannon-AE decoder reads every level


def test_samples_range_decode_the_file_once(gc_file, tiny_gc, tiny_gc_weights, tmp_path, monkeypatch):
    """Only the rendering depends on the seed: N samples read the indices once and render them N times."""
    from ibc.codec import files
    reads = []
    real = files.read_indices
    monkeypatch.setattr(files, "read_indices", lambda *a, **k: reads.append(1) or real(*a, **k))
    src = tmp_path / "x.ibc"
    src.write_bytes(gc_file)
    result = files.decompress_file(src, tmp_path / "x.png", model=str(tiny_gc_weights), samples=3)
    assert len(reads) == 1 and result["seeds"] == [3, 4, 5]
    for seed, out in zip(result["seeds"], result["outputs"]):
        assert np.array_equal(read_image(out), decompress(gc_file, tiny_gc, seed=seed))
