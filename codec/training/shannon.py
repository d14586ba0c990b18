"""The training loop: one function that reads top to bottom, checkpoints that resume exactly."""
import hashlib
import json
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from ..models import CodecModel, ModelConfig
from ..models.entropy import contexts
from ..models.losses import shannon_ae_loss

from .dataset import CropDataset, center_crops, list_images, split_train_val
from .errors import CodecError


@dataclass
class TrainConfig:
    data: str                                   # folder of training photographs (never Kodak)
    out: str                                    # run folder: checkpoint.pt, log.jsonl
    target_bpp: list = field(default_factory=lambda: [0.12, 0.25, 0.45, 0.7, 1.0])  # one per level
    val: str | None = None                      # validation folder; default: held out from `data`
    steps: int = 10 ** 9                        # stop after this many steps …
    hours: float | None = None                  # … or after this much wall time
    batch: int = 8
    crop: int = 128
    lr: float = 1e-3
    warmup: int = 200                           # linear lr warm-up steps
    distortion: str = "mse"                     # term C: "mse" (Gaussian) or "l1" (Laplacian)
    rate_gain: float = 0.005                    # rate control: log λ moves by gain × log(bpp/target)
    checkpoint_minutes: float = 5.0
    val_every: int = 500
    log_every: int = 10
    device: str = "auto"
    threads: int = 1
    seed: int = 0
    init: str | None = None                     # warm start from a checkpoint or weights file
    arch: str = "ibc"                           # "ibc", or a CompressAI peer (codec.peer.ARCHS)
    mode: str = "shannon"                       # "shannon" (eq. 35) or "gc" (eq. 36, on a frozen Shannon-AE base)
    # generative compression only (codec/train_gc.py):
    gc_levels: int = 3                          # quality levels the randomized decoder learns (1..gc_levels)
    gc_lmbda: float = 1.0                       # λ, the weight of term C (L1 in 8-bit units)
    beta: float = 1.0                           # β, the weight of term D, at the start …
    mse_ratio: float = 1.7                      # … then steered so that MSE(GC) ≈ mse_ratio × MSE(Shannon-AE)
    beta_gain: float = 0.01                     # log β moves by gain × log(ratio/target) per step; 0: β fixed
    diversity: float = 0.5                      # weight of the reward for two noise draws differing (capped)
    d_lr_scale: float = 1.0                     # discriminator lr = this × lr (>1: two time-scale rule, Heusel et al. 2017)
    adversarial: str = "ns"                     # term D's form: "ns" (non-saturating, f-divergence) or "hinge"
    noise_channels: int = 8                     # decoder noise channels at latent resolution
    pixel_noise: int = 4                        # decoder noise channels at full resolution
    texture: int = 32                           # width of the randomized decoder's texture branch


def say(message: str) -> None:
    """Set-up takes a minute or so before the first step: say what it is doing (main process only)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"ibc train: {message}", file=sys.stderr, flush=True)


def prepare_run(tcfg: TrainConfig) -> tuple[Path, CropDataset, list[Path]]:
    """The run folder (created), the training crops and the validation files (never Kodak)."""
    out = Path(tcfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = list_images(Path(tcfg.data))
    train_files, val_files = (files, list_images(Path(tcfg.val))) if tcfg.val else split_train_val(files)
    held = f"from {tcfg.val}" if tcfg.val else f"held out of {tcfg.data}"
    names = ", ".join(p.name for p in val_files[:5]) + (", …" if len(val_files) > 5 else "")
    say(f"validation: {len(val_files)} image(s) {held}: {names}")
    say(f"reading {len(train_files)} training image(s) from {tcfg.data} into memory")
    return out, CropDataset(train_files, tcfg.crop), val_files


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up then constant; a pure function of the step so resume needs no scheduler state."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup)


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


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CodecError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


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


def save_checkpoint(path: Path, model, optimizer, step, tcfg, extra) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"config": model.cfg.to_dict(), "model": model.state_dict(), "optimizer": optimizer.state_dict(),
                "step": step, "train_config": asdict(tcfg), "rng": torch.get_rng_state(), **extra}, tmp)
    os.replace(tmp, path)


LMBDA_MIN, LMBDA_MAX = 1e-5, 1.0


def steer_lmbdas(lmbdas: torch.Tensor, bpp: torch.Tensor, targets: torch.Tensor, gain: float) -> torch.Tensor:
    """Rate control: move each level's log λ against its log rate error; keep λ increasing with the level.

    Too many bits → smaller λ (distortion weighs less) → fewer bits, and the other way round."""
    steered = lmbdas * torch.exp(-gain * torch.log(bpp / targets))
    return torch.cummax(steered.clamp(LMBDA_MIN, LMBDA_MAX), 0).values


class Distributed:
    """Rank and world size under torchrun (DDP: NCCL on GPUs, gloo on CPUs); a no-op when run alone."""

    def __init__(self, device: torch.device):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        if self.world > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if device.type == "cuda" else "gloo")

    @property
    def main(self) -> bool:
        return self.rank == 0

    def mean(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            t = t.clone()
            dist.all_reduce(t)
            t /= self.world
        return t

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any: ranks must stop at the same step."""
        return bool(self.mean(torch.tensor([float(flag)])).item() > 0) if self.world > 1 else flag

    def state_digests(self, model) -> list[dict]:
        """Each rank's digest of every parameter and buffer (codebooks, λ, …), by name: identical when
        the replicas are in step."""
        state = model.state_dict()
        local = torch.tensor([int.from_bytes(hashlib.sha256(v.detach().cpu().numpy().tobytes()).digest()[:7], "little")
                              for v in state.values()], device=next(model.parameters()).device)
        gathered = [local]
        if self.world > 1:
            gathered = [torch.zeros_like(local) for _ in range(self.world)]
            dist.all_gather(gathered, local)
        return [dict(zip(state, g.tolist())) for g in gathered]


