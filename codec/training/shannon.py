"""Training the Shannon-AE (eq. 35), L = H(Ẑ) + λ·C: its start, its step and its state.

Each quality level has its own λ, steered so that the level's rate lands on its target. A new model
starts as a KLT block codec with k-means codebooks, near JPEG quality rather than at noise.
"""
import math
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

from ...models import CodecModel, ModelConfig
from ...models.entropy import contexts
from ...models.losses import shannon_ae_loss
from ..dataset import CropDataset, center_crops
from ..errors import CodecError
from .checkpoint import build_model, load_checkpoint
from .config import TrainConfig
from .distributed import Distributed
from .loop import Figures, Trainer, prepare_run, resolve_device, run, say
from .schedules import LMBDA_MAX, LMBDA_MIN, steer_lmbdas


def new_model(cfg: ModelConfig, images: CropDataset, seed: int) -> CodecModel:
    """A model that starts as a KLT block codec with k-means codebooks (ENV.md: 8–10 dB ahead of random)."""
    say(f"building the start transform: KLT of {cfg.block}×{cfg.block} blocks, k-means codebooks "
        f"for {cfg.stages} stages, entropy tables")
    torch.manual_seed(seed)
    model = CodecModel(cfg)
    batch = torch.stack([images[i] for i in range(64)])
    blocks = model.encoder.unshuffle(batch).permute(0, 2, 3, 1).reshape(-1, cfg.channels)
    model.init_block_transform(blocks)
    with torch.no_grad():
        y = model.encoder(batch)
        marginal_bits = model.quantizer.kmeans_init(y)
        model.entropy.logits.copy_(-marginal_bits.unsqueeze(2).expand_as(model.entropy.logits) * math.log(2))
        for _ in range(2):  # the contexted tables, fitted to the assignments they themselves steer
            indices, _ = model.quantizer.assign(y, model.entropy.bits_table())
            model.entropy.init_from_counts(indices, contexts(indices, model.quantizer.bins, cfg.ctx_buckets))
    return model


def make_optimizer(model: CodecModel, lr: float) -> torch.optim.Optimizer:
    """Adam with per-group step scales (`scale` × the scheduled lr):
    - the 1×1 block transforms start orthonormal: 0.1× keeps Adam's noise from spoiling them;
    - the entropy logits are a categorical MLE: 10× lets them track the moving indices."""
    linear = ("encoder.analysis.", "decoder.synthesis.")
    groups = {"nets": [], "blocks": [], "entropy": []}
    for n, p in model.named_parameters():
        groups["entropy" if n.startswith("entropy.") else "blocks" if n.startswith(linear) else "nets"].append(p)
    return torch.optim.Adam([{"params": groups["nets"], "scale": 1.0}, {"params": groups["blocks"], "scale": 0.1},
                             {"params": groups["entropy"], "scale": 10.0}], lr=lr)


@torch.no_grad()
def validate(model: CodecModel, crops: torch.Tensor) -> dict:
    """Per level: bpp under the frozen integer tables and PSNR of the decoded crops."""
    model.eval()
    model.freeze()
    pixels = crops.shape[0] * crops.shape[2] * crops.shape[3]
    indices = model.encode(crops, model.cfg.stages)
    result = {}
    for L in range(1, model.cfg.stages + 1):
        x_hat = model.decode(indices[:, :L])
        mse = ((x_hat * 255).round() / 255 - crops).pow(2).mean((1, 2, 3))
        result[f"bpp{L}"] = model.frozen_bits(indices[:, :L]).sum().item() / pixels
        result[f"psnr{L}"] = (10 * torch.log10(1 / mse)).mean().item()
    model.train()
    return result


