"""The generative head (eq. 36's randomized decoder, trained part): realism 0 is exactly the Shannon-AE
output, an untrained head is exactly the closed-form fill, seeds reproduce, the ONNX stripes join, and the
trainer's loss is the paper's −β·C + β_D·D."""
import numpy as np
import pytest
import torch

from ibc.codec.api import compress, decode
from ibc.codec.generative_head import HeadRunner, U_KEY
from ibc.codec.noise_fill import uniform_noise
from ibc.codec.noise_model import load_noise_model, save_noise_model
from ibc.codec.postfilter import STRIPE, step_feature
from ibc.codec.weights import find_by_hash, load_model
from ibc.codec.training.generative import HeadConfig, HeadTrainer, onnx_bytes
from ibc.models.generative import GenerativeHead

from conftest import natural_like


def _gc_with(head: GenerativeHead, folder):
    """A gc model: gc-v4's noise fill on shannon-v4, with `head`."""
    fill = load_model("gc-v4")
    meta = {"name": "test-head", "base": fill.meta["base"], "head": {"margin": head.margin}}
    path = folder / "test-head.npz"
    save_noise_model(path, fill.noise, meta, head=onnx_bytes(head.eval()))
    return load_noise_model(path, find_by_hash)


def _random_head(seed: int = 0) -> GenerativeHead:
    torch.manual_seed(seed)
    g = GenerativeHead(width=8)
    with torch.no_grad():
        torch.nn.init.normal_(g.net[-1].weight, std=0.05)
    return g


@pytest.fixture(scope="module")
def photo():
    return natural_like(320, 256, seed=3)  # taller than a stripe: the head runs in several


def test_an_untrained_head_is_the_closed_form_fill_and_realism_0_the_shannon_ae(photo, tmp_path):
    gc = _gc_with(GenerativeHead(width=8), tmp_path)
    fill, base = load_model("gc-v4"), load_model("shannon-v4")
    data = compress(photo, base, quality=20)
    zero = decode(data, gc, realism=0.0).image
    assert np.array_equal(zero, decode(data, base).image)
    one, want = decode(data, gc, realism=1.0, seed=5).image, decode(data, fill, realism=1.0, seed=5).image
    assert np.abs(one.astype(int) - want).max() <= 1  # the same sums, rounded once instead of twice
    assert np.abs(one.astype(int) - zero).mean() > 0.3  # and the fill does add detail


def test_seeds_reproduce_and_differ_and_realism_scales_the_head(photo, tmp_path):
    gc = _gc_with(_random_head(), tmp_path)
    data = compress(photo, load_model("shannon-v4"), quality=20)
    a, b = decode(data, gc, realism=1.0, seed=1).image, decode(data, gc, realism=1.0, seed=1).image
    c = decode(data, gc, realism=1.0, seed=2).image
    assert np.array_equal(a, b)
    assert (a != c).mean() > 0.2
    lo, mid = (decode(data, gc, realism=r, seed=1).image.astype(float) for r in (0.0, 0.5))
    inside = (np.minimum(lo, a) > 0) & (np.maximum(lo, a) < 255)
    assert np.abs(mid - (lo + a) / 2)[inside].max() <= 1.0


def test_the_onnx_stripes_join_as_one_torch_pass():
    g = _random_head(1).eval()
    H, W = STRIPE * 2 + 37, 90
    rng = np.random.default_rng(0)
    x_hat = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
    detail = rng.integers(-6, 7, (H, W, 3)).astype(np.int16)
    got = HeadRunner(onnx_bytes(g), g.margin)(x_hat, detail, 80.0, seed=4, realism=1.0)
    x = torch.from_numpy(x_hat).permute(2, 0, 1)[None].float() / 255
    d = torch.from_numpy(detail).permute(2, 0, 1)[None].float() / 255
    u = torch.from_numpy(uniform_noise(4, U_KEY, H * W).astype(np.float32).reshape(1, 1, H, W))
    with torch.no_grad():
        want = (x + g(x, d, u, torch.tensor([step_feature(80.0)]))).clamp(0, 1)
    want = np.round(want[0].permute(1, 2, 0).numpy() * 255)
    assert np.abs(got.astype(float) - want).max() <= 1


def test_the_head_loss_is_minus_beta_c_plus_beta_d_d():
    """What the head's optimiser gets is exactly l1·mean|x − x̃| + β_D·D (eq. 36 with H(Ẑ) fixed), D the
    non-saturating density-ratio term averaged over the discriminator's scales; and a step runs."""
    rng = np.random.default_rng(0)
    n, s = 6, 64
    x = rng.integers(0, 256, (n, s, s, 3), dtype=np.uint8)
    c = np.clip(x.astype(int) + rng.integers(-20, 21, x.shape), 0, 255).astype(np.uint8)
    pool = {"x": x, "c": c, "d": rng.integers(-3, 4, x.shape).astype(np.int16), "step": np.full(n, 80.0)}
    t = HeadTrainer(HeadConfig(batch=4, l1_weight=3.0, beta_d=0.25), pool, {k: v[:2] for k, v in pool.items()})
    xt, ft, ct = torch.rand(2, 3, s, s), torch.rand(2, 3, s, s), torch.rand(2, 3, s, s)
    t.d.eval()  # spectral norm's power iteration would move the weights between the two evaluations
    loss, minus_c, d_term = t.head_loss(xt, ft, ct)
    want_c = 3.0 * (xt - ft).abs().mean()
    with torch.no_grad():
        want_d = torch.stack([torch.log1p(torch.exp(-m)).mean() for m in t.d(ft, ct)]).mean()
    assert torch.isclose(minus_c, want_c) and torch.isclose(d_term, want_d, atol=1e-6)
    assert torch.isclose(loss, want_c + 0.25 * want_d, atol=1e-6)
    t.d.train()
    before = [p.detach().clone() for p in t.g.parameters()]
    figures = t.train_step()
    assert set(figures) >= {"minus_c", "D", "loss_d"} and t.step == 1
    assert any(not torch.equal(a, b) for a, b in zip(before, t.g.parameters()))
