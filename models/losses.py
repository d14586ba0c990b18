"""The paper's terms, under its names: every loss in ibc (the codec's training and the lab) is written with
these, so the code reads like eq. 26–28, 35 and 36.

    L = A − B − β·C + β·D                      (eq. 26: I(X;Z) − β·I^{U_L}(Z;X))
      A = E_x[KL(q(z|x) ‖ p(z))]               term_a        (an upper bound on I(X;Z) by itself)
      B = KL(q(z) ‖ p(z))                      term_b_mmd, term_b_ratio
      C = E[log p_θ(x|z)]                      term_c        (a log-likelihood: −C is the distortion)
      D = KL(p_D(x) ‖ p_θ(x))                  term_d        (estimated by a discriminator)
    Shannon-AE (35):             H(Ẑ) − β·C    rate_bits is H(Ẑ)
    generative compression (36): H(Ẑ) − β·C + β·D, decoder fed ẑ + u

Conventions: every term is per sample (summed over the sample's dimensions) and averaged over the batch;
A and B in nats, H(Ẑ) in bits. C drops the likelihood's normalising constant, which does not depend on θ.
The divergences B and D are estimated as the paper's remarks say: by density-ratio estimation (a
discriminator whose logit r(·) ≈ log of the ratio, trained with `ratio_loss`) or by MMD for B, and, for the
lab, in the Wasserstein form. Where a generator cannot sample the data side of D, its side of the estimate
is the non-saturating form E_{p_θ}[softplus(−r)] (Goodfellow et al. 2014), which has the same fixed point;
`kl_of_ratio` reports the plug-in value E_{p_D}[r] of the divergence itself.
"""
import math

import torch
import torch.nn.functional as F


def _per_sample(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dimension but the first (the sample), mean over samples."""
    return t.reshape(t.shape[0], -1).sum(1).mean()


def term_a(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """(A) = E_x[KL(N(μ, σ²) ‖ N(0, I))] in nats, the closed form for a Gaussian encoder and prior:
    ½ Σ (μ² + σ² − 1 − log σ²)."""
    return _per_sample(0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar))


def _imq(a: torch.Tensor, b: torch.Tensor, scale: float) -> torch.Tensor:
    return scale / (scale + torch.cdist(a, b).pow(2))


def term_b_mmd(z: torch.Tensor, z_prior: torch.Tensor, scales=(0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)) -> torch.Tensor:
    """(B) by MMD² between the aggregate posterior's samples z (n, d) and the prior's z_prior (m, d), the
    unbiased estimate with inverse multiquadratic kernels C/(C + ‖a − b‖²), C = 2·d·scale (as WAE uses).
    MMD is a divergence of its own, not the KL: about 0 when q(z) = p(z), positive otherwise."""
    n, m, d = z.shape[0], z_prior.shape[0], z.shape[1]
    total = z.new_zeros(())
    for s in scales:
        c = 2.0 * d * s
        k_zz, k_pp, k_zp = _imq(z, z, c), _imq(z_prior, z_prior, c), _imq(z, z_prior, c)
        total = total + ((k_zz.sum() - k_zz.diagonal().sum()) / (n * (n - 1))
                         + (k_pp.sum() - k_pp.diagonal().sum()) / (m * (m - 1)) - 2 * k_zp.mean())
    return total


def term_b_ratio(logit_q: torch.Tensor) -> torch.Tensor:
    """(B) by density ratio: a latent discriminator trained (`ratio_loss`) to tell samples of q(z) (as the
    first argument) from samples of p(z) has logit r(z) ≈ log q(z)/p(z); the encoder's side of the estimate
    is the non-saturating E_q[softplus(−(−r))] = E_q[softplus(r)]: it falls as q(z) looks like p(z)."""
    return F.softplus(logit_q).mean()


def term_c(x: torch.Tensor, x_hat: torch.Tensor, likelihood: str = "laplace", lmbda: float = 1.0) -> torch.Tensor:
    """(C) = E[log p_θ(x|z)] without its constant: −λ‖x − x̂‖₁ for a Laplacian (the paper's choice,
    p ∝ exp(−λ‖x − g(z)‖₁)), −λ‖x − x̂‖² for a Gaussian (λ = 1/(2σ²)). A log-likelihood, so a loss takes −β·C."""
    if likelihood == "laplace":
        return -lmbda * _per_sample((x - x_hat).abs())
    if likelihood == "gauss":
        return -lmbda * _per_sample((x - x_hat).pow(2))
    raise ValueError(f"unknown likelihood {likelihood!r} (laplace or gauss)")


def ratio_loss(logit_first: torch.Tensor, logit_second: torch.Tensor) -> torch.Tensor:
    """The density-ratio estimator's loss (logistic regression, first = label 1, second = label 0): at its
    optimum the logit is log p_first/p_second. For D: first = data p_D, second = decoded p_θ."""
    return F.softplus(-logit_first).mean() + F.softplus(logit_second).mean()


def term_d(logit_fake: torch.Tensor) -> torch.Tensor:
    """(D) = KL(p_D ‖ p_θ), the generator's side of the density-ratio estimate: E_{p_θ}[softplus(−r(x̃))]
    with r ≈ log p_D/p_θ the discriminator's logit on decoded images x̃; it falls as p_θ nears p_D."""
    return F.softplus(-logit_fake).mean()


def kl_of_ratio(logit_real: torch.Tensor) -> torch.Tensor:
    """The plug-in estimate of a KL from a trained ratio estimator: E_first[r] (for D, over data images)."""
    return logit_real.mean()


def term_d_wasserstein(critic_real: torch.Tensor, critic_fake: torch.Tensor) -> torch.Tensor:
    """(D) in the Wasserstein form (Arjovsky et al. 2017): E_{p_D}[T] − E_{p_θ}[T] for a 1-Lipschitz critic T;
    the critic maximises it, the generator minimises it."""
    return critic_real.mean() - critic_fake.mean()


def r1_penalty(logit_real: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E‖∇_x r(x)‖² on data; `real` must require grad. With R2 (the same on
    decoded images) it keeps a density-ratio discriminator from sharpening without bound."""
    (grad,) = torch.autograd.grad(logit_real.sum(), real, create_graph=True)
    return grad.pow(2).reshape(grad.shape[0], -1).sum(1).mean()


def rate_bits(likelihoods: torch.Tensor) -> torch.Tensor:
    """H(Ẑ) per sample in bits: −Σ log2 P(ẑ) of the quantised latents under the entropy model."""
    return _per_sample(-torch.log(likelihoods.clamp_min(1e-12))) / math.log(2)
