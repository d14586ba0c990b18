"""Training Shannon-AE v2 (models.wavelet_codec), L = H(Ẑ) + λ·C: its step and its state.

It starts as the closed-form codec (CDF 9/7 lifting, ECVQ codebooks and integer priors designed on
training images, codec.training.wavelet_start) and learns the lifting corrections, which start at zero.

    crops x (B,3,H,W), a step per crop drawn log-uniformly over STEP_RANGE (one model for every rate)
      ─ rate_distortion ─► H(Ẑ) (soft rate estimate, bpp), x̂
      L = H(Ẑ) + λ·C,  C = 8-bit MSE per crop,  λ = 3 / (λ_enc · step²)
    (λ_enc, in step² per bit, is the trade-off the encoder's RD choice makes: the loss trains the
    transform for the coder it feeds.)

The rate is the soft ECVQ assignment at TEMPERATURE with escapes costed, and x̂ is synthesised from
u + U(−½, ½): measured from the closed-form start, straight-through reconstruction with the hard
assignment's near-zero rate gradient raised the real rate by 40 % in 500 steps (the transform's gain
grows: distortion falls under straight-through, rate does not see it); the noise proxy does not.

At every validation the codebooks and integer priors are re-fitted (warm design) on a fixed set of
training images, so the tables follow the transform; then the validation crops (BSDS500 val, never
Kodak) are coded into real payloads by the real coder at VAL_STEPS and the PSNR at VAL_BPP is read
off the curve (log-rate interpolation).
"""
import math
import time
from pathlib import Path

import numpy as np
import torch

from ...models.losses import distortion_C
from ...models.wavelet_codec import WaveletCodec
from ...models.wavelet_design import design
from ...models.wavelet_rate import rate_distortion
from ..dataset import load_rgb
from ..errors import CodecError
from ..subband_tiles import decode_image, encode_image
from ..weights_torch import WAVELET_OPTIONS, wavelet_config
from .config import TrainConfig
from .loop import Figures, Trainer, prepare_run, resolve_device, run, say
from .wavelet_start import STEPS, design_images

STEP_RANGE = (20.0, 160.0)       # quantiser steps of training: about 1.5 … 0.1 bpp on photographs
TEMPERATURE = 1.0                # of the soft assignment, in step²: a rate gradient between decision boundaries
HIDDEN = 8                       # width of the lifting corrections: 8×128×128 crops in ~0.7 s on one thread
VAL_STEPS = (128, 64, 40, 24)    # validation steps: their rates bracket VAL_BPP
VAL_BPP = (0.25, 0.5, 1.0)
VAL_IMAGES, VAL_SIZE = 12, 256   # validation: centre crops of the first held-out images
DESIGN_IMAGES = 12               # the fixed training images of every re-fit
DESIGN_STEPS = (160, 80, 40, 20)
HEADER_BYTES = 40                # allowance for a file's container header on top of its tile payloads


