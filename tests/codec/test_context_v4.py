"""Context version 4, the learned activity (codec.subband_context): exact round trips, the same files from
the torch and ONNX backends, integer weights that steer the rows, their design and their travel in the .pt
and the coding bundle, and context 3 models left as they were."""
import numpy as np
import pytest
import torch
from conftest import natural_like, run
from ibc.codec import subband_context
from ibc.codec.api import compress, decompress
from ibc.codec.errors import CodecError
from ibc.codec.subband_context import (
    ACT_FEATURES,
    ACT_GROUPS,
    ACT_NF,
    ACT_START,
    EDGES,
    N_ROWS,
    act_bucket,
    n_rows,
    rows_per_band,
    tile_bands,
)
from ibc.codec.subband_tiles import decode_image, encode_image, encode_tile
from ibc.codec.subband_vq import NC
from ibc.codec.training.export_onnx import write_coding_bundle
from ibc.codec.training.wavelet_design import design, fit_activity
from ibc.codec.training.wavelet_model import WaveletCodec
from ibc.codec.training.weights_torch import load_torch, save_weights
from ibc.codec.weights import load_model

TRAIN = [natural_like(128, 192, seed=s) for s in range(3)]


def tiny(context: int) -> WaveletCodec:
    """tiny_wavelet_model() of conftest, with the contexts of version `context`."""
    model = WaveletCodec(tile=128, context=context)
    design(model, TRAIN, (12.0, 40.0), rounds=1)
    return model


@pytest.fixture(scope="module")
def v4():
    return tiny(4)


@pytest.fixture(scope="module")
def saved(v4, tmp_path_factory):
    """The context-4 model as weights (.pt) with its coding bundle."""
    path = tmp_path_factory.mktemp("v4") / "tiny-v4.pt"
    save_weights(v4, path, "tiny-v4")
    write_coding_bundle(path)
    return path


def same(a, b) -> bool:
    return (np.array_equal(a.ll, b.ll) and all(np.array_equal(i, j) for i, j in zip(a.idx, b.idx))
            and all(np.array_equal(i, j) for i, j in zip(a.escq, b.escq)))


def with_act(model: WaveletCodec, act: np.ndarray) -> WaveletCodec:
    """A copy of `model` with other activity weights (the same codebooks and priors)."""
    other = WaveletCodec(tile=model.tile, context=4)
    other.load_state_dict(model.state_dict())
    other.prior_act.copy_(torch.from_numpy(np.asarray(act, np.int64)))
    return other


@pytest.mark.parametrize("shape", [(200, 130), (64, 64), (77, 300)])
def test_round_trip_gives_the_encoders_indices(v4, shape):
    rgb = natural_like(*shape, seed=7)
    for step in (3.0, 25.0):
        tiles = v4.encode(rgb, step)
        back = decode_image(v4, encode_image(v4, tiles, *shape), *shape)
        assert all(same(a, b) for a, b in zip(tiles, back))


def test_the_design_learns_integer_weights_that_change_the_rows(v4):
    act = v4.priors()["act"]
    assert act.shape == (ACT_GROUPS, ACT_NF) and act.dtype == np.int64
    assert not np.array_equal(act, ACT_START)  # fitted, not the starting point
    assert v4.prior_vec.shape[0] == n_rows(4) == 3 * 3 * 5 * 32
    rgb, bands = natural_like(128, 128, seed=3), tile_bands(128, 128)
    t = v4.encode(rgb, 12.0)[0]
    other = with_act(v4, ACT_START)
    mine = encode_tile(t, bands, v4.priors(), v4.cmag.numpy(), 4)
    theirs = encode_tile(t, bands, other.priors(), other.cmag.numpy(), 4)
    assert mine != theirs
    back = decode_image(other, [theirs], 128, 128)[0]  # other weights: other bytes, the same indices
    assert same(t, back)


def test_the_starting_weights_are_context_2s_activity_in_finer_buckets(v4):
    """With ACT_START every context-4 row falls inside the context-3 row of the same symbol."""
    t = v4.encode(natural_like(128, 128, seed=5), 12.0)[0]
    bands = tile_bands(128, 128)
    rows = {}
    for context in (3, 4):
        seen = []
        shape = (n_rows(context), NC + 1)
        priors = {"vec": np.ones(shape, np.int64), "mag": np.ones((shape[0], 18), np.int64),
                  "ll": np.ones((3, 18), np.int64), "act": ACT_START}

        def visit_pass(b, ch, part, r, counts, seen=seen):
            seen.append(r.copy())
            return t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]

        subband_context.walk(bands, priors, v4.cmag.numpy(), lambda c: None, visit_pass, context)
        rows[context] = np.concatenate(seen)
    fine, coarse = rows[4] % rows_per_band(4), rows[3] % rows_per_band(3)
    half = fine // 16
    lower = np.concatenate([[0], subband_context.ACT_EDGES])[fine % 16]  # the least activity in the fine bucket
    assert np.array_equal(half * 7 + np.digitize(lower, EDGES), coarse)
    assert np.array_equal(rows[4] // rows_per_band(4), rows[3] // rows_per_band(3))
    assert len(np.unique(fine)) > len(np.unique(coarse))


def test_buckets_compare_integers():
    assert act_bucket(np.array([-3, 0, 1, 6, 7, 128, 129, 10 ** 12])).tolist() == [0, 0, 1, 5, 6, 14, 15, 15]


def test_walk_needs_integer_weights_of_the_right_shape(v4):
    priors = dict(v4.priors())
    t = v4.encode(natural_like(64, 64), 12.0)[0]

    def visit_pass(b, ch, part, r, counts):
        return t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]

    for act in (None, np.zeros((4, ACT_NF)), np.zeros((3, ACT_NF), np.int64)):
        p = {k: v for k, v in priors.items() if k != "act"} | ({} if act is None else {"act": act})
        with pytest.raises(ValueError, match="act"):
            subband_context.walk(tile_bands(64, 64), p, v4.cmag.numpy(), lambda c: None, visit_pass, 4)


