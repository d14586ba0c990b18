"""Generative compression parts on tiny models: noise, the randomized decoder, term D, training, export."""
import json

import numpy as np
import pytest
import torch

from ibc.codec.api import compress, decode
from ibc.codec.errors import CodecError
from ibc.codec.training.config import TrainConfig
from ibc.codec.training.export import export
from ibc.codec.training.generative import gc_model, steer_beta, train_gc
from ibc.codec.weights import _load
from ibc.models import ModelConfig
from ibc.models.discriminator import Discriminator
from ibc.models.generator import seeded_noise
from ibc.models.losses import discriminator_loss, perception_D

from conftest import TINY, natural_like, payloads, tiny_gc_model

GC = ModelConfig(**{**TINY.to_dict(), "mode": "gc", "noise_channels": 2, "pixel_noise": 1, "texture": 4,
                    "gc_levels": 2})


def images(n=2, size=32):
    return torch.from_numpy(np.stack([natural_like(size, size, s) for s in range(n)])).permute(0, 3, 1, 2).float() / 255


def test_config_keeps_noise_to_the_gc_mode():
    with pytest.raises(ValueError):
        ModelConfig(noise_channels=4)                       # noise without mode gc
    with pytest.raises(ValueError):
        ModelConfig(mode="gc")                              # gc without noise or levels
    with pytest.raises(ValueError):
        ModelConfig(**{**GC.to_dict(), "gc_levels": TINY.stages + 1})


def test_seeded_noise_depends_on_seed_and_position_only():
    whole = seeded_noise(GC, 7, slice(0, 70), slice(0, 40))
    part = seeded_noise(GC, 7, slice(30, 45), slice(5, 38))   # a window crossing noise-tile borders
    b = GC.block
    assert torch.equal(part[0], whole[0][:, :, 30:45, 5:38])
    assert torch.equal(part[1], whole[1][:, :, 30 * b:45 * b, 5 * b:38 * b])
    assert torch.equal(seeded_noise(GC, 7, slice(0, 9), slice(0, 9))[1], whole[1][:, :, :9 * b, :9 * b])
    other = seeded_noise(GC, 8, slice(0, 70), slice(0, 40))
    assert not torch.equal(other[0], whole[0]) and not torch.equal(other[1], whole[1])
    assert abs(whole[0].std().item() - 1) < 0.05 and abs(whole[1].mean().item()) < 0.05


def test_randomized_decoder_starts_as_the_shannon_decoder(tiny):
    model = gc_model(tiny.model, noise_channels=2, pixel_noise=1, texture=4, gc_levels=2).eval()
    indices = model.encode(images(), 2)
    u = model.gen_decoder.random_noise(model.quantizer.dequantize(indices))
    assert torch.allclose(model.decode(indices, u, realism=1), model.decode(indices), atol=1e-6)
    assert torch.equal(model.frequencies, tiny.model.frequencies)  # the same tables: the same bitstream


def test_realism_blends_the_two_decoders(tiny):
    model = tiny_gc_model(tiny.model).eval()
    indices = model.encode(images(), 2)
    u = model.gen_decoder.random_noise(model.quantizer.dequantize(indices))
    a, b = model.decode(indices), model.decode(indices, u, realism=1)
    assert not torch.allclose(a, b)
    assert torch.allclose(model.decode(indices, u, realism=0.25), 0.75 * a + 0.25 * b, atol=1e-6)