def load_checkpoint(path: str) -> dict:
    """A training checkpoint, or exported weights (for --init)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        ModelConfig.from_dict(state["config"])
        if "model" not in state and "state_dict" not in state:
            raise KeyError("model")
        return state
    except Exception as e:  # torch.load raises many types for a damaged or foreign file
        raise CodecError(f"{path}: not an ibc training checkpoint ({str(e).splitlines()[0]})") from None


def build_model(state: dict) -> CodecModel:
    """The model of a checkpoint; from exported weights, the training-only parts are rebuilt from the
    frozen ones (logits from the integer tables, EMA statistics from the codebooks)."""
    model = CodecModel(ModelConfig.from_dict(state["config"]))
    try:
        if "model" in state:
            model.load_state_dict(state["model"])
            return model
        missing, unexpected = model.load_state_dict(state["state_dict"], strict=False)
        if unexpected or set(missing) - set(CodecModel.TRAINING_ONLY):
            raise RuntimeError("keys differ")
    except RuntimeError:
        raise CodecError("checkpoint does not match this version's model architecture") from None
    with torch.no_grad():
        model.entropy.logits.copy_(torch.log(model.frequencies.float()))
        model.quantizer.ema_count.fill_(1.0)
        model.quantizer.ema_sum.copy_(model.quantizer.codebooks)
    return model


def train(tcfg: TrainConfig, mcfg: ModelConfig = ModelConfig(), resume: str | None = None) -> Path:
    if tcfg.arch != "ibc":
        from .peer import train_peer
        return train_peer(tcfg, resume)
    if tcfg.mode == "gc":
        from .train_gc import train_gc
        return train_gc(tcfg, resume)
    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    ddp = Distributed(device)
    if device.type == "cuda" and ddp.world > 1:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    targets = torch.tensor(tcfg.target_bpp, dtype=torch.float32)
    if len(targets) == 0 or (targets <= 0).any() or (targets[1:] <= targets[:-1]).any():
        raise CodecError("--target-bpp needs positive values, increasing from level to level")
    out, images, val_files = prepare_run(tcfg)

    state = load_checkpoint(resume) if resume else None
    if state or tcfg.init:
        model = build_model(state or load_checkpoint(tcfg.init))
    else:
        model = new_model(mcfg, images, tcfg.seed)
    mcfg = model.cfg
    if len(targets) != mcfg.stages:
        raise CodecError(f"give one --target-bpp per level: the model has {mcfg.stages} levels")
    model.to(device).train()
    optimizer = make_optimizer(model, tcfg.lr)
    step, bpp_ema, seconds_before = 0, targets.clone(), 0.0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        step, bpp_ema = state["step"], torch.tensor(state["bpp_ema"])
        seconds_before = state.get("train_seconds", 0.0)
    if ddp.world > 1:
        torch.manual_seed(tcfg.seed + 1000 * ddp.rank + step)  # each rank its own crops
    net = DDP(model, broadcast_buffers=True) if ddp.world > 1 else model
    val_crops = center_crops(val_files[:24], min(256, 2 * tcfg.crop)).to(device) if ddp.main else None

    stop = {"now": False}
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.update(now=True))
    ckpt = out / "checkpoint.pt"
    log = open(out / "log.jsonl", "a") if ddp.main else None
    workers = 4 if device.type == "cuda" else 0
    loader = iter(torch.utils.data.DataLoader(images, batch_size=tcfg.batch, num_workers=workers,
                                              pin_memory=device.type == "cuda"))
    if state:  # after the loader, whose creation draws a seed: the crops continue exactly
        torch.set_rng_state(state["rng"])
    started = last_save = time.time()
    unreachable = 0

    def save():
        if ddp.main:
            save_checkpoint(ckpt, model, optimizer, step, tcfg, {
                "bpp_ema": bpp_ema.tolist(), "train_seconds": seconds_before + time.time() - started})

    bar = tqdm(initial=step, total=tcfg.steps if tcfg.steps < 10 ** 9 else None, desc="train",
               dynamic_ncols=True, disable=not ddp.main)
    while step < tcfg.steps:
        out_of_time = bool(tcfg.hours) and time.time() - started > tcfg.hours * 3600
        if ddp.any(stop["now"] or out_of_time):
            break
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, tcfg) * g["scale"]
        x = next(loader).to(device, non_blocking=True)
        levels = torch.randint(1, mcfg.stages + 1, (x.shape[0],)).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            out_ = net(x, levels)
            terms = shannon_ae_loss(out_, x, levels, model.quantizer.lmbdas, tcfg.distortion)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        model.quantizer.update_codebooks(out_["indices"], out_["residuals"])
        bpp_ema = 0.98 * bpp_ema + 0.02 * ddp.mean(terms["bpp_levels"].mean(0).float()).cpu()
        with torch.no_grad():
            lm = model.quantizer.lmbdas
            lm.copy_(steer_lmbdas(lm.cpu(), bpp_ema, targets, tcfg.rate_gain).to(lm.device))
        step += 1
        bar.update(1)
        if ddp.main and step % tcfg.log_every == 0:
            psnr = (10 * torch.log10(255.0 ** 2 / terms["C"].float().clamp(min=1e-6))).mean().item()
            usage = model.quantizer.usage(out_["indices"])
            bar.set_postfix(loss=f"{terms['loss'].item():.3f}", bpp=f"{terms['bpp'].mean().item():.3f}",
                            psnr=f"{psnr:.2f}", lmbda=f"{lm[-1].item():.4f}", used=f"{usage['used'][0]:.2f}")
            log.write(json.dumps({"step": step, "time": time.time(), "loss": terms["loss"].item(),
                                  "H_Z": terms["H_Z"].item(), "psnr": psnr, "bpp_levels": bpp_ema.tolist(),
                                  "lmbdas": lm.tolist(), **usage}) + "\n")
            log.flush()
        if ddp.main and step % tcfg.val_every == 0:
            v = validate(model, val_crops)
            log.write(json.dumps({"step": step, "val": v}) + "\n")
            log.flush()
            tqdm.write(f"step {step} val " + " ".join(f"{k}={val:.3f}" for k, val in v.items()))
            # A level whose λ sits at a bound while its rate stays >10 % off target cannot get there.
            pinned = ((lm <= LMBDA_MIN * 1.01) & (bpp_ema > 1.1 * targets)) | \
                     ((lm >= LMBDA_MAX * 0.99) & (bpp_ema < 0.9 * targets))
            unreachable = unreachable + 1 if pinned.any() else 0
            if unreachable >= 3:
                save()
                L = int(pinned.nonzero()[0]) + 1
                raise CodecError(f"level {L} cannot reach {targets[L - 1]:.3f} bpp (it stays at "
                                 f"{bpp_ema[L - 1]:.3f} bpp with λ at its bound); choose another target")
        if time.time() - last_save > tcfg.checkpoint_minutes * 60:
            save()
            last_save = time.time()
    save()
    if ddp.world > 1:
        digests = ddp.state_digests(model)
        if ddp.main:
            log.write(json.dumps({"step": step, "ddp_state_digests": digests}) + "\n")
        dist.barrier()
    bar.close()
    if log:
        log.close()
    return ckpt
