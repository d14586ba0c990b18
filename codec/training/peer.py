"""The CompressAI peer, trained by our recipe (data, crops, batch, lr schedule, rate control, checkpoints,
CPU budget) with the loss of CompressAI's own example: bpp + λ·255²·MSE, plus the auxiliary quantile loss.

    ibc train --arch compressai-factorized --data DIR --out runs/peer --target-bpp 0.4
    ibc eval kodak/ --codec compressai:runs/peer/checkpoint.pt --codec jpeg -o peer.json
"""
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F

from ..dataset import center_crops
from ..errors import CodecError
from .config import TrainConfig
from .loop import Figures, Trainer, prepare_run, resolve_device, run
from .schedules import steer_lmbdas

ARCHS = {"compressai-factorized": "bmshj2018_factorized", "compressai-mean": "mbt2018_mean"}
QUALITY = 3  # the architecture size of CompressAI's quality 3 (192/128 channels); λ is ours to steer


def build_peer(arch: str) -> torch.nn.Module:
    # compressai's import trips torch's deprecation notice for torch.jit.script; it is not ours to act on.
    warnings.filterwarnings("ignore", message=r".*torch\.jit\.script.*", category=FutureWarning)
    from compressai import zoo
    if arch not in ARCHS:
        raise CodecError(f"unknown architecture {arch!r} (choose from ibc, {', '.join(ARCHS)})")
    return getattr(zoo, ARCHS[arch])(quality=QUALITY, pretrained=False)


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


class PeerTrainer(Trainer):
    """The peer network, its two optimizers and its one λ, steered onto the first target rate."""

    def __init__(self, tcfg: TrainConfig, device: torch.device, val_files: list[Path], resumed: dict | None):
        self.tcfg, self.desc = tcfg, tcfg.arch
        self.val_crops = center_crops(val_files[:24], min(256, 2 * tcfg.crop)).to(device)
        self.target = torch.tensor([float(tcfg.target_bpp[0])])
        torch.manual_seed(tcfg.seed)
        self.model = net = build_peer(tcfg.arch).to(device).train()
        self.main = [p for n, p in net.named_parameters() if not n.endswith(".quantiles")]
        aux = [p for n, p in net.named_parameters() if n.endswith(".quantiles")]
        self.optimizer, self.aux_optimizer = torch.optim.Adam(self.main, lr=tcfg.lr), torch.optim.Adam(aux, lr=1e-3)
        self.lmbda, self.bpp_ema = torch.tensor([0.013]), self.target.clone()
        if resumed:
            net.load_state_dict(resumed["model"])
            self.optimizer.load_state_dict(resumed["optimizer"])
            self.aux_optimizer.load_state_dict(resumed["aux_optimizer"])
            self.lmbda, self.bpp_ema = torch.tensor(resumed["lmbda"]), torch.tensor(resumed["bpp_ema"])

    def step(self, x, lr, log):
        net = self.model
        for g in self.optimizer.param_groups:
            g["lr"] = lr
        result = net(x)
        bpp = sum(-torch.log2(lk).sum() for lk in result["likelihoods"].values()) / (x.shape[0] * x.shape[2] * x.shape[3])
        mse = F.mse_loss(result["x_hat"], x) * 255.0 ** 2
        loss = bpp + self.lmbda.item() * mse
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.main, 1.0)
        self.optimizer.step()
        self.aux_optimizer.zero_grad(set_to_none=True)
        net.aux_loss().backward()
        self.aux_optimizer.step()
        self.bpp_ema = 0.98 * self.bpp_ema + 0.02 * bpp.detach().cpu()
        self.lmbda = steer_lmbdas(self.lmbda, self.bpp_ema, self.target, self.tcfg.rate_gain)
        if not log:
            return None
        psnr = 10 * torch.log10(255.0 ** 2 / mse.detach()).item()
        return Figures({"loss": loss.item(), "bpp": bpp.item(), "psnr": psnr, "lmbda": self.lmbda.item()},
                       {"loss": f"{loss.item():.3f}", "bpp": f"{bpp.item():.3f}", "psnr": f"{psnr:.2f}",
                        "lmbda": f"{self.lmbda.item():.4f}"})

    def validate(self):
        return validate_peer(self.model, self.val_crops)

    def state(self):
        return {"arch": self.tcfg.arch, "model": self.model.state_dict(), "optimizer": self.optimizer.state_dict(),
                "aux_optimizer": self.aux_optimizer.state_dict(), "lmbda": self.lmbda.tolist(),
                "bpp_ema": self.bpp_ema.tolist()}


def train_peer(tcfg: TrainConfig, resume: str | None = None) -> Path:
    """`ibc train --arch compressai-…`: rate control on the first target."""
    torch.set_num_threads(tcfg.threads)
    device = resolve_device(tcfg.device)
    out, images, val_files = prepare_run(tcfg)
    state = load_peer_checkpoint(resume) if resume else None
    return run(PeerTrainer(tcfg, device, val_files, state), tcfg, images, out, device, state)
