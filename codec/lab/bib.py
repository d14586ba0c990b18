"""One bounded-information-bottleneck auto-encoder (the paper's Figure 3) and its Lagrangian, read from a
preset (codec.lab.presets):

    x ─► encoder ─► z  (gauss: μ + σ·ε; deterministic: f(x); vq: Q(f(x)); none: z ~ p(z), no encoder)
    [z, u] ─► decoder ─► x̂                      (u ~ N(0, I): the U of eq. 36, for presets with noise)
    A = term_a(μ, log σ²)   B = term_b_mmd(z, z_p) or term_b_ratio(r_z(z))   C = term_c(x, x̂)
    D = term_d(r_x(x̃)) (or −E r_x(x̃), Wasserstein)   H = rate_bits(P(indices))
    L = Σ_t weights[t]·t                                        (models.losses names the terms)

`forward` runs the networks once and keeps every intermediate (`Pass`), `terms` computes the terms the
preset uses from them, `lagrangian` weighs them: a test recomputes each term from the same `Pass`.
The discriminators are trained apart (`discriminator_losses`), as the estimators of B and D.
"""
from dataclasses import dataclass

import torch
from torch import nn

from ...models.lab import Decoder, Encoder, ImageDiscriminator, LatentDiscriminator, VectorQuantizer
from ...models.losses import (kl_of_ratio, r1_penalty, rate_bits, ratio_loss, term_a, term_b_mmd, term_b_ratio,
                              term_c, term_d, term_d_wasserstein)
from .presets import Preset

GP_WEIGHT = 10.0  # the Wasserstein critic's gradient penalty (Gulrajani et al. 2017)


@dataclass
class Pass:
    """One forward pass: every intermediate the terms are made of (None where the preset has no such part)."""
    x: torch.Tensor
    z: torch.Tensor                        # what the decoder gets (before u): z, or ẑ (straight-through)
    x_hat: torch.Tensor                    # g([z, u])
    mu: torch.Tensor | None = None
    logvar: torch.Tensor | None = None
    y: torch.Tensor | None = None          # the VQ's input f(x)
    indices: torch.Tensor | None = None
    likelihoods: torch.Tensor | None = None
    commitment: torch.Tensor | None = None
    u: torch.Tensor | None = None
    z_prior: torch.Tensor | None = None    # samples of p(z) (for B by MMD, and the samples' side of D)
    u_sample: torch.Tensor | None = None   # u' (eq. 36's U for the samples)
    x_sample: torch.Tensor | None = None   # g([z_prior, u']): the model's samples
    fake: torch.Tensor | None = None       # what D's generator side sees


