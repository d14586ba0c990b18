"""The wavelet codec: exact index ⇄ byte round trips, thread-independent pixels, the VQ invariant,
identical count tables on both sides, corrupt payloads refused, and a training step that lowers the loss."""
import numpy as np
import pytest
import torch

from ibc.codec import subband_context, subband_tiles
from ibc.codec.errors import CodecError
from ibc.codec.step_code import code_from_step, step_from_code
from ibc.codec.subband_context import tile_bands
from ibc.codec.subband_tiles import decode_image, encode_image
from ibc.codec.subband_vq import NC, vq_class
from ibc.codec.training.wavelet_design import design
from ibc.codec.training.wavelet_model import WaveletCodec


def photo_like(h: int, w: int, seed: int) -> np.ndarray:
    """Smooth shapes, edges and some texture: statistics closer to photographs than white noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w] / max(h, w)
    img = np.zeros((h, w, 3))
    for _ in range(6):
        cy, cx, r = rng.random(3)
        img += (np.hypot(yy - cy, xx - cx) < r * 0.5)[..., None] * rng.uniform(-80, 80, 3)
    img += 120 + 40 * np.sin(6 * xx + rng.random() * 6)[..., None] + rng.normal(0, 6, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def models():
    train = [photo_like(128, 192, s) for s in range(3)]
    out = {}
    for name, mode, context in (("vq", "vq", 1), ("scalar", "scalar", 1), ("vq-context2", "vq", 2), ("vq-context3", "vq", 3)):
        m = WaveletCodec(mode=mode, tile=128, context=context)
        design(m, train, (12.0, 40.0), rounds=1)
        out[name] = m
    return out


def same(a, b) -> bool:
    return (np.array_equal(a.ll, b.ll) and all(np.array_equal(i, j) for i, j in zip(a.idx, b.idx))
            and all(np.array_equal(i, j) for i, j in zip(a.escq, b.escq)))


@pytest.mark.parametrize("shape", [(200, 130), (1, 1), (3, 1500), (64, 64), (77, 300)])
@pytest.mark.parametrize("mode", ["vq", "scalar", "vq-context2", "vq-context3"])
def test_round_trip_is_exact(models, mode, shape):
    m = models[mode]
    for rgb in (photo_like(*shape, 7), np.random.default_rng(1).integers(0, 256, shape + (3,), dtype=np.uint8)):
        for step in (3.0, 25.0):
            tiles = m.encode(rgb, step)
            payloads = encode_image(m, tiles, *shape)
            back = decode_image(m, payloads, *shape)
            assert all(same(a, b) for a, b in zip(tiles, back))
            x_hat = m.decode(back, *shape, step)
            assert x_hat.shape == shape + (3,) and x_hat.dtype == np.uint8


def test_large_coefficients_escape_exactly(models):
    """A tiny step makes huge scalar indices (Exp-Golomb tails) in LL and in escaped blocks."""
    rgb = np.random.default_rng(2).integers(0, 256, (64, 128, 3), dtype=np.uint8)
    m = models["vq"]
    tiles = m.encode(rgb, 0.05)
    assert max(np.abs(t.ll).max() for t in tiles) > 10000
    assert all(same(a, b) for a, b in zip(tiles, decode_image(m, encode_image(m, tiles, 64, 128), 64, 128)))
    assert np.abs(m.decode(tiles, 64, 128, 0.05).astype(int) - rgb).max() <= 1


def test_pixels_do_not_depend_on_the_thread_count(models):
    m, rgb = models["vq"], photo_like(300, 260, 3)
    payloads = encode_image(m, m.encode(rgb, 10.0), 300, 260)
    before = torch.get_num_threads()
    outs = []
    try:
        for n in (1, 4):
            torch.set_num_threads(n)
            outs.append(m.decode(decode_image(m, payloads, 300, 260), 300, 260, 10.0))
    finally:
        torch.set_num_threads(before)
    assert np.array_equal(outs[0], outs[1])


def test_encoder_and_decoder_rebuild_identical_counts(models, monkeypatch):
    m, rgb = models["vq"], photo_like(128, 128, 4)
    finals = []
    real_walk = subband_context.walk

    def spy(*args):
        counts = real_walk(*args)
        finals.append({k: v.copy() for k, v in counts.t.items()})
        return counts

    monkeypatch.setattr(subband_tiles, "walk", spy)
    (tile,) = m.encode(rgb, 8.0)
    payloads = encode_image(m, [tile], 128, 128)
    decode_image(m, payloads, 128, 128)
    enc, dec = finals
    assert all(np.array_equal(enc[k], dec[k]) for k in enc)
    assert any((enc[k] != m.priors()[k]).any() for k in enc)  # the counts really adapted


def test_requantising_the_reconstruction_gives_the_indices(models):
    """z_q == lookup(indices), and nearest-neighbour re-quantisation of z_q returns the same indices."""
    m = models["vq"]
    (tile,) = m.encode(photo_like(128, 128, 5), 6.0)
    bands = tile_bands(128, 128)
    z_q = m.dequantise_tile(tile, bands)
    assert np.array_equal(z_q[0], tile.ll)
    from ibc.codec.subband_vq import blocks
    for b, band in enumerate(bands[1:]):
        for ch in range(3):
            cls = vq_class(band.level, band.orientation, ch)
            v = blocks(z_q[b + 1][ch]).reshape(-1, 4)
            assert np.array_equal(v, m.vq.lookup(cls, tile.idx[b][ch], tile.escq[b][ch]).reshape(-1, 4))
            idx, escq = m.vq.requantise(cls, v)
            assert np.array_equal(idx, tile.idx[b][ch].ravel())
            assert np.array_equal(escq, tile.escq[b][ch].reshape(-1, 4))
    assert any((t < NC).any() and (t == NC).any() for t in tile.idx)


def test_corrupt_payloads_are_refused(models):
    """Truncated, extended, altered or foreign payloads. (One appended word can vanish into the range
    decoder's look-ahead; the container's chunk length and CRC refuse that one.)"""
    m, rgb = models["vq"], photo_like(128, 128, 6)
    (payload,) = encode_image(m, m.encode(rgb, 8.0), 128, 128)
    bad = [payload[:-8], payload[:len(payload) // 8 * 4], payload[:-1], payload + b"\x01", payload + b"\x7f\x01\x02\x03\x04\x05\x06\x07",
           payload[:8] + bytes(b ^ 0x5A for b in payload[8:]), b""]
    for p in bad:
        with pytest.raises(CodecError):
            decode_image(m, [p], 128, 128)
    with pytest.raises(CodecError):
        decode_image(m, [payload, payload], 128, 128)


def test_step_code_round_trips():
    for code in (0, 100, 317, 900):
        assert code_from_step(step_from_code(code)) == code


def test_windowed_analysis_and_synthesis_change_no_index_and_no_pixel(models, monkeypatch):
    """The codec's windowed transforms against the whole-image ones: the same indices, the same pixels."""
    m, (H, W) = models["vq"], (200, 330)
    rgb = photo_like(H, W, 8)
    Hp, Wp = 256, 384
    x = np.pad(rgb, ((0, Hp - H), (0, Wp - W), (0, 0)), mode="edge").transpose(2, 0, 1).astype(np.float64)
    coding = m.transform.double().eval()
    with torch.no_grad():
        whole = coding(torch.from_numpy(x)[None])[0].numpy()
    windowed = m.analysis(rgb, window=64)
    np.testing.assert_allclose(windowed, whole, atol=1e-9, rtol=0)
    tiles = {}
    for name, y in (("whole", whole), ("windowed", windowed)):
        coder = m.coder()
        monkeypatch.setattr(coder, "analysis", lambda rgb, y=y: y.copy())
        tiles[name] = coder.encode(rgb, 6.0)
    assert all(same(a, b) for a, b in zip(tiles["whole"], tiles["windowed"]))
    monkeypatch.undo()
    step = 6.0
    y_hat = np.zeros((3, Hp, Wp))
    for tile, t in zip(m.tiles(H, W), tiles["whole"]):
        for (r, c), band in zip(m.band_slices(Hp, Wp, tile), m.dequantise_tile(t, tile_bands(tile[2], tile[3]))):
            y_hat[:, r, c] = band * step
    with torch.no_grad():
        x_hat = coding.inverse(torch.from_numpy(y_hat)[None])[0].numpy()
    ref = np.clip(np.round(x_hat[:, :H, :W]), 0, 255).astype(np.uint8).transpose(1, 2, 0)
    assert np.array_equal(m.synthesis(y_hat, H, W, window=64), ref)
    assert np.array_equal(m.decode(tiles["whole"], H, W, step), ref)