@pytest.mark.parametrize("kind", ["ns", "hinge"])
def test_discriminator_and_decoder_losses_move_the_right_way(tiny, kind):
    torch.manual_seed(0)
    model = tiny_gc_model(tiny.model).eval()
    x = images(4)
    indices = model.encode(x, 2)
    z_q = model.quantizer.dequantize(indices)
    levels = torch.full((4,), 2)
    u = model.gen_decoder.random_noise(z_q)
    disc = Discriminator(model.cfg, width=8, scales=2)
    opt_d = torch.optim.Adam(disc.parameters(), lr=2e-3)
    with torch.no_grad():
        fake = model.gen_decoder(z_q, levels, u)
    d_losses = []
    for _ in range(15):  # the discriminator learns to tell x from x̂
        loss = discriminator_loss(disc(x, z_q), disc(fake, z_q), kind)
        opt_d.zero_grad()
        loss.backward()
        opt_d.step()
        d_losses.append(loss.item())
    assert d_losses[-1] < d_losses[0]
    disc.requires_grad_(False)
    opt_g = torch.optim.Adam(model.gen_decoder.parameters(), lr=2e-3)
    g_losses = []
    for _ in range(15):  # … and against a fixed discriminator the decoder lowers term D
        D = perception_D(disc(model.gen_decoder(z_q, levels, u), z_q), kind)
        opt_g.zero_grad()
        D.backward()
        opt_g.step()
        g_losses.append(D.item())
    assert g_losses[-1] < g_losses[0]


def test_beta_steering_moves_the_right_way():
    assert steer_beta(1.0, ratio=2.5, target=1.7, gain=0.1) < 1.0   # too much distortion: less weight on D
    assert steer_beta(1.0, ratio=1.1, target=1.7, gain=0.1) > 1.0
    assert steer_beta(1e-3, ratio=100.0, target=1.7, gain=1.0) >= 1e-3


def gc_config(photos, out, init, **kw):
    return TrainConfig(**{**dict(data=str(photos), out=str(out), batch=4, crop=32, steps=3, val_every=2,
                                 log_every=1, warmup=1, lr=1e-3, init=str(init), gc_levels=2,
                                 noise_channels=2, pixel_noise=1, texture=4), **kw})


def test_gc_training_resumes_and_exports_weights_that_share_the_bitstream(photos, tmp_path, tiny_weights, tiny,
                                                                          one_thread):
    ckpt = train_gc(gc_config(photos, tmp_path / "run", tiny_weights, steps=2))
    ckpt = train_gc(gc_config(photos, tmp_path / "run", tiny_weights, steps=3, beta=7.0, beta_gain=0.0),
                 resume=str(ckpt))
    state = torch.load(ckpt, weights_only=False)
    assert state["step"] == 3 and state["base"]["sha256"] == tiny.sha256
    assert state["beta"] == 7.0  # without steering, the β asked for replaces the checkpoint's
    records = [json.loads(line) for line in open(tmp_path / "run" / "log.jsonl")]
    assert any("val" in r and "swd_gc1" in r["val"] for r in records)
    assert all(np.isfinite(r["D"]) and np.isfinite(r["KL"]) for r in records if "D" in r)
    # the frozen parts did not move
    assert torch.equal(state["model"]["encoder.analysis.weight"], tiny.model.state_dict()["encoder.analysis.weight"])

    out = tmp_path / "gc.pt"
    export(ckpt, out, "tiny-gc-trained")
    gc = _load(out.resolve())
    assert gc.model.cfg.mode == "gc" and gc.meta["base"]["sha256"] == tiny.sha256
    rgb = natural_like(40, 56, seed=9)
    gc_file, base_file = compress(rgb, gc, level=2, seed=3), compress(rgb, tiny, level=2)
    assert payloads(gc_file) == payloads(base_file)
    again = _load.__wrapped__(out.resolve())  # a fresh load (not the cached one) decodes to the same pixels
    assert np.array_equal(decode(gc_file, gc).image, decode(gc_file, again).image)
    export(out, tmp_path / "again.pt", "again")  # re-exporting weights keeps their base and training record
    again = _load((tmp_path / "again.pt").resolve())
    assert again.meta["base"] == gc.meta["base"] and again.meta["training"] == gc.meta["training"]
    assert np.array_equal(decode(base_file, gc, realism=1).image, decode(base_file, again, realism=1).image)


def test_gc_training_refuses_a_gc_base(photos, tmp_path, tiny_gc_weights, one_thread):
    with pytest.raises(CodecError, match="Shannon-AE base"):
        train_gc(gc_config(photos, tmp_path / "bad", tiny_gc_weights))
