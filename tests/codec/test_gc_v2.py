"""gc-v2, the randomized decoder on the v2 bitstream: seeded, reproducible, torch-free, and faithful to
every coefficient the file sent."""
import subprocess
import sys

import numpy as np
import pytest

from ibc.cli.main import main
from ibc.codec.api import compress, decode, read_header
from ibc.codec.bitstream import parse_chunks, parse_header
from ibc.codec.errors import CodecError
from ibc.codec.image_io import read_image
from ibc.codec.noise_fill import NoiseFill, uniform_noise
from ibc.codec.subband_context import tile_bands
from ibc.codec.weights import load_model

from conftest import BLOCK_TORCH, DATA

SAMPLE = DATA / "sample.png"


@pytest.fixture(scope="module")
def gc():
    return load_model("gc-v2")


@pytest.fixture(scope="module")
def photo():
    return read_image(SAMPLE)


def test_gc_v2_reads_and_writes_shannon_v2_payloads(gc, photo):
    """The gc file is the Shannon-AE file with its mode and model changed: the same payload bytes."""
    base = load_model("shannon-v2")
    assert gc.mode == "gc" and base.mode == "shannon" and gc.base_hash == base.weights_hash
    mine, theirs = compress(photo, gc, quality=10, seed=3), compress(photo, base, quality=10)
    h = read_header(mine)
    assert (h.mode, h.seed, h.model) == ("gc", 3, "gc-v2")
    payloads = [parse_chunks(d, parse_header(d)[1], read_header(d).chunks) for d in (mine, theirs)]
    assert payloads[0] == payloads[1]
    # realism 0 is the Shannon-AE decoder, to the bit
    assert np.array_equal(decode(mine, gc, realism=0).image, decode(theirs, base).image)


def test_the_same_seed_reproduces_and_another_seed_draws_other_detail(gc, photo):
    data = compress(photo, gc, quality=8, seed=0)
    a, again = decode(data, gc).image, decode(data, gc).image
    b = decode(data, gc, seed=1).image
    plain = decode(data, gc, realism=0).image
    assert np.array_equal(a, again)
    assert np.abs(a.astype(int) - b).mean() > 1.0  # visibly other detail
    assert np.abs(a.astype(int) - plain).mean() > 1.0  # and detail the plain decoder lacks


def test_realism_scales_the_added_detail_linearly(gc, photo):
    """ŷ + A·σ·u through a linear synthesis: A = ½ lands halfway between 0 and 1 (within rounding, where
    no pixel clips at 0 or 255), with the post-filter (the detail is added after it) and without."""
    data = compress(photo, gc, quality=8)
    for postfilter in (False, True):
        lo, hi, mid = (decode(data, gc, realism=a, postfilter=postfilter).image.astype(float) for a in (0, 1, 0.5))
        if not postfilter:
            inside = (np.minimum(np.minimum(lo, hi), mid) > 0) & (np.maximum(np.maximum(lo, hi), mid) < 255)
        else:  # … where the unfiltered ones did not clip either
            inside &= (np.minimum(np.minimum(lo, hi), mid) > 0) & (np.maximum(np.maximum(lo, hi), mid) < 255)
        assert inside.mean() > 0.9
        assert np.abs(mid - (lo + hi) / 2)[inside].max() <= 1.0
        assert np.abs(mid - lo).mean() > 0.3


def test_noise_goes_only_where_nothing_was_sent(gc, photo):
    """LL and every coefficient the file sent are kept; only zeros of the filled levels change."""
    coder, step = gc.coder, 12.0
    H, W = photo.shape[:2]
    t = coder.encode(photo, step)[0]
    infos = tile_bands(*coder.tiles(H, W)[0][2:])
    bands = coder.dequantise_tile(t, infos)
    filled = gc.noise.apply(bands, infos, seed=0, tile=0, realism=1.0)
    assert np.array_equal(filled[0], bands[0])
    changed = 0
    for b, f, info in zip(bands[1:], filled[1:], infos[1:]):
        sent = np.abs(b) >= 0.25
        assert np.array_equal(f[sent], b[sent])
        if info.level in gc.noise.levels:
            changed += int((f[~sent] != 0).sum())
        else:
            assert np.array_equal(f, b)
    assert changed > 1000


def test_philox_noise_is_fixed_by_seed_and_tile():
    a, b, c = uniform_noise(5, 0, 50_000), uniform_noise(5, 0, 50_000), uniform_noise(5, 1, 50_000)
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(a.mean()) < 0.02 and abs(a.var() - 1) < 0.02 and np.abs(a).max() <= np.sqrt(3)


def test_a_noise_table_of_the_wrong_shape_is_refused():
    with pytest.raises(ValueError):
        NoiseFill(np.zeros((3, 4)), (1,))


def test_shannon_files_take_the_generative_decoder_with_realism(photo, tmp_path):
    src = tmp_path / "a.ibc"
    src.write_bytes(compress(photo, load_model("shannon-v2"), quality=8))
    assert main(["decompress", str(src), "-o", str(tmp_path / "plain.png"), "--quiet"]) == 0
    assert main(["decompress", str(src), "-o", str(tmp_path / "gc.png"), "--realism", "1", "--quiet"]) == 0
    plain, gen = read_image(tmp_path / "plain.png"), read_image(tmp_path / "gc.png")
    assert np.abs(plain.astype(int) - gen).mean() > 1.0


def test_gc_files_decode_without_torch(tmp_path):
    """`--mode gc` compress, decompress and info with torch's import blocked."""
    code = BLOCK_TORCH + f"""
from ibc.cli.main import main
out = {str(tmp_path)!r}
assert main(['compress', {str(SAMPLE)!r}, '-o', out + '/s.ibc', '--mode', 'gc', '-q', '8', '--seed', '7', '--quiet']) == 0
assert main(['decompress', out + '/s.ibc', '-o', out + '/s.png', '--quiet']) == 0
assert main(['info', out + '/s.ibc']) == 0
assert not any(m.split('.')[0] == 'torch' for m in sys.modules)
"""
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "mode          gc" in run.stdout and "seed          7" in run.stdout
    assert (tmp_path / "s.png").is_file()


def test_realism_needs_a_generative_model(photo, tiny_wavelet):
    """A wavelet model with no generative decoder built on it refuses realism above 0."""
    data = compress(photo[:64, :64], tiny_wavelet, quality=8)
    with pytest.raises(CodecError, match="needs a generative"):
        decode(data, tiny_wavelet, realism=1)