def test_context_2_reads_the_parent_neighbourhood_and_the_siblings(models):
    """The same indices walk to other rows under context 2 (so its tables are used as designed), and the
    rows differ where the version adds something: bands with siblings or a parent."""
    rgb = photo_like(128, 128, 3)
    t = models["vq"].encode(rgb, 12.0)[0]
    bands = tile_bands(128, 128)
    rows = {}
    for context in (1, 2):
        seen = []

        def visit_pass(b, ch, part, r, counts, seen=seen):
            seen.append((b, r.copy()))
            return t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]

        subband_context.walk(bands, models["vq"].priors(), models["vq"].cmag.numpy(), lambda c: t.ll, visit_pass, context)
        rows[context] = seen
    differ = {b for (b, r1), (_, r2) in zip(rows[1], rows[2]) if not np.array_equal(r1, r2)}
    assert differ and 1 not in differ  # the coarsest HL has no parent and no sibling: the same rows
    with pytest.raises(ValueError, match="unknown context version 5"):
        WaveletCodec(context=5)


def test_context_3_walks_context_2s_rows_with_priors_worth_four_times_as_much(models):
    """Version 3 changes only how fast a tile's counts move away from the trained priors: the same rows
    as version 2, and each coded symbol adds a quarter of what it adds there."""
    rgb = photo_like(128, 128, 5)
    t = models["vq"].encode(rgb, 12.0)[0]
    bands, priors = tile_bands(128, 128), models["vq"].priors()
    rows, grown = {}, {}
    for context in (2, 3):
        seen = []

        def visit_pass(b, ch, part, r, counts, seen=seen):
            seen.append(r.copy())
            return t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]

        counts = subband_context.walk(bands, priors, models["vq"].cmag.numpy(), lambda c: t.ll, visit_pass, context)
        rows[context], grown[context] = seen, counts.t["vec"] - priors["vec"]
    assert all(np.array_equal(a, b) for a, b in zip(rows[2], rows[3]))
    assert grown[2].sum() > 0 and np.array_equal(grown[2], 4 * grown[3])


def test_the_context_version_survives_saving_and_an_old_config_means_version_1(models, tmp_path):
    from ibc.codec.training.weights_torch import load_torch, save_weights
    save_weights(models["vq-context2"], tmp_path / "c2.pt", "c2")
    assert load_torch(tmp_path / "c2.pt").coder.context == 2
    blob = torch.load(tmp_path / "c2.pt", weights_only=False)
    del blob["config"]["context"]  # as shannon-v2.pt, written before context versions
    torch.save(blob, tmp_path / "old.pt")
    assert load_torch(tmp_path / "old.pt").coder.context == 1
