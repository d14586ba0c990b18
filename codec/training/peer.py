"""CompressAI models as a fair peer: trained by the same recipe as ours (data, crops, batch, lr
schedule, rate control, checkpoints, CPU budget) and coded by their own real compress/decompress.

    ibc train --arch compressai-factorized --data DIR --out runs/peer --target-bpp 0.4
    ibc eval kodak/ --codec compressai:runs/peer/checkpoint.pt --codec jpeg -o peer.json
"""
import json
import os
import signal
import struct
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from .dataset import center_crops
from .errors import CodecError

ARCHS = {"compressai-factorized": "bmshj2018_factorized", "compressai-mean": "mbt2018_mean"}
QUALITY = 3  # the architecture size of CompressAI's quality 3 (192/128 channels); λ is ours to steer


def build_peer(arch: str) -> torch.nn.Module:
    # compressai's import trips torch's deprecation notice for torch.jit.script; it is not ours to act on.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    from compressai import zoo
    if arch not in ARCHS:
        raise CodecError(f"unknown architecture {arch!r} (choose from ibc, {', '.join(ARCHS)})")
    return getattr(zoo, ARCHS[arch])(quality=QUALITY, pretrained=False)


def _pad(rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    """(H,W,3) uint8 → (1,3,H',W') in [0,1], zero-padded to a multiple of 64 (the models' stride)."""
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
    H, W = x.shape[2:]
    return F.pad(x, (0, -W % 64, 0, -H % 64)), (H, W)


def pack(strings: list[list[bytes]], shape, size: tuple[int, int]) -> bytes:
    """CompressAI's output as one byte string: image and latent sizes, then each stream length-prefixed."""
    parts = [struct.pack("<IIII", *size, *shape)]
    for stream in strings:
        parts += [struct.pack("<I", len(stream[0])), stream[0]]
    return b"".join(parts)


def unpack(data: bytes, streams: int):
    H, W, h, w = struct.unpack_from("<IIII", data)
    pos, strings = 16, []
    for _ in range(streams):
        (n,) = struct.unpack_from("<I", data, pos)
        strings.append([data[pos + 4:pos + 4 + n]])
        pos += 4 + n
    return strings, (h, w), (H, W)


@dataclass
class PeerCoder:
    """A trained peer checkpoint behind the interface of the other codecs in `ibc eval`."""
    path: Path
    sweep: tuple = ("ckpt",)

    def __post_init__(self):
        state = load_peer_checkpoint(self.path)
        self.arch, self.step = state["arch"], state["step"]
        self.net = build_peer(self.arch).eval()
        self.net.load_state_dict(state["model"])
        self.net.update(force=True)
        self.streams = len(self.net.compress(torch.zeros(1, 3, 64, 64))["strings"])

    @property
    def name(self) -> str:
        return f"compressai:{self.path.parent.name}"

    @property
    def label(self) -> str:
        return f"{self.arch} ({self.path.parent.name}, {self.step} steps)"

    @property
    def key(self) -> str:
        return f"{self.name}@{self.step}@{self.path.stat().st_mtime_ns}"

    @torch.inference_mode()
    def encode(self, rgb: np.ndarray, setting) -> bytes:
        x, size = _pad(rgb)
        out = self.net.compress(x)
        return pack(out["strings"], out["shape"], size)

    @torch.inference_mode()
    def decode(self, data: bytes) -> np.ndarray:
        strings, shape, (H, W) = unpack(data, self.streams)
        x_hat = self.net.decompress(strings, shape)["x_hat"][0, :, :H, :W].clamp(0, 1)
        return (x_hat * 255).round().byte().permute(1, 2, 0).numpy()


def load_peer_checkpoint(path) -> dict:
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
        if state.get("arch") not in ARCHS:
            raise KeyError("arch")
        return state
    except Exception as e:  # torch.load raises many types for a damaged or foreign file
        raise CodecError(f"{path}: not a CompressAI peer checkpoint ({str(e).splitlines()[0]})") from None


@torch.no_grad()
def validate_peer(net, crops: torch.Tensor) -> dict:
    """bpp of the real strings and PSNR of the decoded crops."""
    net.eval()
    net.update(force=True)
    out = net.compress(crops)
    bits = sum(len(s) for stream in out["strings"] for s in stream) * 8
    x_hat = net.decompress(out["strings"], out["shape"])["x_hat"].clamp(0, 1)
    mse = ((x_hat * 255).round() / 255 - crops).pow(2).mean((1, 2, 3))
    net.train()
    return {"bpp": bits / (crops.shape[0] * crops.shape[2] * crops.shape[3]),
            "psnr": (10 * torch.log10(1 / mse)).mean().item()}


def train_peer(tcfg, resume: str | None = None) -> Path:
    """`ibc train --arch compressai-…`: the loss of CompressAI's own example (bpp + λ·255²·MSE, plus
    the auxiliary quantile loss), with our data, crops, schedule and rate control on the first target."""
    from .train import lr_at, prepare_run, resolve_device, steer_lmbdas

    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    out, images, val_files = prepare_run(tcfg)
    val_crops = center_crops(val_files[:24], min(256, 2 * tcfg.crop)).to(device)
    target = torch.tensor([float(tcfg.target_bpp[0])])

    torch.manual_seed(tcfg.seed)
    net = build_peer(tcfg.arch).to(device).train()
    main = [p for n, p in net.named_parameters() if not n.endswith(".quantiles")]
    aux = [p for n, p in net.named_parameters() if n.endswith(".quantiles")]
    optimizer, aux_optimizer = torch.optim.Adam(main, lr=tcfg.lr), torch.optim.Adam(aux, lr=1e-3)
    step, lmbda, bpp_ema, seconds_before = 0, torch.tensor([0.013]), target.clone(), 0.0
    state = load_peer_checkpoint(resume) if resume else None
    if state:
        net.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        aux_optimizer.load_state_dict(state["aux_optimizer"])
        step, lmbda, bpp_ema = state["step"], torch.tensor(state["lmbda"]), torch.tensor(state["bpp_ema"])
        seconds_before = state.get("train_seconds", 0.0)
    loader = iter(torch.utils.data.DataLoader(images, batch_size=tcfg.batch, num_workers=0))
    if state:
        torch.set_rng_state(state["rng"])

    stop = {"now": False}
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.update(now=True))
    ckpt, log = out / "checkpoint.pt", open(out / "log.jsonl", "a")
    started = last_save = time.time()

    def save():
        tmp = ckpt.with_suffix(".tmp")
        torch.save({"arch": tcfg.arch, "model": net.state_dict(), "optimizer": optimizer.state_dict(),
                    "aux_optimizer": aux_optimizer.state_dict(), "step": step, "lmbda": lmbda.tolist(),
                    "bpp_ema": bpp_ema.tolist(), "rng": torch.get_rng_state(), "train_config": asdict(tcfg),
                    "train_seconds": seconds_before + time.time() - started}, tmp)
        os.replace(tmp, ckpt)

    bar = tqdm(initial=step, total=tcfg.steps if tcfg.steps < 10 ** 9 else None, desc=tcfg.arch, dynamic_ncols=True)
    while step < tcfg.steps and not stop["now"]:
        if tcfg.hours and time.time() - started > tcfg.hours * 3600:
            break
        for g in optimizer.param_groups:
            g["lr"] = lr_at(step, tcfg)
        x = next(loader).to(device)
        result = net(x)
        bpp = sum(-torch.log2(lk).sum() for lk in result["likelihoods"].values()) / (x.shape[0] * x.shape[2] * x.shape[3])
        mse = F.mse_loss(result["x_hat"], x) * 255.0 ** 2
        loss = bpp + lmbda.item() * mse
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(main, 1.0)
        optimizer.step()
        aux_optimizer.zero_grad(set_to_none=True)
        net.aux_loss().backward()
        aux_optimizer.step()
        bpp_ema = 0.98 * bpp_ema + 0.02 * bpp.detach().cpu()
        lmbda = steer_lmbdas(lmbda, bpp_ema, target, tcfg.rate_gain)
        step += 1
        bar.update(1)
        if step % tcfg.log_every == 0:
            psnr = 10 * torch.log10(255.0 ** 2 / mse.detach()).item()
            bar.set_postfix(loss=f"{loss.item():.3f}", bpp=f"{bpp.item():.3f}", psnr=f"{psnr:.2f}",
                            lmbda=f"{lmbda.item():.4f}")
            log.write(json.dumps({"step": step, "time": time.time(), "loss": loss.item(), "bpp": bpp.item(),
                                  "psnr": psnr, "lmbda": lmbda.item()}) + "\n")
            log.flush()
        if step % tcfg.val_every == 0:
            log.write(json.dumps({"step": step, "val": validate_peer(net, val_crops)}) + "\n")
            log.flush()
        if time.time() - last_save > tcfg.checkpoint_minutes * 60:
            save()
            last_save = time.time()
    save()
    bar.close()
    log.close()
    return ckpt