def centre_crops(files: list[Path], size: int) -> list[np.ndarray]:
    """(H,W,3) uint8 centre crops of at most size×size, sides multiples of 64."""
    out = []
    for p in files:
        x = load_rgb(p).numpy().transpose(1, 2, 0)
        H, W = min(size, x.shape[0] // 64 * 64), min(size, x.shape[1] // 64 * 64)
        t, l = (x.shape[0] - H) // 2, (x.shape[1] - W) // 2
        out.append(np.ascontiguousarray(x[t:t + H, l:l + W]))
    return out


def load_start(path: str, hidden: int) -> WaveletCodec:
    """A WaveletCodec from a trainer checkpoint, exported weights or a design file ({"mode", "model"});
    corrections it lacks start at zero (exactly the transform it had)."""
    try:
        blob = torch.load(path, map_location="cpu", weights_only=False)
        cfg = blob.get("config") or {"mode": blob.get("mode", "vq")}
        if cfg.get("arch", "wavelet") != "wavelet":
            raise ValueError("not a wavelet model")
        state = blob.get("model") or blob["state_dict"]
    except Exception as e:  # torch.load raises many types for a damaged or foreign file
        raise CodecError(f"{path}: not a wavelet model ({str(e).splitlines()[0]})") from None
    options = {k: cfg[k] for k in WAVELET_OPTIONS if k in cfg}
    model = WaveletCodec(**{**options, "hidden": options.get("hidden") or hidden})
    missing, unexpected = model.load_state_dict(state, strict=False)
    if unexpected or any(not k.startswith(("transform.wavelet.corrections.", "stat_")) for k in missing):
        raise CodecError(f"{path}: does not match the wavelet architecture")
    return model


@torch.no_grad()
def validate(model: WaveletCodec, images: list[np.ndarray], steps=VAL_STEPS, targets=VAL_BPP) -> dict:
    """Real payloads through the real coder at each step: mean bpp (payloads + header) and PSNR; then
    the PSNR at each target bpp, interpolated in log-rate (absent when the steps do not bracket it)."""
    model.eval()
    result, rates, psnrs = {}, [], []
    for s in steps:
        bpp, psnr = [], []
        for rgb in images:
            H, W, _ = rgb.shape
            payloads = encode_image(model, model.encode(rgb, s), H, W)
            x_hat = model.decode(decode_image(model, payloads, H, W), H, W, s)
            mse = np.mean((x_hat.astype(np.float64) - rgb) ** 2)
            bpp.append((sum(map(len, payloads)) + HEADER_BYTES) * 8 / (H * W))
            psnr.append(10 * math.log10(255 ** 2 / max(mse, 1e-12)))
        result[f"bpp_s{s}"], result[f"psnr_s{s}"] = float(np.mean(bpp)), float(np.mean(psnr))
        rates.append(result[f"bpp_s{s}"])
        psnrs.append(result[f"psnr_s{s}"])
    order = np.argsort(rates)
    log_rates, psnrs = np.log(np.array(rates)[order]), np.array(psnrs)[order]
    for b in targets:
        if log_rates[0] <= math.log(b) <= log_rates[-1]:
            result[f"psnr@{b}"] = float(np.interp(math.log(b), log_rates, psnrs))
    model.train()
    return result


def make_optimizer(model: WaveletCodec, lr: float) -> torch.optim.Adam:
    """Adam with per-group step scales (`scale` × the scheduled lr): the corrections at 1; the colour
    matrix (orthonormal at the start) and the codebooks (re-fitted by k-means at every validation) at 0.1."""
    corrections = [p for n, p in model.named_parameters() if n.startswith("transform.wavelet.corrections.")]
    slow = [model.transform.color.weight, model.vq.codebooks]
    return torch.optim.Adam([{"params": corrections, "scale": 1.0}, {"params": slow, "scale": 0.1}], lr=lr)


class WaveletTrainer(Trainer):
    """The model, its optimizer, the fixed design images and the validation crops."""
    desc = "train v2"
    validate_at_start = True  # the closed form's figures are the first point of the learning curve

    def __init__(self, tcfg: TrainConfig, model: WaveletCodec, design_set: list, val_set: list,
                 device: torch.device, resumed: dict | None):
        self.tcfg, self.model, self.design_set, self.val_set = tcfg, model, design_set, val_set
        model._coding = None  # the coder's float64 copy of the transform: rebuilt when coding, never trained
        model.to(device).train()
        self.optimizer = make_optimizer(model, tcfg.lr)
        if resumed:
            self.optimizer.load_state_dict(resumed["optimizer"])

    def step(self, x, lr, log):
        model = self.model
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g["scale"]
        lo, hi = math.log(STEP_RANGE[0]), math.log(STEP_RANGE[1])
        step = torch.exp(lo + (hi - lo) * torch.rand(x.shape[0], 1, 1, 1)).to(x.device)
        out = rate_distortion(model, x, step, temperature=TEMPERATURE, escapes=True, noise=True)
        H_Z = out["bpp"]                                   # soft estimate of H(Ẑ), bits per pixel
        C = distortion_C(out["x_hat"], x)                  # (B,) 8-bit MSE
        lmbda = 3 / (model.lmbda * step.flatten() ** 2)    # (B,) λ of each crop's step
        loss = H_Z + (lmbda * C).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.optimizer.step()
        if not log:
            return None
        psnr = (10 * torch.log10(255.0 ** 2 / C.detach().clamp(min=1e-6))).mean().item()
        bpp = out["bits"] / (x.shape[0] * x.shape[2] * x.shape[3])
        return Figures({"loss": loss.item(), "H_Z": H_Z.item(), "bpp": bpp, "C": C.mean().item(), "psnr": psnr},
                       {"loss": f"{loss.item():.3f}", "bpp": f"{bpp:.3f}", "psnr": f"{psnr:.2f}"})

    def refit(self) -> float:
        """Warm design of codebooks and priors on the fixed training images; returns its seconds."""
        t0 = time.time()
        self.model._coding = None  # the coder's float64 copy of the transform follows the trained one
        design(self.model, self.design_set, DESIGN_STEPS, rounds=1, warm=True)
        return time.time() - t0

    def validate(self):
        device = self.model.vq.codebooks.device
        self.model.cpu()  # the coder runs in numpy
        seconds = self.refit()
        figures = validate(self.model, self.val_set)
        self.model.to(device)
        return {**figures, "refit_seconds": seconds}

    def state(self):
        self.model._coding = None  # rebuilt when next needed; no part of the model's state
        return {"config": wavelet_config(self.model), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict()}


def train_wavelet(tcfg: TrainConfig, resume: str | None = None, hidden: int = HIDDEN) -> Path:
    """`ibc train --arch wavelet`: from `resume`, else `tcfg.init`, else a new closed-form start."""
    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    out, images, val_files = prepare_run(tcfg)
    train_files = images.files
    state = torch.load(resume, map_location="cpu", weights_only=False) if resume else None
    torch.manual_seed(tcfg.seed)  # the corrections' first layers and the crops (a resumed run restores its RNG)
    if resume:
        model = load_start(resume, hidden)
    elif tcfg.init:
        say(f"starting from {tcfg.init}")
        model = load_start(tcfg.init, hidden)
    else:
        from .wavelet_start import new_wavelet_model
        say(f"designing the closed-form start on training images (steps {list(STEPS)}; minutes)")
        model = new_wavelet_model(train_files, hidden=hidden)
    design_set = design_images(train_files, DESIGN_IMAGES, tcfg.seed)
    val_set = centre_crops(val_files[:VAL_IMAGES], VAL_SIZE)
    trainer = WaveletTrainer(tcfg, model, design_set, val_set, device, state)
    return run(trainer, tcfg, images, out, device, state)
