"""Train one preset of the lab on 32×32 patches, on the codec's loop skeleton (codec.training.pool_loop):
the patch pools built once in atomic chunks, then steps until --steps, --minutes or a stop signal, with the
JSONL log, validation, timed atomic checkpoints and exact resume (`ibc lab train` on the same OUT).

    ibc lab train --preset vae ../shared/data/train --out runs/lab/vae --minutes 3.5

Each step, on one batch of patches (random flips):
1. the estimators, when the preset has their term: the image discriminator r_x (density ratio: logistic
   loss, real x against the fake side, + γ/2·R1 every R1_EVERY steps; or the Wasserstein critic with GP)
   for D, the latent discriminator r_z (q(z) against p(z)) for B;
2. the model (encoder, decoder, the VQ's prior): L = Σ weights[t]·t of the preset (codec.lab.bib), plus
   the VQ's commitment where the preset has one (reported apart from L).
Adam (β₁ 0.5) for all. The photos are split as the codec's training splits them (BSDS500 val held out,
else every 10th file): validation patches come from held-out photos only.
"""
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np
import torch

from ..errors import CodecError
from ..metrics import psnr_of_mse
from ..training.dataset import list_images, split_train_val
from ..training.pool_loop import build_pool, read_pool, run_pooled, to_tensor
from .bib import BIBAE
from .data import patch_chunk
from .presets import PRESETS, Preset

R1_EVERY = 4     # lazy R1 (StyleGAN2): every 4th step, scaled by 4
VAL_PATCHES = 512  # validated in the loop (the full evaluation is codec.lab.evaluate)


@dataclass
class LabConfig:
    preset: str = "vae"
    settings: str | None = None   # preset fields changed for this run: "beta=0.1,beta_d=300"
    data: str = "../shared/data/train"
    out: str = "runs/lab/vae"
    pool: str | None = None       # a folder of patch pools shared by presets (default: OUT/pool)
    latent: int = 32              # dimensions of z
    width: int = 16               # channels of the first convolution (then 2×, 4×)
    batch: int = 32
    lr: float = 2e-4              # the model's Adam step
    lr_disc: float = 2e-4         # the discriminators'
    crops: int = 16               # training patches per photo
    val_crops: int = 16           # validation patches per held-out photo
    downscale: int = 2            # photos are box-filtered this many times smaller before the 32×32 cut
    steps: int = 10 ** 9
    minutes: float | None = None  # wall-clock training time of this run (the pools not counted)
    val_every: int = 250
    log_every: int = 25
    checkpoint_minutes: float = 1.0
    threads: int = 1
    seed: int = 0
    limit: int | None = None      # only the first N photos of each split (tests, probes)


POOL_KEYS = ("data", "crops", "val_crops", "downscale", "seed", "limit")


def preset_of(cfg: LabConfig) -> Preset:
    """cfg.preset with cfg.settings ("key=value,…") applied."""
    if cfg.preset not in PRESETS:
        raise CodecError(f"unknown preset {cfg.preset!r} (one of {', '.join(PRESETS)})")
    pairs = [item.split("=", 1) for item in (cfg.settings or "").split(",") if item.strip()]
    if any(len(p) != 2 for p in pairs):
        raise CodecError(f"--set {cfg.settings!r}: expected KEY=VALUE")
    try:
        return PRESETS[cfg.preset].replaced({k.strip(): v.strip() for k, v in pairs})
    except ValueError as e:
        raise CodecError(f"--set: {e}") from None


