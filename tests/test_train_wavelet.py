"""The v2 trainer on tiny generated photographs: the loss falls, resume is exact, validation codes real
payloads from step 0, the CLI trains and exports it."""
import json

import torch

from ibc.codec.training.config import TrainConfig
from ibc.codec.training.wavelet import load_start, train_wavelet

from conftest import run


def tiny_config(photos, out, **kw):
    base = dict(data=str(photos), out=str(out), batch=2, crop=64, steps=4, val_every=10 ** 6, log_every=1,
                warmup=1, lr=3e-3)
    return TrainConfig(**{**base, **kw})


def records(run_dir):
    return [json.loads(line) for line in open(run_dir / "log.jsonl")]


def test_training_lowers_the_loss_on_a_fixed_batch(photos, tmp_path, one_thread):
    """A few steps on the crops of one seed lower L = H + λ·C on those same crops."""
    ckpt = train_wavelet(tiny_config(photos, tmp_path, steps=1), hidden=4)
    model = load_start(str(ckpt), 4)
    from ibc.codec.training.wavelet import make_optimizer
    opt = make_optimizer(model, 3e-3)
    for g in opt.param_groups:
        g["lr"] = 3e-3 * g["scale"]
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64) * 0.3 + torch.linspace(0, 0.6, 64)
    step = torch.full((2, 1, 1, 1), 30.0)

    def loss():
        out = model(x, step)
        C = ((out["x_hat"] - x) * 255).pow(2).mean((1, 2, 3))
        return out["bpp"] + (3 / (model.lmbda * step.flatten() ** 2) * C).mean()

    first = loss().item()
    for _ in range(8):
        opt.zero_grad()
        loss().backward()
        opt.step()
    assert loss().item() < first


def test_resume_reproduces_the_uninterrupted_run(photos, tmp_path, one_thread):
    whole = train_wavelet(tiny_config(photos, tmp_path / "whole", steps=4), hidden=4)
    half = train_wavelet(tiny_config(photos, tmp_path / "split", steps=2), hidden=4)
    moved = torch.load(half, weights_only=False)["model"]
    split = train_wavelet(tiny_config(photos, tmp_path / "split", steps=4), resume=str(half), hidden=4)
    a, b = (torch.load(p, weights_only=False)["model"] for p in (whole, split))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert any(not torch.equal(a[k], moved[k]) for k in a)  # the last two steps did move the model


def test_validation_logs_real_file_figures_from_step_0(photos, tmp_path, one_thread):
    train_wavelet(tiny_config(photos, tmp_path, steps=2, val_every=2), hidden=4)
    vals = [r for r in records(tmp_path) if "val" in r]
    assert [r["step"] for r in vals] == [0, 2]
    for r in vals:
        v = r["val"]
        rates = [v[k] for k in v if k.startswith("bpp_s")]
        assert len(rates) == 4 and all(b > 0 for b in rates) and rates == sorted(rates)  # smaller step, more bits
        assert all(10 < v[k] < 80 for k in v if k.startswith("psnr_s"))