class ShannonTrainer(Trainer):
    """The model (data-parallel under torchrun), its optimizer and the rates' running means."""

    def __init__(self, tcfg: TrainConfig, model: CodecModel, targets: torch.Tensor, device: torch.device,
                 ddp: Distributed, val_files: list[Path], resumed: dict | None):
        self.tcfg, self.model, self.targets, self.ddp = tcfg, model, targets, ddp
        model.to(device).train()
        self.optimizer = make_optimizer(model, tcfg.lr)
        self.bpp_ema = targets.clone()
        if resumed:
            self.optimizer.load_state_dict(resumed["optimizer"])
            self.bpp_ema = torch.tensor(resumed["bpp_ema"])
        self.net = DDP(model, broadcast_buffers=True) if ddp.world > 1 else model
        self.val_crops = center_crops(val_files[:24], min(256, 2 * tcfg.crop)).to(device) if ddp.main else None
        self.unreachable = 0  # validations in a row with a level that cannot reach its target

    def step(self, x, lr, log):
        model, lmbdas = self.model, self.model.quantizer.lmbdas
        for g in self.optimizer.param_groups:
            g["lr"] = lr * g["scale"]
        levels = torch.randint(1, model.cfg.stages + 1, (x.shape[0],)).to(x.device)
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.device.type == "cuda"):
            out = self.net(x, levels)
            terms = shannon_ae_loss(out, x, levels, lmbdas, self.tcfg.distortion)
        self.optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        self.optimizer.step()
        model.quantizer.update_codebooks(out["indices"], out["residuals"])
        self.bpp_ema = 0.98 * self.bpp_ema + 0.02 * self.ddp.mean(terms["bpp_levels"].mean(0).float()).cpu()
        with torch.no_grad():
            lmbdas.copy_(steer_lmbdas(lmbdas.cpu(), self.bpp_ema, self.targets, self.tcfg.rate_gain).to(lmbdas.device))
        if not log:
            return None
        psnr = (10 * torch.log10(255.0 ** 2 / terms["C"].float().clamp(min=1e-6))).mean().item()
        usage = model.quantizer.usage(out["indices"])
        return Figures(
            {"loss": terms["loss"].item(), "H_Z": terms["H_Z"].item(), "psnr": psnr,
             "bpp_levels": self.bpp_ema.tolist(), "lmbdas": lmbdas.tolist(), **usage},
            {"loss": f"{terms['loss'].item():.3f}", "bpp": f"{terms['bpp'].mean().item():.3f}",
             "psnr": f"{psnr:.2f}", "lmbda": f"{lmbdas[-1].item():.4f}", "used": f"{usage['used'][0]:.2f}"})

    def validate(self):
        return validate(self.model, self.val_crops)

    def give_up(self):
        """A level whose λ sits at a bound while its rate stays >10 % off target, three validations in a
        row, cannot get there."""
        lmbdas, bpp, targets = self.model.quantizer.lmbdas.cpu(), self.bpp_ema, self.targets
        pinned = ((lmbdas <= LMBDA_MIN * 1.01) & (bpp > 1.1 * targets)) | ((lmbdas >= LMBDA_MAX * 0.99) & (bpp < 0.9 * targets))
        self.unreachable = self.unreachable + 1 if pinned.any() else 0
        if self.unreachable < 3:
            return None
        L = int(pinned.nonzero()[0]) + 1
        return (f"level {L} cannot reach {targets[L - 1]:.3f} bpp (it stays at {bpp[L - 1]:.3f} bpp with λ "
                "at its bound); choose another target")

    def state(self):
        return {"config": self.model.cfg.to_dict(), "model": self.model.state_dict(),
                "optimizer": self.optimizer.state_dict(), "bpp_ema": self.bpp_ema.tolist()}


def train_shannon(tcfg: TrainConfig, mcfg: ModelConfig = ModelConfig(), resume: str | None = None) -> Path:
    """`ibc train`: a new model of architecture `mcfg` (or `tcfg.init`, or the checkpoint `resume`)."""
    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    ddp = Distributed.from_environment(device)
    device = ddp.local(device)
    targets = torch.tensor(tcfg.target_bpp, dtype=torch.float32)
    if len(targets) == 0 or (targets <= 0).any() or (targets[1:] <= targets[:-1]).any():
        raise CodecError("--target-bpp needs positive values, increasing from level to level")
    out, images, val_files = prepare_run(tcfg)
    state = load_checkpoint(resume) if resume else None
    if state or tcfg.init:
        model = build_model(state or load_checkpoint(tcfg.init))
    else:
        model = new_model(mcfg, images, tcfg.seed)
    if len(targets) != model.cfg.stages:
        raise CodecError(f"give one --target-bpp per level: the model has {model.cfg.stages} levels")
    trainer = ShannonTrainer(tcfg, model, targets, device, ddp, val_files, state)
    return run(trainer, tcfg, images, out, device, state, ddp)
