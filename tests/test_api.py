import subprocess
import sys

import numpy as np
import pytest
import torch

from ibc.codec.api import compress, decode, decompress, read_header, render
from ibc.codec.block_api import MARGIN, encode_indices, fallback_indices, synthesize
from ibc.codec.bitstream import parse_header
from ibc.codec.errors import CodecError
from ibc.codec.metrics import psnr
from ibc.codec.threads import one_thread
from ibc.codec.weights import load_model
from ibc.codec.weights_torch import save_weights

from conftest import natural_like, split_chunks, tiny_model


@pytest.mark.parametrize("shape,floor", [((1, 1), 22), ((1, 37), 21), ((9, 8), 10), ((64, 64), 20),
                                         ((300, 260), 18), ((1, 2100), 21), ((1500, 3), 21)])
def test_any_size_round_trips(tiny, shape, floor):
    """Any size codes, and to the picture: `floor` is a PSNR the tiny model clears by about 2 dB."""
    img = natural_like(*shape)
    data = compress(img, tiny, level=2)
    out = decompress(data, tiny)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert psnr(img, out) > floor
    header = read_header(data)
    assert (header.width, header.height, header.level) == (shape[1], shape[0], 2)


def test_levels_trade_rate_for_quality(tiny):
    img = natural_like(96, 128)
    sizes, quality = [], []
    for level in (1, 2, 3):
        data = compress(img, tiny, level=level)
        sizes.append(len(data))
        quality.append(psnr(img, decompress(data, tiny)))
    assert sizes == sorted(sizes) and quality == sorted(quality)


def test_target_bpp_and_size_pick_the_highest_level_that_fits(tiny):
    img = natural_like(64, 96)
    sizes = [len(compress(img, tiny, level=L)) for L in (1, 2, 3)]
    data = compress(img, tiny, size=sizes[1] + 1)
    assert len(data) == sizes[1]
    data = compress(img, tiny, target_bpp=sizes[2] * 8 / (64 * 96))
    assert len(data) == sizes[2]
    with pytest.raises(CodecError, match="cannot reach"):
        compress(img, tiny, size=sizes[0] - 1)


def test_decoding_is_the_same_for_any_thread_count_and_batch(tiny):
    img = natural_like(128, 160, seed=3)
    data = compress(img, tiny, level=3)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = decompress(data, tiny)
        torch.set_num_threads(2)
        two = decompress(data, tiny)
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(one, two)
    # In a batch beside another image or alone: the same pixels.
    x = torch.from_numpy(np.stack([img, natural_like(128, 160, seed=4)])).permute(0, 3, 1, 2).float() / 255
    indices = tiny.model.encode(x, 3).numpy()
    alone = synthesize(tiny, indices[:1])
    batched = synthesize(tiny, indices)[:1]
    assert torch.equal((alone * 255).round(), (batched * 255).round())


def test_indices_are_exact_in_a_fresh_process(tiny_weights, tmp_path):
    """A file decodes to the same pixels in another process with another thread count."""
    img = natural_like(80, 72, seed=5)
    lm = load_model(str(tiny_weights))
    data = compress(img, lm, level=3)
    (tmp_path / "f.ibc").write_bytes(data)
    np.save(tmp_path / "here.npy", decompress(data, lm))
    code = (f"import numpy as np, torch; torch.set_num_threads(1);"
            f"from ibc.codec.api import decompress; from ibc.codec.weights import load_model;"
            f"out = decompress(open(r'{tmp_path / 'f.ibc'}','rb').read(), load_model(r'{tiny_weights}'));"
            f"assert np.array_equal(out, np.load(r'{tmp_path / 'here.npy'}'))")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_another_models_file_is_refused(tiny, tmp_path):
    other_path = tmp_path / "other.pt"
    save_weights(tiny_model(seed=1), other_path, "other")
    other = load_model(str(other_path))
    data = compress(natural_like(16, 16), tiny, level=1)
    with pytest.raises(CodecError, match="made by model"):
        decompress(data, other)


def test_unknown_model_hash_is_refused(tiny):
    data = compress(natural_like(16, 16), tiny, level=1)
    with pytest.raises(CodecError, match="not installed"):
        decompress(data)  # the tiny model is not in the shipped manifest


def test_flipped_payload_byte_is_detected(tiny):
    data = bytearray(compress(natural_like(40, 40), tiny, level=2))
    data[-8] ^= 0x01
    with pytest.raises(CodecError, match="CRC"):
        decompress(bytes(data), tiny)