def test_the_fit_weighs_an_informative_feature():
    """fit_activity on a sample where only `sibling` predicts the symbol gives it a weight, and its result
    is integer."""
    rng = np.random.default_rng(0)
    n = 20000
    F = rng.integers(0, 30, (n, ACT_NF)).astype(np.int32)
    sib = F[:, ACT_FEATURES.index("sibling")]
    sym = np.where(rng.random(n) < sib / 30, 1, 0).astype(np.int16)
    sample = {"F": F, "bc": np.zeros(n, np.int16), "group": np.full(n, 3, np.int8), "sym": sym}
    act = fit_activity(sample, np.zeros((ACT_GROUPS, ACT_NF), np.int64))
    assert act.dtype == np.int64 and act[3, ACT_FEATURES.index("sibling")] > 0
    assert not act[:3].any()  # groups without symbols keep their weights


def test_both_backends_write_the_same_file_and_read_each_others(saved):
    on_onnx, on_torch = load_model(str(saved), backend="onnx"), load_model(str(saved), backend="torch")
    assert (on_onnx.coder.context, on_torch.coder.context) == (4, 4)
    assert np.array_equal(on_onnx.coder.priors()["act"], on_torch.coder.priors()["act"])
    for rgb in (natural_like(96, 160, seed=11), natural_like(70, 70, seed=12)[..., :1].repeat(3, -1)):  # colour, grey
        data = compress(rgb, on_torch, quality=50)
        assert compress(rgb, on_onnx, quality=50) == data
        x = decompress(data, on_torch, postfilter=False)
        assert np.array_equal(decompress(data, on_onnx, postfilter=False), x) and x.shape == rgb.shape


def test_the_weights_travel_in_the_pt_and_are_required(v4, saved, tmp_path):
    back = load_torch(saved)
    assert back.coder.context == 4 and np.array_equal(back.coder.priors()["act"], v4.priors()["act"])
    blob = torch.load(saved, weights_only=False)
    del blob["state_dict"]["prior_act"]
    torch.save(blob, tmp_path / "no-act.pt")
    with pytest.raises(CodecError, match="do not match"):
        load_torch(tmp_path / "no-act.pt")


def test_a_bundle_without_the_weights_is_refused(saved, tmp_path):
    import hashlib
    import json
    import shutil
    folder = tmp_path / "tiny-v4"
    shutil.copy(saved, tmp_path / "tiny-v4.pt")
    shutil.copytree(saved.with_suffix(""), folder)
    with np.load(folder / "tables.npz") as z:
        tables = {k: z[k] for k in z.files if k != "prior_act"}
    np.savez_compressed(folder / "tables.npz", **tables)
    info = json.loads((folder / "coding.json").read_text())
    info["files"]["tables.npz"] = hashlib.sha256((folder / "tables.npz").read_bytes()).hexdigest()
    (folder / "coding.json").write_text(json.dumps(info))
    with pytest.raises(CodecError, match="prior_act"):
        load_model(str(tmp_path / "tiny-v4.pt"), backend="onnx")


def test_a_context_3_model_is_unaffected(tmp_path):
    """No weights, today's 630 rows, in the .pt and the bundle; weights in its priors would change nothing."""
    v3 = tiny(3)
    assert "act" not in v3.priors() and "prior_act" not in v3.state_dict()
    assert v3.prior_vec.shape[0] == n_rows(3) == N_ROWS == 630
    save_weights(v3, tmp_path / "v3.pt", "v3")
    assert "prior_act" not in torch.load(tmp_path / "v3.pt", weights_only=False)["state_dict"]
    rgb, bands = natural_like(128, 128, seed=4), tile_bands(128, 128)
    t = v3.encode(rgb, 12.0)[0]
    plain = encode_tile(t, bands, v3.priors(), v3.cmag.numpy(), 3)
    assert encode_tile(t, bands, v3.priors() | {"act": ACT_START * 7}, v3.cmag.numpy(), 3) == plain


def test_ibc_train_takes_the_context(photos, tmp_path, monkeypatch):
    from ibc.codec.training import recipe
    seen = {}

    def train(r, run_dir, dest, command, restart=False, force=False):
        seen["context"] = r.context
        return dest / f"{r.name}.pt"

    monkeypatch.setattr(recipe, "train", train)
    assert run("train", photos, "--name", "mine", "--dest", tmp_path, "--context", "4") == 0
    assert seen["context"] == 4
    assert run("train", photos, "--name", "mine", "--dest", tmp_path) == 0
    assert seen["context"] == 3
