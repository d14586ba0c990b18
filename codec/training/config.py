"""The settings of a training run, saved in its checkpoint (nanoGPT's config: one frozen record)."""
from dataclasses import dataclass, field, fields


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
    arch: str = "ibc"                           # "ibc", or the CompressAI peer's architecture (peer.ARCHS)
    # generative compression only (generative.py):
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

    @classmethod
    def from_options(cls, options: dict) -> "TrainConfig":
        """The config of the options that name one of its fields; an option left out (None) keeps the default."""
        return cls(**{f.name: options[f.name] for f in fields(cls) if options.get(f.name) is not None})


def add_options(parser, config_class) -> None:
    """One `--name` option per field of a config dataclass, typed and defaulted by the field (the small
    trainers' command lines: `python -m ibc.codec.training.discriminator train --help`)."""
    defaults = config_class()
    for f in fields(config_class):
        kind = next(a for a in getattr(f.type, "__args__", (f.type,)) if a is not type(None))
        parser.add_argument("--" + f.name.replace("_", "-"), type=kind, default=getattr(defaults, f.name),
                            help=f"default: {getattr(defaults, f.name)}")


def from_options(args, config_class):
    """The config dataclass from parsed `add_options` arguments."""
    return config_class(**{f.name: getattr(args, f.name) for f in fields(config_class)})
