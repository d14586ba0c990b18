"""The gc-v2 discriminator's trainer (codec.training.discriminator) on a tiny pool: a stopped run resumes
exactly (weights, Adam, RNGs, log), the export's ONNX graph agrees with the checkpoint and its statistics
serve codec.score; Kodak is refused as training data."""
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from ibc.codec.errors import CodecError
from ibc.codec.score import Scorer
from ibc.codec.training.discriminator import DiscConfig, export, split, train
from ibc.models.discriminator_v2 import ConditionalPatchGAN, hinge_loss

from conftest import natural_like


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("disc-data")
    for i, name in enumerate(("img0.png", "img1.png", "bsds_val_0.png")):
        Image.fromarray(natural_like(160, 192, seed=i)).save(folder / name)
    return folder


def config(data, out, steps):
    return DiscConfig(data=str(data), out=str(out), width=4, batch=2, crops=2, seeds=2, steps=steps,
                      val_every=2, log_every=1, threads=1)


@pytest.fixture(scope="module")
def straight(data, tmp_path_factory):
    out = tmp_path_factory.mktemp("straight")
    train(config(data, out, 6))
    return out


def test_split_and_pool(data, straight):
    tr, val = split(data)
    assert [p.name for p in tr] == ["img0.png", "img1.png"] and [p.name for p in val] == ["bsds_val_0.png"]
    with np.load(straight / "pool" / "train-000.npz") as z:
        assert z["x"].shape == (4, 128, 128, 3) and z["c"].shape == z["x"].shape
        assert z["fake"].shape == (4, 2, 128, 128, 3)
        assert (4 <= z["q"]).all() and (z["q"] <= 30).all()
        assert not np.array_equal(z["fake"][:, 0], z["fake"][:, 1])  # two seeds, two fillings
        assert not np.array_equal(z["fake"][:, 0], z["c"])
    with pytest.raises(CodecError, match="Kodak"):
        split(data.parent / "kodak")


def test_resume_is_exact(data, straight, tmp_path):
    shutil.copytree(straight / "pool", tmp_path / "pool")  # the same pool, not built again
    train(config(data, tmp_path, 3))
    train(config(data, tmp_path, 6))
    a = torch.load(straight / "checkpoint.pt", weights_only=False)
    b = torch.load(tmp_path / "checkpoint.pt", weights_only=False)
    assert a["step"] == b["step"] == 6
    for k, v in a["d"].items():
        assert torch.equal(v, b["d"][k]), k
    strip = lambda p: [{k: v for k, v in json.loads(line).items() if k != "cpu_s"}
                       for line in (p / "log.jsonl").read_text().splitlines()]
    assert strip(straight) == strip(tmp_path)
    assert [r["step"] for r in strip(tmp_path) if "val" in r] == [0, 2, 4, 6]


def test_export_serves_the_score(straight, data, tmp_path):
    info = export(straight, tmp_path, photos=2)  # checks the ONNX graph against the checkpoint itself
    assert info["discriminator"]["steps"] == 6 and info["stats"]["photos"] == 2
    scorer = Scorer(tmp_path)
    s = scorer.score(natural_like(96, 128, seed=5), "x")
    assert np.isfinite([s.bpp, s.d, s.novelty]).all() and s.novelty == pytest.approx(np.hypot(s.z_rate, s.z_d))


def test_hinge_is_two_at_chance_and_r1_flows_through_x_only():
    d = ConditionalPatchGAN(width=4)
    zero = [torch.zeros(2, 1, 4, 4)] * 3
    assert float(hinge_loss(zero, zero)) == 2.0
    from ibc.models.discriminator_v2 import r1_penalty
    x, c = torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64, requires_grad=True)
    r1, logits = r1_penalty(d, x, c)
    assert r1 > 0 and len(logits) == 3 and [m.shape[-1] for m in logits] == [8, 4, 2]
