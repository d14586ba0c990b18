"""The training loop: one function that reads top to bottom, checkpoints that resume exactly."""
import json
import math
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
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
    device: str = "auto"
    threads: int = 1
    seed: int = 0
    init: str | None = None                     # warm start from a checkpoint or weights file


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
            model.entropy.init_from_counts(indices, contexts(indices, model.quantizer.levels, cfg.ctx_buckets))
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


def train(tcfg: TrainConfig, mcfg: ModelConfig = ModelConfig(), resume: str | None = None) -> Path:
    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    out = Path(tcfg.out)
    out.mkdir(parents=True, exist_ok=True)
    files = list_images(Path(tcfg.data))
    train_files, val_files = (files, list_images(Path(tcfg.val))) if tcfg.val else split_train_val(files)
    images = CropDataset(train_files, tcfg.crop)
    val_crops = center_crops(val_files[:24], 256).to(device)
    if len(tcfg.target_bpp) != mcfg.stages:
        raise CodecError(f"give one --target-bpp per level: the model has {mcfg.stages} levels")

    state = torch.load(resume, map_location="cpu", weights_only=False) if resume else None
    if state:
        mcfg = ModelConfig.from_dict(state["config"])
        model = CodecModel(mcfg)
        model.load_state_dict(state["model"])
    elif tcfg.init:
        init = torch.load(tcfg.init, map_location="cpu", weights_only=False)
        mcfg = ModelConfig.from_dict(init["config"])
        model = CodecModel(mcfg)
        model.load_state_dict(init["model"])
    else:
        model = new_model(mcfg, images, tcfg.seed)
    model.to(device).train()
    optimizer = make_optimizer(model, tcfg.lr)
    step, bpp_ema, seconds_before = 0, torch.tensor(tcfg.target_bpp), 0.0
    if state:
        optimizer.load_state_dict(state["optimizer"])
        step, bpp_ema = state["step"], torch.tensor(state["bpp_ema"])
        seconds_before = state.get("train_seconds", 0.0)
        torch.set_rng_state(state["rng"])
    targets = torch.tensor(tcfg.target_bpp)

    stop = {"now": False}
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.update(now=True))
    ckpt = out / "checkpoint.pt"
    log = open(out / "log.jsonl", "a")
    loader = iter(torch.utils.data.DataLoader(images, batch_size=tcfg.batch, num_workers=0))
    started = last_save = time.time()
    bar = tqdm(initial=step, total=tcfg.steps if tcfg.steps < 10 ** 9 else None, desc="train", dynamic_ncols=True)
    while step < tcfg.steps and not stop["now"]:
        if tcfg.hours and time.time() - started > tcfg.hours * 3600:
            break
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, tcfg) * g["scale"]
        x = next(loader).to(device)
        levels = torch.randint(1, mcfg.stages + 1, (x.shape[0],), device=device)
        out_ = model(x, levels)
        terms = shannon_ae_loss(out_, x, levels, model.quantizer.lmbdas, tcfg.distortion)
        optimizer.zero_grad(set_to_none=True)
        terms["loss"].backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        model.quantizer.update_codebooks(out_["indices"], out_["residuals"])
        # Rate control: steer each level's λ so its training bpp approaches its target.
        bpp_ema = 0.98 * bpp_ema + 0.02 * terms["bpp_levels"].mean(0).cpu()
        with torch.no_grad():
            lm = model.quantizer.lmbdas
            lm.mul_(torch.exp(-tcfg.rate_gain * torch.log(bpp_ema / targets)).to(lm.device))
            lm.copy_(torch.cummax(lm.clamp(1e-5, 1.0), 0).values)
        step += 1
        psnr = (10 * torch.log10(255.0 ** 2 / terms["C"].clamp(min=1e-6))).mean().item() if tcfg.distortion == "mse" else float("nan")
        bar.update(1)
        if step % 10 == 0:
            usage = model.quantizer.usage(out_["indices"])
            bar.set_postfix(loss=f"{terms['loss'].item():.3f}", bpp=f"{terms['bpp'].mean().item():.3f}",
                            psnr=f"{psnr:.2f}", lmbda=f"{lm[-1].item():.4f}", used=f"{usage['used'][0]:.2f}")
            record = {"step": step, "time": time.time(), "loss": terms["loss"].item(), "H_Z": terms["H_Z"].item(),
                      "psnr": psnr, "bpp_levels": bpp_ema.tolist(), "lmbdas": lm.tolist(), **usage}
            log.write(json.dumps(record) + "\n")
            log.flush()
        if step % tcfg.val_every == 0:
            v = validate(model, val_crops)
            log.write(json.dumps({"step": step, "val": v}) + "\n")
            log.flush()
            tqdm.write(f"step {step} val " + " ".join(f"{k}={val:.3f}" for k, val in v.items()))
        if time.time() - last_save > tcfg.checkpoint_minutes * 60:
            save_checkpoint(ckpt, model, optimizer, step, tcfg, {"bpp_ema": bpp_ema.tolist(), "train_seconds": seconds_before + time.time() - started})
            last_save = time.time()
    save_checkpoint(ckpt, model, optimizer, step, tcfg, {"bpp_ema": bpp_ema.tolist(), "train_seconds": seconds_before + time.time() - started})
    bar.close()
    log.close()
    return ckpt
