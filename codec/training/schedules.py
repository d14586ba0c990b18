"""Schedules and rate control as pure functions of the step and the measured rates, so a resumed run
needs no scheduler state."""
import torch

LMBDA_MIN, LMBDA_MAX = 1e-5, 1.0


def lr_at(step: int, cfg) -> float:
    """Linear warm-up then constant."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup)


def steer_lmbdas(lmbdas: torch.Tensor, bpp: torch.Tensor, targets: torch.Tensor, gain: float) -> torch.Tensor:
    """Rate control: move each level's log λ against its log rate error; keep λ increasing with the level.

    Too many bits → smaller λ (distortion weighs less) → fewer bits, and the other way round."""
    steered = lmbdas * torch.exp(-gain * torch.log(bpp / targets))
    return torch.cummax(steered.clamp(LMBDA_MIN, LMBDA_MAX), 0).values
