"""The training loop on tiny data: rate control, exact resume, DDP with gloo, export, clear errors."""
import json

import numpy as np
import pytest
import torch

from ibc.cli.main import main
from ibc.codec.api import compress, decompress
from ibc.codec.errors import CodecError
from ibc.codec.training.config import TrainConfig
from ibc.codec.training.peer import train_peer
from ibc.codec.training.schedules import steer_lmbdas
from ibc.codec.training.shannon import train_shannon
from ibc.codec.weights import _load, load_model

from conftest import TINY, natural_like


def tiny_config(photos, out, **kw):
    base = dict(data=str(photos), out=str(out), batch=2, crop=32, steps=4, val_every=10 ** 6, log_every=1,
                target_bpp=[0.5, 1.0, 2.0], warmup=1)
    return TrainConfig(**{**base, **kw})


def losses(run_dir):
    return {r["step"]: r["loss"] for r in map(json.loads, open(run_dir / "log.jsonl")) if "loss" in r}


def test_rate_control_moves_lambda_the_right_way():
    lm = torch.tensor([0.01, 0.02, 0.04])
    targets = torch.tensor([0.2, 0.4, 0.8])
    assert torch.all(steer_lmbdas(lm, targets * 2, targets, 0.1) < lm)    # too many bits: lower λ
    assert torch.all(steer_lmbdas(lm, targets / 2, targets, 0.1) > lm)    # too few: raise λ
    steered = steer_lmbdas(lm, torch.tensor([0.1, 0.8, 0.8]), targets, 1.0)
    assert torch.all(steered[1:] >= steered[:-1])                          # λ keeps increasing with the level


def test_training_steers_lambda_down_when_rates_are_too_high(photos, tmp_path):
    ckpt = train_shannon(tiny_config(photos, tmp_path, steps=8, target_bpp=[0.001, 0.002, 0.003]), TINY)
    state = torch.load(ckpt, weights_only=False)
    start = torch.logspace(-3, -1.5, TINY.stages)
    assert torch.all(state["model"]["quantizer.lmbdas"] < start)
    assert state["step"] == 8


def test_resume_reproduces_the_uninterrupted_run(photos, tmp_path):
    train_shannon(tiny_config(photos, tmp_path / "whole", steps=4), TINY)
    first = train_shannon(tiny_config(photos, tmp_path / "split", steps=2), TINY)
    train_shannon(tiny_config(photos, tmp_path / "split", steps=4), TINY, resume=str(first))
    whole, split = losses(tmp_path / "whole"), losses(tmp_path / "split")
    assert whole[3] == split[3] and whole[4] == split[4]


def test_export_round_trips_bit_exactly(photos, tmp_path, capsys):
    ckpt = train_shannon(tiny_config(photos, tmp_path / "run", steps=2), TINY)
    out = tmp_path / "exported.pt"
    assert main(["export", str(ckpt), "--name", "exported", "-o", str(out)]) == 0
    lm = load_model(str(out))
    img = natural_like(50, 70, seed=9)
    data = compress(img, lm, level=2)
    again = _load.__wrapped__(out.resolve())  # a second, independently loaded copy
    assert np.array_equal(decompress(data, lm), decompress(data, again))
    assert compress(img, again, level=2) == data
    assert lm.model.cfg == TINY and lm.meta["training"]["steps"] == 2


def test_bad_data_folders(photos, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CodecError, match="no images"):
        train_shannon(tiny_config(tmp_path / "empty", tmp_path / "run"), TINY)
    with pytest.raises(CodecError, match="smaller than"):
        train_shannon(tiny_config(photos, tmp_path / "run", crop=128), TINY)
    with pytest.raises(CodecError, match="no such folder"):
        train_shannon(tiny_config(tmp_path / "missing", tmp_path / "run"), TINY)


def test_checkpoint_from_another_architecture(photos, tmp_path):
    ckpt = train_shannon(tiny_config(photos, tmp_path / "run", steps=1), TINY)
    state = torch.load(ckpt, weights_only=False)
    state["model"]["decoder.refine.0.weight"] = torch.zeros(1, 1, 1, 1)
    torch.save(state, tmp_path / "foreign.pt")
    with pytest.raises(CodecError, match="architecture"):
        train_shannon(tiny_config(photos, tmp_path / "run2"), TINY, resume=str(tmp_path / "foreign.pt"))
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CodecError, match="not an ibc training checkpoint"):
        train_shannon(tiny_config(photos, tmp_path / "run3"), TINY, resume=str(tmp_path / "junk.pt"))


def test_unreachable_target_is_reported(photos, tmp_path):
    cfg = tiny_config(photos, tmp_path, steps=40, val_every=2, rate_gain=20.0, target_bpp=[1e-6, 2e-6, 3e-6])
    with pytest.raises(CodecError, match="cannot reach"):
        train_shannon(cfg, TINY)


def test_compressai_peer_trains_by_the_same_recipe_and_codes_for_real(photos, tmp_path):
    from ibc.codec.evaluation.evaluate import make_coder
    from ibc.codec.evaluation.peer import PeerCoder
    ckpt = train_peer(tiny_config(photos, tmp_path / "peer", steps=3, arch="compressai-factorized", val_every=3,
                             target_bpp=[0.5]))
    resumed = train_peer(tiny_config(photos, tmp_path / "peer", steps=4, arch="compressai-factorized",
                                target_bpp=[0.5]), resume=str(ckpt))
    assert torch.load(resumed, weights_only=False)["step"] == 4
    records = [json.loads(line) for line in open(tmp_path / "peer" / "log.jsonl")]
    assert any("val" in r and r["val"]["bpp"] > 0 for r in records)
    coder = make_coder(f"compressai:{resumed}")
    assert isinstance(coder, PeerCoder) and coder.step == 4
    with pytest.raises(CodecError, match="not a CompressAI peer checkpoint"):
        make_coder(f"compressai:{photos / 'img0.png'}")
    img = natural_like(70, 90, seed=3)
    data = coder.encode(img, "ckpt")
    assert coder.decode(data).shape == img.shape and len(data) > 16
