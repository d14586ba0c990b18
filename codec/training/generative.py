"""Training generative compression (eq. 36) on the frozen bitstream of a shipped Shannon-AE model.

The encoder, quantizer and entropy model stay frozen (an encoder that is optimal for MSE is also optimal
for perceptual decoding, Yan et al. 2021), so one .ibc file serves both decoders; only the randomized
decoder g_θ(ẑ, u) and the discriminator learn. β, the weight of term D, is steered so that the decoder's
MSE settles at `mse_ratio` × the Shannon-AE decoder's (≤ 2×, the Blau–Michaeli bound for a perfectly
realistic decoder).
"""
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ...models import CodecModel
from ...models.discriminator import Discriminator
from ...models.losses import ADVERSARIAL, discriminator_loss, generative_loss, kl_estimate
from ..dataset import center_crops
from ..errors import CodecError
from ..metrics import SlicedWasserstein
from ..weights import default_model, load_model
from .checkpoint import build_model, load_checkpoint
from .config import TrainConfig
from .loop import Figures, Trainer, prepare_run, resolve_device, run

BETA_MIN, BETA_MAX = 1e-3, 1e5  # safety bounds: the steering, not these, sets β
DIVERSITY_CAP = 3.0  # 8-bit levels of mean difference between two draws beyond which diversity earns nothing


def diversity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Mean absolute difference of two decodings of the same ẑ with different u, in 8-bit levels.
    Rewarding it (up to a cap; mode seeking, Mao et al. 2019) keeps the decoder from ignoring u: L1
    alone pulls every draw to the same median."""
    return (a.float() - b.float()).abs().mean() * 255


def gc_model(base: CodecModel, noise_channels: int, pixel_noise: int, texture: int, gc_levels: int) -> CodecModel:
    """A mode-"gc" model sharing every part of the Shannon-AE `base`; its randomized decoder starts as
    a copy of the base decoder."""
    cfg = replace(base.cfg, mode="gc", noise_channels=noise_channels, pixel_noise=pixel_noise,
                  texture=texture, gc_levels=gc_levels)
    model = CodecModel(cfg)
    missing, unexpected = model.load_state_dict(base.state_dict(), strict=False)
    if unexpected or any(not k.startswith("gen_decoder.") for k in missing):
        raise CodecError("the base model does not match this version's architecture")
    model.gen_decoder.copy_from(model.decoder)
    return model


def steer_beta(beta: float, ratio: float, target: float, gain: float) -> float:
    """Too much distortion (MSE ratio above target) → smaller β, and the other way round."""
    return float(np.clip(beta * math.exp(-gain * math.log(ratio / target)), BETA_MIN, BETA_MAX))


@torch.no_grad()
def code(model: CodecModel, x: torch.Tensor, levels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Crops through the frozen Shannon-AE: → ẑ at each sample's level (B,C,h,w) and H(Ẑ) in bpp (B,)."""
    top = model.cfg.gc_levels
    indices = model.encode(x, top)
    bits = torch.stack([model.frozen_bits(indices[:, :L]) for L in range(1, top + 1)], 1)
    H_Z = bits.gather(1, (levels - 1).view(-1, 1)).squeeze(1) / (x.shape[2] * x.shape[3])
    return model.quantizer.dequantize(indices, levels), H_Z


@torch.no_grad()
def validate_gc(model: CodecModel, crops: torch.Tensor, swd: SlicedWasserstein) -> dict:
    """Per GC level on fixed crops: PSNR of both decoders, their realism (SWD) and how much two noise
    draws differ (mean absolute difference in 8-bit levels: 0 would mean the decoder ignores u)."""
    def rounded(t):
        return (t * 255).round() / 255

    def psnr(t):
        return (10 * torch.log10(1 / (t - crops).pow(2).mean((1, 2, 3)))).mean().item()

    def u8(t):
        return list(t.mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy())

    result = {}
    gen = torch.Generator(device=crops.device)
    every = model.encode(crops, model.cfg.gc_levels)  # stages are chosen greedily: level L is the first L
    for L in range(1, model.cfg.gc_levels + 1):
        indices = every[:, :L]
        z_q = model.quantizer.dequantize(indices)
        gen.manual_seed(L)
        u, u2 = (model.gen_decoder.random_noise(z_q, gen) for _ in range(2))
        x_mse = rounded(model.decode(indices))
        x_gc, x_gc2 = (rounded(model.decode(indices, noise, realism=1)) for noise in (u, u2))
        result[f"psnr_mse{L}"], result[f"psnr_gc{L}"] = psnr(x_mse), psnr(x_gc)
        result[f"swd_mse{L}"], result[f"swd_gc{L}"] = swd.distance(u8(x_mse))[0], swd.distance(u8(x_gc))[0]
        result[f"seed_diff{L}"] = (x_gc - x_gc2).abs().mean().item() * 255
    return result