class LabTrainer:
    """A trainer for pool_loop.run_pooled: train_step, validate, summary, state, step, seconds, module."""

    def __init__(self, cfg: LabConfig, pool: dict, val: dict, resumed: dict | None = None):
        self.cfg, self.pool, self.val = cfg, pool, val
        self.preset = preset_of(cfg)
        torch.manual_seed(cfg.seed)
        self.net = BIBAE(self.preset, cfg.latent, cfg.width)
        betas = (0.5, 0.999)
        self.opt = torch.optim.Adam(self.net.model_parameters(), lr=cfg.lr, betas=betas)
        self.opt_x = torch.optim.Adam(self.net.disc_x.parameters(), lr=cfg.lr_disc, betas=betas) if self.net.disc_x else None
        self.opt_z = torch.optim.Adam(self.net.disc_z.parameters(), lr=cfg.lr_disc, betas=betas) if self.net.disc_z else None
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.seconds = 0, 0.0
        if resumed:
            self.net.load_state_dict(resumed["net"])
            for name in ("opt", "opt_x", "opt_z"):
                if getattr(self, name) is not None:
                    getattr(self, name).load_state_dict(resumed[name])
            self.rng.bit_generator.state = resumed["np_rng"]
            torch.set_rng_state(resumed["torch_rng"])
            self.step, self.seconds = resumed["step"], resumed["train_seconds"]

    def _batch(self) -> torch.Tensor:
        i = self.rng.integers(len(self.pool["x"]), size=self.cfg.batch)
        x = self.pool["x"][i]
        flips = self.rng.integers(2, size=(len(i), 2)).astype(bool)
        x[flips[:, 0]] = x[flips[:, 0], ::-1]
        x[flips[:, 1]] = x[flips[:, 1], :, ::-1]
        return to_tensor(x)

    def train_step(self) -> dict:
        self.net.train()
        s = self.net(self._batch())
        figures = {}
        estimators = self.net.discriminator_losses(s, r1=R1_EVERY if self.step % R1_EVERY == 0 else 0.0)
        for name, opt in (("disc_x", self.opt_x), ("disc_z", self.opt_z)):
            if opt is not None:
                opt.zero_grad(set_to_none=True)
                estimators[name].backward()
                opt.step()
        L, terms = self.net.lagrangian(s)
        objective = L
        if self.preset.commitment:
            objective = objective + self.preset.commitment * s.commitment
            figures["commitment"] = float(s.commitment.detach())
        self.opt.zero_grad(set_to_none=True)
        objective.backward()
        self.opt.step()
        self.step += 1
        figures.update({"L": float(L.detach()), **{k: float(v.detach()) for k, v in terms.items()},
                        **{k: float(v.detach()) for k, v in estimators.items()}})
        return figures

    @torch.no_grad()
    def validate(self) -> dict:
        """On the first VAL_PATCHES validation patches: L, its terms, MSE and PSNR (8-bit), the rate in bits."""
        self.net.eval()
        try:
            with torch.random.fork_rng():
                torch.manual_seed(self.cfg.seed + 1)  # the same noise every time: validations compare
                return self._validate()
        finally:
            self.net.train()

    def _validate(self) -> dict:
        x = to_tensor(self.val["x"][:VAL_PATCHES])
        s = self.net(x)
        L, terms = self.net.lagrangian(s)
        est = self.net.discriminator_losses(s, r1=0.0)
        x8 = torch.round(s.x_hat * 255) / 255
        mse = ((x8 - x) ** 2).mean((1, 2, 3)).numpy() * 255 ** 2
        out = {"L": float(L), **{k: round(float(v), 4) for k, v in terms.items()},
               **{k: round(float(v), 4) for k, v in est.items() if k.endswith("estimate")},
               "mse": round(float(mse.mean()), 3),
               "psnr": round(float(np.mean([psnr_of_mse(max(m, 1e-12)) for m in mse])), 3)}
        if "A" in terms:
            out["rate_bits"] = round(float(terms["A"]) / np.log(2), 3)
        elif "H" in terms:
            out["rate_bits"] = round(float(terms["H"]), 3)
        return out

    @staticmethod
    def summary(v: dict) -> str:
        rate = f" rate {v['rate_bits']:.1f} bits" if "rate_bits" in v else ""
        return f"L {v['L']:.1f} PSNR {v['psnr']:.2f} dB{rate}"

    @property
    def module(self) -> torch.nn.Module:
        return self.net

    def state(self) -> dict:
        return {"net": self.net.state_dict(), "net_config": self.net.config(), "preset": asdict(self.preset),
                "opt": self.opt.state_dict(),
                **{name: getattr(self, name).state_dict() for name in ("opt_x", "opt_z") if getattr(self, name)},
                "np_rng": self.rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "step": self.step,
                "train_seconds": self.seconds, "config": asdict(self.cfg)}


def pool_dir(cfg: LabConfig) -> Path:
    return Path(cfg.pool) if cfg.pool else Path(cfg.out) / "pool"


def pools(cfg: LabConfig, say=lambda m: None) -> tuple[dict, dict]:
    """The training and validation patch pools of cfg (built once; a shared folder must match cfg's data)."""
    folder = pool_dir(cfg)
    folder.mkdir(parents=True, exist_ok=True)
    meta, want = folder / "pool.json", {k: getattr(cfg, k) for k in POOL_KEYS}
    if meta.exists() and json.loads(meta.read_text()) != want:
        raise CodecError(f"{folder}: a pool of other data or settings ({meta.read_text().strip()}); "
                         "use another --pool")
    meta.write_text(json.dumps(want))
    train_files, val_files = split_train_val(list_images(Path(cfg.data)))
    if cfg.limit:
        train_files, val_files = train_files[:cfg.limit], val_files[:cfg.limit]
    if not train_files or not val_files:
        raise CodecError(f"{cfg.data}: too few images to hold some out for validation")
    val = build_pool(val_files, folder, "val",
                     lambda f, rng: patch_chunk(f, rng, cfg.val_crops, cfg.downscale, keep_full=True), cfg.seed, say)
    pool = build_pool(train_files, folder, "train", lambda f, rng: patch_chunk(f, rng, cfg.crops, cfg.downscale),
                      cfg.seed, say)
    if not len(pool["x"]) or not len(val["x"]):
        raise CodecError(f"{cfg.data}: no photo is {32 * cfg.downscale} pixels a side")
    return pool, val


def train(cfg: LabConfig, say=lambda m: None) -> Path:
    """Build the pools (once) and train or resume cfg.preset into cfg.out; returns the checkpoint's path."""
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    resumed = torch.load(ckpt, map_location="cpu", weights_only=False) if ckpt.exists() else None
    if resumed:
        if resumed["config"]["preset"] != cfg.preset:
            raise CodecError(f"{out}: holds preset {resumed['config']['preset']}, not {cfg.preset} (use a new --out)")
        cfg = LabConfig(**{**resumed["config"], "steps": cfg.steps, "minutes": cfg.minutes})
    pool, val = pools(cfg, say)
    say(f"{cfg.preset}: {len(pool['x'])} training patches, {len(val['x'])} validation patches")
    return run_pooled(LabTrainer(cfg, pool, val, resumed), cfg, out, resumed, say)


def load_run(run: Path) -> tuple[BIBAE, dict]:
    """A run folder's trained network (eval mode) and its checkpoint's config."""
    ckpt = Path(run) / "checkpoint.pt"
    if not ckpt.exists():
        raise CodecError(f"{run}: no checkpoint.pt (train it with `ibc lab train`)")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    cfg = LabConfig(**state["config"])
    known = {f.name for f in fields(Preset)}
    preset = Preset(**{k: v for k, v in state["preset"].items() if k in known})  # the one it was trained with
    net = BIBAE(preset, cfg.latent, cfg.width)
    net.load_state_dict(state["net"])
    net.eval()
    return net, state


def val_pool(state: dict) -> dict:
    return read_pool(pool_dir(LabConfig(**state["config"])), "val")