def test_moved_and_foreign_chunks_are_reported_like_damaged_ones(tiny):
    """Two files of one model, size and level differ only in their payloads and file ids; a chunk in
    another place or from the other file fails its CRC, and --salvage fills it in and names it."""
    a = compress(natural_like(40, 768, seed=1), tiny, level=2)  # 5×96 latent positions: 3 tiles of 5×32
    b = compress(natural_like(40, 768, seed=2), tiny, level=2)
    head, (a0, a1, a2) = split_chunks(a)
    _, (b0, b1, b2) = split_chunks(b)
    for data, bad in ((head + a1 + a0 + a2, [0, 1]), (head + a0 + b1 + a2, [1]), (head + a0 + a1 + a1, [2])):
        with pytest.raises(CodecError, match=rf"CRC mismatch in tile\(s\) {', '.join(map(str, bad))} "):
            decompress(data, tiny)
        assert decode(data, tiny, salvage=True).damaged_tiles == bad


def test_sides_beyond_the_format_are_refused(tiny):
    with pytest.raises(CodecError, match="limited"):
        compress(np.zeros((1, 70000, 3), np.uint8), tiny, level=1)


def test_bad_level_is_refused(tiny):
    with pytest.raises(CodecError, match="level"):
        compress(natural_like(8, 8), tiny, level=9)


def whole_image_pixels(lm, indices: np.ndarray, height: int, width: int) -> np.ndarray:
    """indices (L,G,h,w) → (height,width,3) uint8 decoded in one pass, without windows."""
    x_hat = synthesize(lm, indices[None].astype(np.int64))[0, :, :height, :width]
    return x_hat.mul(255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def test_tiles_join_without_seams(tiny):
    """Window-by-window coding (bounded memory) gives the indices and pixels of one pass over the whole
    image: the margins cover the context of the encoder (its 3×3 branch and the neighbour contexts) and of
    the decoder. The two encodes are float convolutions of different shapes, which may round differently
    in the last bit on another CPU kind: a near-tie may flip an index (the codec promises bit-exact
    decoding, not bit-exact encoding), so a handful of the 17,556 indices may differ, no more."""
    img = natural_like(300, 610, seed=6)  # 38×77 latent positions: 2×3 tiles and encoder windows
    data = compress(img, tiny, level=3)
    assert read_header(data).chunks == 6
    x = torch.from_numpy(np.pad(img, ((0, 4), (0, 6), (0, 0)), mode="edge")).permute(2, 0, 1)[None].float() / 255
    with one_thread():
        whole_indices = tiny.model.encode(x, 3)[0].numpy()
    windowed = encode_indices(img, tiny, 3)
    flipped = np.count_nonzero(windowed != whole_indices)
    assert flipped <= 4, f"{flipped} indices differ: more than near-ties"
    # Decoding is the integer path: the file's own indices, rendered window by window and in one pass,
    # give the same pixels within one level (float synthesis of other shapes).
    pixels = decompress(data, tiny).astype(int) - whole_image_pixels(tiny, windowed, 300, 610)
    assert np.abs(pixels).max() <= 1


def test_salvage_decodes_the_undamaged_tiles(tiny):
    img = natural_like(300, 610, seed=7)
    data = compress(img, tiny, level=2)
    clean = decompress(data, tiny)
    header, offset = parse_header(data)
    broken = bytearray(data)
    broken[offset + 4 + 2] ^= 0x20  # inside tile 0's payload
    with pytest.raises(CodecError, match=r"CRC mismatch in tile\(s\) 0 "):
        decompress(bytes(broken), tiny)
    result = decode(bytes(broken), tiny, salvage=True)
    assert result.damaged_tiles == [0]
    # Exactly the pixels of the true indices with tile 0 (32×32 latent positions) filled in, rendered
    # by the same windows (a whole-image pass may round a pixel differently: other convolution sizes) ...
    indices = encode_indices(img, tiny, 2)
    indices[:, :, :32, :32] = fallback_indices(tiny, 2)[:, :, None, None]
    assert np.array_equal(result.image, render(tiny, header, indices, header.seed, 0.0))
    # ... so the damage reaches no further than the decoder's context beyond tile 0.
    changed = np.any(result.image != clean, axis=-1)
    reach = 256 + MARGIN * 8
    assert changed[:256, :256].any() and not changed[reach:].any() and not changed[:, reach:].any()


def test_progress_is_reported_for_every_window(tiny):
    img = natural_like(300, 610, seed=8)
    seen = []
    data = compress(img, tiny, level=1, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(i, 6) for i in range(1, 7)]  # 38×77 latent positions: 2×3 encoder windows
    seen.clear()
    decode(data, tiny, progress=lambda done, total: seen.append((done, total)))
    assert seen == [(1, 2), (2, 2)]  # 1×2 decoder windows
