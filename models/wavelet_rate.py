"""The training path of a WaveletCodec: L = H(Ẑ) + λ·C with a differentiable rate estimate.

    x ─ transform ─► y ─ ÷ step ─► 2×2 blocks u ─ hard RD choice (no grad) ─► idx
        distortion: û = c[idx] (escape: dequant(quant(u))), straight-through to u ─► synthesis ─► x̂
        rate:       soft assignment p_k ∝ exp(−(‖u − c_k‖² + λ·b_k)/λ), bits = Σ_k p_k·b_k
                    with b_k the frozen priors' marginal bits of the band and channel

The soft rate carries gradients to the lifting corrections and the codebooks; the hard choice is the
coder's (without the contexts, which the priors average over). LL is rounded straight-through and
its few bits are left out of the loss.
"""
import math

import torch

from .subband_context import SUB
from .subband_vq import NC, vq_class


def _blocks(a: torch.Tensor) -> torch.Tensor:
    """(B,h,w) → (B·h/2·w/2, 4)."""
    B, h, w = a.shape
    return a.reshape(B, h // 2, 2, w // 2, 2).transpose(2, 3).reshape(-1, 4)


def _unblocks(v: torch.Tensor, B: int, h: int, w: int) -> torch.Tensor:
    return v.reshape(B, h // 2, w // 2, 2, 2).transpose(2, 3).reshape(B, h, w)


def marginal_bits(model) -> torch.Tensor:
    """(3·15, NC+1) bits of each vector symbol per (band, channel), from the frozen priors."""
    f = model.prior_vec.double().reshape(-1, SUB, NC + 1).sum(1)
    return torch.log2(f.sum(-1, keepdim=True)) - torch.log2(f)


def escape_bits(v: torch.Tensor) -> torch.Tensor:
    """(n,4) → (n,1) a smooth stand-in for the bits of an escaped block's four scalars (magnitude and
    sign, about Exp-Golomb's 1 + 2·log2(1 + |v|) each), so that large coefficients cost rate."""
    return (1 + 2 * torch.log2(1 + v.abs())).sum(-1, keepdim=True)


def rate_distortion(model, x: torch.Tensor, step: float, temperature: float | None = None,
                    escapes: bool = False, noise: bool = False) -> dict:
    """`temperature` (step², default λ) of the soft assignment: a larger one gives the rate a gradient
    away from the decision boundaries; `escapes` adds escape_bits to the escape's cost; `noise`
    reconstructs the details as u + U(−½, ½) (the additive-noise proxy of quantisation: its gradient
    does not reward moving y against a quantiser that will snap it back, as straight-through does)."""
    B, _, H, W = x.shape
    lmbda = model.lmbda
    T = temperature or lmbda
    y = model.transform(255 * x)
    u = y / step
    table = marginal_bits(model).to(u.dtype)
    u_hat = torch.zeros_like(u)
    soft_bits = u.new_zeros(())
    hard_bits = 0.0
    bands = model.transform.wavelet.subbands(H, W)
    ll_r, ll_c = bands[0][2], bands[0][3]
    ll = u[:, :, ll_r, ll_c]
    u_hat[:, :, ll_r, ll_c] = ll + (torch.round(ll) - ll).detach()
    for b, (level, o, r, c) in enumerate(bands[1:]):
        h, w = r.stop - r.start, c.stop - c.start
        for ch in range(3):
            v = _blocks(u[:, ch, r, c])
            book = model.vq.codebooks[vq_class(level, o, ch)].to(v.dtype)
            bits = table[b * 3 + ch]
            d = (v.pow(2).sum(1, keepdim=True) - 2 * v @ book.T + book.pow(2).sum(1)).clamp(min=0)  # (n,NC) ‖v − c‖²
            q = torch.sign(v) * torch.floor(v.abs() + 0.5 - 0.2)
            esc_rec = (torch.sign(q) * (q.abs() - 0.1).clamp(min=0)).detach()
            d_esc = (v - esc_rec).pow(2).sum(-1, keepdim=True)
            rows = bits.expand(v.shape[0], -1)
            if escapes:
                rows = torch.cat([rows[:, :NC], rows[:, NC:] + escape_bits(v)], 1)
            cost = torch.cat([d, d_esc], 1) + lmbda * rows                            # (n,NC+1)
            p = torch.softmax(-cost / T, 1)
            soft_bits = soft_bits + (p * rows).sum()
            idx = cost.detach().argmin(1)
            hard_bits += float(rows.detach().gather(1, idx[:, None]).sum())
            chosen = book[idx.clamp(max=NC - 1)]
            rec = torch.where((idx == NC).unsqueeze(1), esc_rec, chosen) - v.detach() + v  # straight-through
            if noise:
                rec = v + torch.rand_like(v) - 0.5
            u_hat[:, ch, r, c] = _unblocks(rec, B, h, w)
    x_hat = model.transform.inverse(u_hat * step) / 255
    mse = (x_hat - x).pow(2).mean() * 255 ** 2
    pixels = B * H * W
    bpp = soft_bits / pixels
    C = 3 * mse / (lmbda * step ** 2)  # distortion in the units where the encoder trades λ·bits
    return {"x_hat": x_hat, "bits": hard_bits, "bpp": bpp, "mse": mse, "loss": bpp + C,
            "psnr": 10 * math.log10(255 ** 2 / max(float(mse.detach()), 1e-12))}
