import torch

from ibc.codec.training.shannon import make_optimizer
from ibc.models import CodecModel
from ibc.models.entropy import FREQ_TOTAL, contexts
from ibc.models.losses import distortion_C, shannon_ae_loss

from conftest import TINY, natural_like, tiny_model


def images(n=2, size=32):
    return torch.from_numpy(__import__("numpy").stack([natural_like(size, size, s) for s in range(n)])).permute(
        0, 3, 1, 2).float() / 255


def test_block_transform_init_is_lossless_before_quantization():
    model = tiny_model(context=False)
    x = images()
    assert torch.allclose(model.decoder(model.encoder(x)), x, atol=1e-4)


def test_training_path_quantizes_as_the_coder_does():
    """What training optimises is the codec that runs: forward's indices are those `encode` sends, its z_q
    is the sum of their codewords over each sample's levels (quantized == lookup(indices)), and encoding
    again at any level gives the same indices (stages are chosen one after another)."""
    model = tiny_model().eval()
    model.freeze()
    model.entropy.bits_table = model.frequency_bits  # the coder's rates, so both paths weigh the same costs
    x = images(3)
    levels = torch.tensor([1, 2, 3])
    out = model(x, levels)
    indices = model.encode(x, TINY.stages)
    assert torch.equal(out["indices"], indices)
    assert indices.min() >= 0 and indices.max() < TINY.codebook_size
    D = TINY.group_dim
    for b, L in enumerate(levels.tolist()):
        for g in range(TINY.groups):
            codewords = sum(model.quantizer.codebooks[s, g][indices[b, s, g]] for s in range(L))  # (h,w,D)
            assert torch.equal(out["z_q"][b, g * D:(g + 1) * D], codewords.permute(2, 0, 1))
        assert torch.equal(model.encode(x[b:b + 1], L), indices[b:b + 1, :L])


def test_more_levels_means_less_distortion_and_more_bits():
    model = tiny_model().eval()
    model.freeze()
    x = images()
    indices = model.encode(x, TINY.stages)
    errors = [(model.decode(indices[:, :L]) - x).pow(2).mean().item() for L in range(1, TINY.stages + 1)]
    bits = [model.frozen_bits(indices[:, :L]).sum().item() for L in range(1, TINY.stages + 1)]
    assert errors == sorted(errors, reverse=True)
    assert bits == sorted(bits)


def test_frozen_tables_are_valid_integer_distributions():
    model = tiny_model()
    with torch.no_grad():
        model.entropy.logits.normal_(0, 5)
    f = model.entropy.frequencies()
    assert f.dtype == torch.int32 and f.min() >= 1
    assert torch.all(f.sum(-1) == FREQ_TOTAL)


def test_contexts_use_only_earlier_integers():
    """Changing a non-anchor first-stage index never changes any first-stage context."""
    model = tiny_model()
    idx = torch.randint(0, TINY.codebook_size, (1, 2, TINY.groups, 4, 4))
    before = contexts(idx, model.quantizer.bins, TINY.ctx_buckets)
    idx2 = idx.clone()
    idx2[0, 0, :, 0, 1] = (idx2[0, 0, :, 0, 1] + 1) % TINY.codebook_size  # (0,1) is a non-anchor
    after = contexts(idx2, model.quantizer.bins, TINY.ctx_buckets)
    assert torch.equal(before[:, 0], after[:, 0])
    assert not torch.equal(before[:, 1], after[:, 1])  # stage 2 reads stage 1 at the same place


def test_training_step_lowers_the_loss():
    torch.manual_seed(0)
    model = tiny_model().train()
    opt = make_optimizer(model, lr=1e-3)
    x = images(4)
    levels = torch.tensor([1, 2, 3, 3])
    losses = []
    for step in range(20):
        for g in opt.param_groups:
            g["lr"] = 1e-3 * g["scale"]
        out = model(x, levels)
        terms = shannon_ae_loss(out, x, levels, model.quantizer.lmbdas)
        opt.zero_grad()
        terms["loss"].backward()
        opt.step()
        losses.append(terms["loss"].item())
    assert losses[-1] < losses[0]


def test_distortion_terms():
    x = torch.zeros(1, 3, 4, 4)
    assert abs(distortion_C(x + 1 / 255, x, "mse").item() - 1.0) < 1e-5
    assert abs(distortion_C(x + 2 / 255, x, "l1").item() - 2.0) < 1e-5


def test_files_that_name_the_codeword_bins_levels_still_load():
    """Weights and checkpoints written before the rename keep loading (strictly) under the new names."""
    model = CodecModel(TINY)
    old_names = {k.replace("quantizer.bin_edges", "quantizer.level_edges").replace("quantizer.bins", "quantizer.levels"): v
                 for k, v in model.state_dict().items()}
    assert "quantizer.levels" in old_names and "quantizer.level_edges" in old_names
    again = CodecModel(TINY)
    again.load_state_dict(old_names)
    assert torch.equal(again.quantizer.bins, model.quantizer.bins)
    assert torch.equal(again.quantizer.bin_edges, model.quantizer.bin_edges)
