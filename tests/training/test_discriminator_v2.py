"""The gc-v2 discriminator's trainer (codec.training.discriminator) on a tiny pool: a stopped run resumes
exactly (weights, Adam, RNGs, log), the export's ONNX graph agrees with the checkpoint and its statistics
serve codec.score; Kodak is refused as training data; under torchrun (gloo, 2 processes) the replicas stay
identical, train as one process on the whole batch would, and resume."""
import json
import os
import shutil
import subprocess
import sys

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


def config(data, out, steps, batch=2):
    return DiscConfig(data=str(data), out=str(out), width=4, batch=batch, crops=2, seeds=2, steps=steps,
                      val_every=2, log_every=1, threads=1, device="cpu")


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


def test_two_process_gloo_keeps_replicas_identical_and_resumes(data, tmp_path):
    """2 ranks × batch 2, stopped at step 3 and resumed to 6, must end where one process on batch 4 does:
    each rank its own half of the batch, the gradients averaged, every rank's RNG resumed."""
    run = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "ibc.codec.training.discriminator", "train", "--data", str(data), "--out", str(run), "--width", "4",
           "--batch", "2", "--crops", "2", "--seeds", "2", "--val-every", "2", "--log-every", "1", "--device", "cpu"]
    for steps in (3, 6):
        done = subprocess.run(cmd + ["--steps", str(steps)], env={**os.environ, "OMP_NUM_THREADS": "1"},
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    digests = [r["ddp_state_digests"] for r in records if "ddp_state_digests" in r]
    ckpt = torch.load(run / "checkpoint.pt", weights_only=False)
    assert ckpt["step"] == 6 and len(digests) == 2  # one line per launch, by rank 0 alone
    for d in digests:
        assert len(d) == 2 and set(d[0]) == set(ckpt["d"]) and d[0] == d[1]
    assert [r["step"] for r in records if "hinge" in r] == [1, 2, 3, 4, 5, 6]
    assert [r["step"] for r in records if "val" in r] == [0, 2, 4, 6]
    shutil.copytree(run / "pool", tmp_path / "one" / "pool")
    train(config(data, tmp_path / "one", 6, batch=4))
    one = torch.load(tmp_path / "one" / "checkpoint.pt", weights_only=False)
    for k, v in one["d"].items():  # the halves' sums round differently (≈ 1e-6); other crops move it ≈ 1e-2
        assert torch.allclose(v, ckpt["d"][k], rtol=0, atol=1e-4), k