class GenerativeTrainer(Trainer):
    """The gc model (only its randomized decoder learns), the discriminator, their optimizers and β."""
    desc = "train gc"

    def __init__(self, tcfg: TrainConfig, model: CodecModel, base: dict, device: torch.device,
                 val_files: list[Path], resumed: dict | None):
        self.tcfg, self.model, self.base = tcfg, model, base
        model.to(device)
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("gen_decoder."))
        model.eval()  # the frozen parts; the randomized decoder alone trains
        model.gen_decoder.train()
        self.disc = Discriminator(model.cfg).to(device)
        self.opt_g = torch.optim.Adam(model.gen_decoder.parameters(), lr=tcfg.lr, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.disc.parameters(), lr=tcfg.lr, betas=(0.5, 0.9))
        self.beta, self.ratio = tcfg.beta, tcfg.mse_ratio
        if resumed:
            self.disc.load_state_dict(resumed["discriminator"])
            self.opt_g.load_state_dict(resumed["opt_g"])
            self.opt_d.load_state_dict(resumed["opt_d"])
            self.ratio = resumed["mse_ratio_ema"]
            self.beta = resumed["beta"] if tcfg.beta_gain > 0 else tcfg.beta  # without steering, β is what is asked
        self.val_crops = center_crops(val_files[:24], min(256, 2 * tcfg.crop)).to(device)
        self.swd = SlicedWasserstein(list(self.val_crops.mul(255).round().byte().permute(0, 2, 3, 1).cpu().numpy()))
        self.amp = dict(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")

    def step(self, x, lr, log):
        model, disc, tcfg = self.model, self.disc, self.tcfg
        for opt, scale in ((self.opt_g, 1.0), (self.opt_d, tcfg.d_lr_scale)):
            for g in opt.param_groups:
                g["lr"] = lr * scale
        half = x.shape[0] // 2  # each crop twice, with two noise draws: what the diversity term compares
        levels = torch.randint(1, model.cfg.gc_levels + 1, (half,), device=x.device)
        z_q, H_Z = code(model, x[:half], levels)  # the frozen encoder runs once per crop
        x, z_q, H_Z, levels = (torch.cat([t, t]) for t in (x[:half], z_q, H_Z, levels))
        with torch.no_grad():
            x_mse = model.decoder(z_q).clamp(0, 1)
        with torch.autocast(**self.amp):
            x_hat = model.gen_decoder(z_q, levels, model.gen_decoder.random_noise(z_q))
            # the discriminator learns to tell x from x̂ (given ẑ) …
            d_loss = discriminator_loss(disc(x, z_q), disc(x_hat.detach(), z_q), tcfg.adversarial)
        self.opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self.opt_d.step()
        with torch.autocast(**self.amp):
            # … and the decoder minimises L = H(Ẑ) + λ·C + β·D against it
            disc.requires_grad_(False)
            real = [r.detach() for r in disc(x, z_q)] if log else None
            terms = generative_loss(x_hat, x, disc(x_hat, z_q), H_Z.mean(), tcfg.gc_lmbda, self.beta, tcfg.adversarial)
            spread = diversity(x_hat[:half], x_hat[half:])
            terms["loss"] = terms["loss"] - tcfg.diversity * spread.clamp(max=DIVERSITY_CAP)
            disc.requires_grad_(True)
        self.opt_g.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.gen_decoder.parameters(), 1.0)
        self.opt_g.step()
        with torch.no_grad():
            mse = (x_hat.float().clamp(0, 1) - x).pow(2).mean() / (x_mse - x).pow(2).mean().clamp(min=1e-10)
        self.ratio = 0.98 * self.ratio + 0.02 * mse.item()
        self.beta = steer_beta(self.beta, self.ratio, tcfg.mse_ratio, tcfg.beta_gain)
        if not log:
            return None
        psnr = (10 * torch.log10(1 / (x_hat.float().clamp(0, 1) - x).pow(2).mean())).item()
        return Figures(
            {"loss": terms["loss"].item(), "diversity": spread.item(), "H_Z": terms["H_Z"].item(),
             "C": terms["C"].mean().item(), "D": terms["D"].item(), "KL": kl_estimate(real).item(),
             "d_loss": d_loss.item(), "beta": self.beta, "mse_ratio": self.ratio, "psnr": psnr},
            {"C": f"{terms['C'].mean().item():.2f}", "D": f"{terms['D'].item():.3f}", "d_loss": f"{d_loss.item():.3f}",
             "beta": f"{self.beta:.3f}", "ratio": f"{self.ratio:.2f}", "psnr": f"{psnr:.2f}"})

    def validate(self):
        return validate_gc(self.model, self.val_crops, self.swd)

    def state(self):
        return {"config": self.model.cfg.to_dict(), "model": self.model.state_dict(),
                "discriminator": self.disc.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "beta": self.beta, "mse_ratio_ema": self.ratio, "base": self.base}


def train_gc(tcfg: TrainConfig, resume: str | None = None) -> Path:
    """`ibc train --mode gc`: a randomized decoder for the frozen bitstream of the Shannon-AE weights
    `tcfg.init` (default: the shipped block model), or the gc checkpoint `resume`."""
    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    if tcfg.adversarial not in ADVERSARIAL:
        raise CodecError(f"unknown adversarial loss {tcfg.adversarial!r} ({' or '.join(ADVERSARIAL)})")
    out, images, val_files = prepare_run(tcfg)
    state = load_checkpoint(resume) if resume else None
    if state:
        if state["config"].get("mode") != "gc":
            raise CodecError(f"{resume}: not a generative-compression checkpoint")
        model, base = build_model(state), state["base"]
    else:
        # the Shannon-AE weights whose bitstream the GC decoder reads (default: the shipped block model)
        lm = load_model(tcfg.init) if tcfg.init else default_model("block")
        if lm.arch != "block" or lm.model.cfg.mode != "shannon":
            raise CodecError(f"{lm.name}: a GC model trains on a Shannon-AE base model")
        if not 1 <= tcfg.gc_levels <= lm.model.cfg.stages:
            raise CodecError(f"--gc-levels must lie in 1..{lm.model.cfg.stages}")
        model = gc_model(lm.model, tcfg.noise_channels, tcfg.pixel_noise, tcfg.texture, tcfg.gc_levels)
        base = {"name": lm.name, "sha256": lm.sha256}
    trainer = GenerativeTrainer(tcfg, model, base, device, val_files, state)
    return run(trainer, tcfg, images, out, device, state)