class BIBAE(nn.Module):
    """The networks a preset needs: encoder, decoder, VQ, and the estimators of B (latent discriminator) and
    D (image discriminator). `model_parameters` are what L trains; the discriminators train on their own."""

    def __init__(self, preset: Preset, latent: int = 32, width: int = 32):
        super().__init__()
        self.preset, self.latent, self.width = preset, latent, width
        p = preset
        self.encoder = None if p.encoder == "none" else Encoder(latent, width, gaussian=p.encoder == "gauss")
        self.vq = VectorQuantizer(latent, latent // p.vq_dims, p.vq_size, p.ecvq) if p.encoder == "vq" else None
        self.decoder = Decoder(latent + p.noise, width, p.decoder_norm)
        self.disc_x = ImageDiscriminator(width) if p.uses("D") else None
        self.disc_z = LatentDiscriminator(latent) if p.uses("B") and p.b_estimator == "ratio" else None

    def model_parameters(self) -> list:
        return [q for m in (self.encoder, self.vq, self.decoder) if m is not None for q in m.parameters()]

    def _noise(self, n: int, like: torch.Tensor) -> torch.Tensor | None:
        return torch.randn(n, self.preset.noise, device=like.device) if self.preset.noise else None

    def decode(self, z: torch.Tensor, u: torch.Tensor | None = None) -> torch.Tensor:
        return self.decoder(z if u is None else torch.cat([z, u], 1))

    def prior_sample(self, n: int, device=None) -> torch.Tensor:
        """z ~ p(z): N(0, I), or for the VQ the codewords of indices drawn from its prior."""
        if self.vq is not None:
            return self.vq.codewords(self.vq.sample(n).to(device or "cpu"))
        return torch.randn(n, self.latent, device=device)

    def sample(self, n: int, device=None) -> torch.Tensor:
        """n decoded samples of the model: g([z, u]), z ~ p(z)."""
        z = self.prior_sample(n, device)
        return self.decode(z, self._noise(n, z))

    def encode(self, x: torch.Tensor, sample: bool = True) -> dict:
        """The encoder's side alone: mu/logvar/z (gauss), z (deterministic), y/z/indices/likelihoods (vq)."""
        p = self.preset
        if p.encoder == "gauss":
            mu, logvar = self.encoder(x)
            z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu) if sample else mu
            return {"mu": mu, "logvar": logvar, "z": z}
        if p.encoder == "deterministic":
            return {"z": self.encoder(x)}
        if p.encoder == "vq":
            y = self.encoder(x)
            z, indices, likelihoods, commitment = self.vq(y)
            return {"y": y, "z": z, "indices": indices, "likelihoods": likelihoods, "commitment": commitment}
        return {"z": torch.randn(len(x), self.latent, device=x.device)}  # none: z ~ p(z), independent of x

    def forward(self, x: torch.Tensor) -> Pass:
        p, n = self.preset, len(x)
        e = self.encode(x)
        u = self._noise(n, x)
        out = Pass(x=x, x_hat=self.decode(e["z"], u), u=u, **e)
        if p.uses("B") or (p.uses("D") and p.d_fake in ("samples", "both")):
            out.z_prior = torch.randn(n, self.latent, device=x.device) if self.vq is None else self.prior_sample(n, x.device)
        if p.uses("D"):
            if p.d_fake == "reconstructions":
                out.fake = out.x_hat
            else:
                if p.encoder == "none":  # the generator's output is its sample
                    out.z_prior, out.u_sample, out.x_sample = out.z, out.u, out.x_hat
                else:
                    out.u_sample = self._noise(n, x)
                    out.x_sample = self.decode(out.z_prior, out.u_sample)
                out.fake = out.x_sample if p.d_fake == "samples" else torch.cat([out.x_hat, out.x_sample])
        return out

    def terms(self, s: Pass) -> dict:
        """The preset's terms from one pass, as the paper names them (A, B in nats; H in bits)."""
        p, t = self.preset, {}
        if p.uses("A"):
            t["A"] = term_a(s.mu, s.logvar)
        if p.uses("B"):
            t["B"] = term_b_mmd(s.z, s.z_prior) if p.b_estimator == "mmd" else term_b_ratio(self.disc_z(s.z))
        if p.uses("C"):
            t["C"] = term_c(s.x, s.x_hat, p.likelihood, p.lmbda)
        if p.uses("D"):
            r = self.disc_x(s.fake)
            t["D"] = term_d(r) if p.d_form == "ratio" else -r.mean()  # the generator's side of E_D[T] − E_θ[T]
        if p.uses("H"):
            t["H"] = rate_bits(s.likelihoods)
        return t

    def lagrangian(self, s: Pass) -> tuple[torch.Tensor, dict]:
        """(L = Σ weights[t]·t, the terms)."""
        t = self.terms(s)
        return sum(self.preset.weights[k] * v for k, v in t.items()), t

    def discriminator_losses(self, s: Pass, r1: float = 1.0) -> dict:
        """The estimators' own losses on a pass (detached from the model): the image discriminator's (real x
        against the fake side; + r1·γ/2·R1, r1 = 0 for none; or the critic's negated Wasserstein form + GP)
        and the latent
        discriminator's (q(z) against p(z)); with their plug-in estimates of D and B."""
        p, out = self.preset, {}
        if self.disc_x is not None:
            fake = s.fake.detach()
            real = s.x.detach().requires_grad_(bool(r1) and p.d_form == "ratio")
            r_real, r_fake = self.disc_x(real), self.disc_x(fake)
            if p.d_form == "ratio":
                loss = ratio_loss(r_real, r_fake)
                if r1:
                    loss = loss + r1 * p.r1_gamma / 2 * r1_penalty(r_real, real)
                out["D_estimate"] = kl_of_ratio(r_real).detach()
            else:
                w = term_d_wasserstein(r_real, r_fake)
                loss = -w + GP_WEIGHT * self._gradient_penalty(s.x.detach(), fake[:len(s.x)])
                out["D_estimate"] = w.detach()
            out["disc_x"] = loss
        if self.disc_z is not None:
            r_q, r_p = self.disc_z(s.z.detach()), self.disc_z(s.z_prior.detach())
            out["disc_z"] = ratio_loss(r_q, r_p)
            out["B_estimate"] = kl_of_ratio(r_q).detach()
        return out

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
        a = torch.rand(len(real), 1, 1, 1)
        mix = (a * real + (1 - a) * fake).requires_grad_(True)
        (g,) = torch.autograd.grad(self.disc_x(mix).sum(), mix, create_graph=True)
        return (g.reshape(len(g), -1).norm(dim=1) - 1).pow(2).mean()

    def config(self) -> dict:
        return {"preset": self.preset.name, "latent": self.latent, "width": self.width}
