"""The paper's Lagrangian terms, named as in eq. 35/36: L = H(Ẑ) + λ·C (+ β·D)."""
import torch
import torch.nn.functional as F


def rate_H(bits: torch.Tensor, num_pixels: int) -> torch.Tensor:
    """H(Ẑ) in bits per pixel: bits (B,S) per stage → (B,) over all stages.

    With a deterministic encoder and a quantizer, I(X;Ẑ) = H(Ẑ). Its gradient reaches only the
    entropy model (indices are discrete), so every stage is counted: each table learns from every sample.
    """
    return bits.sum(1) / num_pixels


def bpp_at_levels(bits: torch.Tensor, num_pixels: int) -> torch.Tensor:
    """(B,S) bits per stage → (B,S) bits per pixel when levels 1..S are sent."""
    return bits.detach().cumsum(1) / num_pixels


def distortion_C(x_hat: torch.Tensor, x: torch.Tensor, kind: str = "mse") -> torch.Tensor:
    """Term C, -log p(x|ẑ) up to constants, per image (B,): Gaussian → MSE, Laplacian → L1.

    Scaled to 8-bit units (×255² or ×255) so λ matches the values used across the field.
    """
    if kind == "mse":
        return F.mse_loss(x_hat, x, reduction="none").mean((1, 2, 3)) * 255.0 ** 2
    if kind == "l1":
        return F.l1_loss(x_hat, x, reduction="none").mean((1, 2, 3)) * 255.0
    raise ValueError(f"unknown distortion {kind!r}")


def shannon_ae_loss(out: dict, x: torch.Tensor, levels: torch.Tensor, lmbdas: torch.Tensor,
                    distortion: str = "mse", commitment: float = 0.1) -> dict:
    """Eq. 35 with quantizer dropout: sample b is reconstructed from its levels[b] stages and its
    distortion is weighted by that level's λ. A small commitment term keeps y near its codewords."""
    num_pixels = x.shape[2] * x.shape[3]
    H_Z = rate_H(out["bits"], num_pixels).mean()
    C = distortion_C(out["x_hat"], x, distortion)
    lmbda = lmbdas[levels - 1]
    commit = F.mse_loss(out["y"], out["z_q"].detach(), reduction="none").mean((1, 2, 3)) * 255.0 ** 2
    loss = H_Z + (lmbda * (C + commitment * commit)).mean()
    bpp = bpp_at_levels(out["bits"], num_pixels)
    return {"loss": loss, "H_Z": H_Z, "C": C.detach(),
            "bpp": bpp.gather(1, (levels - 1).unsqueeze(1)).squeeze(1), "bpp_levels": bpp}


ADVERSARIAL = ("ns", "hinge")


def discriminator_loss(real: list[torch.Tensor], fake: list[torch.Tensor], kind: str = "ns") -> torch.Tensor:
    """The discriminator's objective over its scales. "ns": logistic (the density-ratio / f-divergence
    estimator whose logit tends to log p_D/p_θ); "hinge": the margin form."""
    if kind == "ns":
        terms = [F.softplus(-r).mean() + F.softplus(f).mean() for r, f in zip(real, fake)]
    elif kind == "hinge":
        terms = [F.relu(1 - r).mean() + F.relu(1 + f).mean() for r, f in zip(real, fake)]
    else:
        raise ValueError(f"unknown adversarial loss {kind!r}")
    return sum(terms) / len(terms)


def perception_D(fake: list[torch.Tensor], kind: str = "ns") -> torch.Tensor:
    """Term D as the decoder minimises it: the non-saturating -log σ(d(x̂)) or the hinge -d(x̂)."""
    if kind == "ns":
        terms = [F.softplus(-f).mean() for f in fake]
    elif kind == "hinge":
        terms = [-f.mean() for f in fake]
    else:
        raise ValueError(f"unknown adversarial loss {kind!r}")
    return sum(terms) / len(terms)


def kl_estimate(real: list[torch.Tensor]) -> torch.Tensor:
    """KL(p_D‖p_θ) ≈ E_{x∼p_D}[d(x)], the mean logit on real images (exact for the optimal logistic d);
    logged to watch term D, not optimised."""
    return sum(r.mean() for r in real) / len(real)


def generative_loss(x_hat: torch.Tensor, x: torch.Tensor, fake: list[torch.Tensor], H_Z: torch.Tensor,
                    lmbda: float, beta: float, kind: str = "ns") -> dict:
    """Eq. 36, L = H(Ẑ) + λ·C + β·D, with C the Laplacian (L1) likelihood of eq. 19. With the encoder,
    quantizer and entropy model frozen, H(Ẑ) is a constant: reported, and its gradient is zero."""
    C = distortion_C(x_hat, x, "l1")
    D = perception_D(fake, kind)
    loss = H_Z.detach() + lmbda * C.mean() + beta * D
    return {"loss": loss, "H_Z": H_Z.detach(), "C": C.detach(), "D": D.detach()}
