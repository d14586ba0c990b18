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
