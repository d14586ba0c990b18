"""Train the generative head (models.generative) of a gc model with eq. 36, on its base's fixed bitstream.

    L_θ = H(Ẑ) − β·C + β_D·D       H(Ẑ) is fixed (the bitstream is the base's): what moves is −β·C + β_D·D
      −β·C = L1_WEIGHT · mean |x − x̃|    (C a Laplacian log-likelihood, models.losses.term_c, λ per value)
      D    = KL(p_D ‖ p_θ) by density ratio: a conditional PatchGAN r(x | x̂) (models.discriminator_v2)
             trained with the logistic ratio loss and R1 (models.losses); the head's side is term_d
    x̃ = x̂ + head(x̂, d, u, s): x̂ the base's post-filtered rendering, d the closed-form noise fill's detail

1. A pool, built once into OUT/pool/: each training photo's random CROP_CODED crop is coded by the base at
   a step drawn log-uniformly in the gc model's range, decoded plain and with the fill (a random seed), and
   CROPS crops of (x, x̂, d, step) kept. Validation: a centre crop of each validation photo at two steps.
2. Steps alternate a discriminator update (R1 every R1_EVERY steps, lazily scaled) and a head update.
3. Validation: the MSE of x̃ against the Shannon-AE's, and SWD against the originals. best.pt is the most
   realistic step (lowest SWD) whose MSE stays within MSE_BOUND× the Shannon-AE's; step 0 is the closed-form
   fill, so the head never ships worse than it on that judge. Checkpoints and resume: codec.training.pool_loop.
"""
import io
import json
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ...models.discriminator_v2 import ConditionalPatchGAN
from ...models.generative import GenerativeHead
from ...models.losses import r1_penalty, ratio_loss, term_c, term_d
from ..errors import CodecError
from ..metrics import SlicedWasserstein
from ..noise_fill import NoiseFill
from ..postfilter import one_thread_session, step_feature
from .loop import resolve_device
from .pool_loop import build_pool, flip_alike, run_pooled, to_tensor

CROP, CROP_CODED = 128, 384
L1_WEIGHT = 1.0     # β·λ of −β·C per image value in [0, 1]: the distortion's weight
BETA_D = 0.5        # β_D, the weight of D (the paper ties it to β: a reparametrisation, HiFiC's choice)
R1_GAMMA = 1.0      # R1 weight (γ/2 · E‖∇r‖²)
R1_EVERY = 4        # lazy R1 (StyleGAN2): every 4th discriminator step, scaled by 4
MSE_BOUND = 2.0     # Blau–Michaeli: a perfectly realistic decoder at most doubles the MSE


@dataclass
class HeadConfig:
    out: str = "runs/gc-head"
    width: int = 24
    batch: int = 8
    lr: float = 2e-4
    lr_d: float = 2e-4
    crops: int = 4
    steps: int = 10 ** 9
    minutes: float | None = None
    val_every: int = 200
    log_every: int = 25
    checkpoint_minutes: float = 3.0
    seed: int = 0
    l1_weight: float = L1_WEIGHT
    beta_d: float = BETA_D
    step_range: tuple = (60.0, 200.0)   # training crops are coded at a step log-uniform in this range
    val_steps: tuple = (60.0, 120.0)


def _say(message: str) -> None:
    print(f"train: gc head: {message}", file=sys.stderr, flush=True)


def coded(base, noise: NoiseFill, rgb: np.ndarray, step: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """`rgb` through the base at `step`: (x̂ the post-filtered Shannon-AE rendering uint8, d the noise fill's
    detail at realism 1, int16) — the head's inputs, as the decoder makes them (codec.wavelet_api)."""
    H, W = rgb.shape[:2]
    coder = base.coder
    tiles = coder.encode(rgb, step)
    plain = coder.decode(tiles, H, W, step)
    filled = coder.decode(tiles, H, W, step, fill=noise.filler(seed, 1.0))
    x_hat = base.postfilter(plain, step) if base.postfilter is not None else plain
    return x_hat, filled.astype(np.int16) - plain


def _chunk(files: list[Path], base, noise: NoiseFill, rng: np.random.Generator, cfg: HeadConfig, val: bool) -> dict:
    from ..image_io import read_image
    xs, cs, ds, ss = [], [], [], []
    for path in files:
        rgb = read_image(path, drop_alpha=True)
        H, W = rgb.shape[:2]
        side = min(CROP_CODED, H, W)
        if side < CROP:
            continue
        r, k = ((H - side) // 2, (W - side) // 2) if val else (int(rng.integers(H - side + 1)), int(rng.integers(W - side + 1)))
        rgb = rgb[r:r + side, k:k + side]
        steps = cfg.val_steps if val else (float(np.exp(rng.uniform(*np.log(cfg.step_range)))),)
        for step in steps:
            x_hat, d = coded(base, noise, rgb, step, int(rng.integers(1 << 31)))
            places = [(0, 0)] if val else [(int(rng.integers(side - CROP + 1)), int(rng.integers(side - CROP + 1)))
                                           for _ in range(cfg.crops)]
            n = side if val else CROP
            for a, b in places:
                xs.append(rgb[a:a + n, b:b + n]), cs.append(x_hat[a:a + n, b:b + n]), ds.append(d[a:a + n, b:b + n])
                ss.append(step)
    return {"x": np.array(xs), "c": np.array(cs), "d": np.array(ds, np.int16), "step": np.array(ss)}


def _detail(d: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(d)).permute(0, 3, 1, 2).float() / 255.0


def _uniform(shape, generator=None) -> torch.Tensor:
    """Unit-variance uniform noise, as codec.noise_fill.uniform_noise draws it at decode time."""
    return (torch.rand(shape, generator=generator) - 0.5) * 12 ** 0.5


class HeadTrainer:
    def __init__(self, cfg: HeadConfig, pool: dict, val: dict, resumed: dict | None = None):
        self.cfg, self.pool, self.val = cfg, pool, val
        torch.manual_seed(cfg.seed)
        self.device = resolve_device("auto")  # a GPU where there is one
        self.g = GenerativeHead(cfg.width).to(self.device)
        self.d = ConditionalPatchGAN(width=24, scales=2).to(self.device)
        self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr, betas=(0.5, 0.9))
        self.opt_d = torch.optim.Adam(self.d.parameters(), lr=cfg.lr_d, betas=(0.5, 0.9))
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.seconds = 0, 0.0
        originals = [v for v in val["x"]]
        self.swd = SlicedWasserstein(originals, patches=1024) if originals else None
        # the Shannon-AE rendering's MSE on the validation crops: what each validation's ratio is taken against
        self.mse0 = float(np.mean((val["x"].astype(np.float64) - val["c"].astype(np.float64)) ** 2))
        if resumed:
            self.g.load_state_dict(resumed["g"])  # load_state_dict copies onto the modules' device
            self.d.load_state_dict(resumed["d"])
            self.opt_g.load_state_dict(resumed["opt_g"])
            self.opt_d.load_state_dict(resumed["opt_d"])
            self.rng.bit_generator.state = resumed["np_rng"]
            torch.set_rng_state(resumed["torch_rng"])
            self.step, self.seconds = resumed["step"], resumed["train_seconds"]

    def _batch(self):
        i = self.rng.integers(len(self.pool["x"]), size=self.cfg.batch)
        x, c, d = self.pool["x"][i], self.pool["c"][i], self.pool["d"][i]
        flips = self.rng.integers(2, size=(len(i), 2)).astype(bool)
        flip_alike(flips, x, c, d)
        s = torch.tensor([step_feature(float(v)) for v in self.pool["step"][i]])
        return (t.to(self.device) for t in (to_tensor(x), to_tensor(c), _detail(d), s))

    def train_step(self) -> dict:
        x, c, d, s = self._batch()
        u = _uniform((x.shape[0], 1, *x.shape[2:])).to(self.device)
        fake = (c + self.g(c, d, u, s)).clamp(0, 1)
        # the density-ratio estimator r(x | x̂): data against decoded, given the Shannon-AE rendering
        lazy_r1 = self.step % R1_EVERY == 0
        real = x.requires_grad_(lazy_r1)
        logits_real, logits_fake = self.d(real, c), self.d(fake.detach(), c)
        loss_d = torch.stack([ratio_loss(r, f) for r, f in zip(logits_real, logits_fake)]).mean()
        r1 = torch.zeros((), device=self.device)
        if lazy_r1:
            r1 = r1_penalty(torch.stack([m.mean((1, 2, 3)) for m in logits_real], 1).mean(1), real)
            loss_d = loss_d + R1_GAMMA / 2 * R1_EVERY * r1
        self.opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        self.opt_d.step()
        # the head: −β·C + β_D·D (eq. 36 with H(Ẑ) fixed)
        loss_g, minus_c, d_term = self.head_loss(x.detach(), fake, c)
        self.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        self.opt_g.step()
        self.step += 1
        return {"minus_c": float(minus_c.detach()), "D": float(d_term.detach()), "loss_d": float(loss_d.detach()), "r1": float(r1.detach())}

    def head_loss(self, x: torch.Tensor, fake: torch.Tensor, c: torch.Tensor) -> tuple:
        """−β·C + β_D·D of decoded `fake` against data `x`, given the Shannon-AE rendering `c`; also the terms."""
        minus_c = -term_c(x, fake, "laplace", self.cfg.l1_weight / x[0].numel())
        d_term = torch.stack([term_d(m) for m in self.d(fake, c)]).mean()  # mean over the scales
        return minus_c + self.cfg.beta_d * d_term, minus_c, d_term

    @torch.no_grad()
    def rendered(self, seed: int = 0) -> list[np.ndarray]:
        """The validation crops through the head at realism 1 (rounded to 8 bits, as decoded)."""
        gen = torch.Generator().manual_seed(seed)
        out = []
        for k in range(len(self.val["x"])):
            c, d = to_tensor(self.val["c"][k:k + 1]), _detail(self.val["d"][k:k + 1])
            s = torch.tensor([step_feature(float(self.val["step"][k]))])
            u = _uniform((1, 1, *c.shape[2:]), gen)
            c, d, u, s = (t.to(self.device) for t in (c, d, u, s))
            y = (c + self.g(c, d, u, s)).clamp(0, 1)
            out.append((torch.round(y * 255)[0].permute(1, 2, 0)).to(torch.uint8).cpu().numpy())
        return out

    def validate(self) -> dict:
        self.g.eval()
        out = self.rendered()
        self.g.train()
        mse = float(np.mean([(a - b.astype(np.float64)) ** 2 for a, b in zip(self.val["x"].astype(np.float64), out)]))
        return {"mse_ratio": round(mse / self.mse0, 4), "swd": round(float(self.swd.distance(out)[0]), 5)}

    @staticmethod
    def score(v: dict) -> float:
        return -v["swd"] if v["mse_ratio"] <= MSE_BOUND else -1e9 - v["mse_ratio"]

    @property
    def module(self) -> torch.nn.Module:
        return self.g

    @staticmethod
    def summary(v: dict) -> str:
        return f"MSE {v['mse_ratio']:.3f}× the Shannon-AE's, SWD {v['swd']:.4f}"

    def state(self) -> dict:
        return {"g": self.g.state_dict(), "d": self.d.state_dict(), "opt_g": self.opt_g.state_dict(),
                "opt_d": self.opt_d.state_dict(), "np_rng": self.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "step": self.step, "train_seconds": self.seconds,
                "config": asdict(self.cfg), "g_config": self.g.config()}


def train(cfg: HeadConfig, base, noise: NoiseFill, train_files: list[Path], val_files: list[Path],
          deadline: float | None = None) -> Path:
    """Build the pools (once) and train or resume until `deadline` (time.time()); returns the checkpoint."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    resumed = torch.load(ckpt, map_location="cpu", weights_only=False) if ckpt.exists() else None
    pool_dir = out / "pool"
    val = build_pool(val_files, pool_dir, "val", lambda f, rng: _chunk(f, base, noise, rng, cfg, True), cfg.seed, _say)
    pool = build_pool(train_files, pool_dir, "train", lambda f, rng: _chunk(f, base, noise, rng, cfg, False),
                      cfg.seed, _say)
    _say(f"pools: {len(pool['x'])} training crops, {len(val['x'])} validation crops")
    if deadline is not None:
        cfg = HeadConfig(**{**asdict(cfg), "minutes": max((deadline - time.time()) / 60, 0.05)})
    return run_pooled(HeadTrainer(cfg, pool, val, resumed), cfg, out, resumed, _say)


def onnx_bytes(g: GenerativeHead) -> bytes:
    """The head as an ONNX graph (x, d, u, s) → y, checked against torch on input of another size."""
    example = (torch.rand(1, 3, 48, 64), torch.rand(1, 3, 48, 64) * 0.1, torch.rand(1, 1, 48, 64), torch.tensor([0.8]))
    buf = io.BytesIO()
    axes = {k: {2: "h", 3: "w"} for k in ("x", "d", "u", "y")}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(g, example, buf, input_names=["x", "d", "u", "s"], output_names=["y"], dynamic_axes=axes,
                          opset_version=17, dynamo=False)
    graph = buf.getvalue()
    import onnxruntime as ort
    session = ort.InferenceSession(graph, providers=["CPUExecutionProvider"])
    check = (torch.rand(1, 3, 40, 56), torch.rand(1, 3, 40, 56) * 0.1, torch.rand(1, 1, 40, 56), torch.tensor([0.6]))
    with torch.no_grad():
        want = g(*check).numpy()
    got = session.run(None, dict(zip(("x", "d", "u", "s"), (t.numpy() for t in check))))[0]
    if not np.allclose(got, want, atol=1e-5):
        raise CodecError("the ONNX head differs from the checkpoint's")
    return graph


def head_graph(run: Path) -> tuple[bytes, dict]:
    """The run's best head (best.pt, else checkpoint.pt) as ONNX bytes, checked against torch on random
    input, and its record for the model's meta (margin, config, steps, validation, the loss's weights)."""
    run = Path(run)
    name = "best.pt" if (run / "best.pt").exists() else "checkpoint.pt"
    state = torch.load(run / name, map_location="cpu", weights_only=False)  # exported from the CPU
    cfg = HeadConfig(**{**state["config"], "step_range": tuple(state["config"]["step_range"]),
                        "val_steps": tuple(state["config"]["val_steps"])})
    g = GenerativeHead(**{"width": state["g_config"]["width"], "dilations": tuple(state["g_config"]["dilations"])})
    g.load_state_dict(state["g"])
    g.eval()
    graph = onnx_bytes(g)
    log = [line for line in (run / "log.jsonl").read_text().splitlines() if line] if (run / "log.jsonl").exists() else []
    vals = [json.loads(line) for line in log if '"val"' in line]
    at = [v for v in vals if v["step"] == state["step"]]
    record = {"margin": g.margin, "config": g.config(), "steps": state["step"],
              "cpu_core_hours": round(state["train_seconds"] / 3600, 3),
              "loss": f"eq. 36 with H(Ẑ) fixed: {cfg.l1_weight:g}·mean|x − x̃| (−β·C, Laplacian) + {cfg.beta_d:g}·D "
                      f"(density ratio, non-saturating; conditional PatchGAN, R1 γ {R1_GAMMA:g} every {R1_EVERY})",
              "validation": at[-1]["val"] if at else None,
              "validation_at_start": vals[0]["val"] if vals else None}
    return graph, record


def export_score(head_dir: Path, base, gc: dict, photos: list[Path], dest: Path, quality: float) -> dict:
    """The novelty score of the paper's §4.3 for `ibc score` (codec.score), from this gc model's training:
    dest/discriminator.onnx, the density-ratio discriminator of the head's best step, and dest/score.json with
    the feature statistics (log2 bpp of the image's own file at `quality`, the discriminator's mean logit on the
    image given its Shannon-AE rendering) over `photos`, taken exactly as `ibc score` takes them."""
    import hashlib

    from ..image_io import read_image
    from ..score import SCORE_FORMAT, WINDOW, feature_stats, image_features
    from .discriminator import export_onnx
    from .export import DATA_SOURCES
    name = "best.pt" if (Path(head_dir) / "best.pt").exists() else "checkpoint.pt"
    state = torch.load(Path(head_dir) / name, map_location="cpu", weights_only=False)
    d = ConditionalPatchGAN(width=24, scales=2)
    d.load_state_dict(state["d"])
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    onnx_path = dest / "discriminator.onnx"
    export_onnx(d.eval(), onnx_path)
    session = one_thread_session(str(onnx_path))
    values = [image_features(read_image(p, drop_alpha=True), base, session, quality) for p in photos]
    info = {"format": SCORE_FORMAT, "quality": quality, "seed": 0, "window": WINDOW, "d_input": "image",
            "rate_feature": f"log2 of the bpp of the image's own {base.name} file at `quality`",
            "d_feature": f"the mean logit of {gc['name']}'s discriminator (density ratio data : decoded) on the image "
                         f"itself, conditioned on its {base.name} rendering",
            "gc": gc, "base": {"name": base.name, "sha256": base.sha256},
            "discriminator": {"file": onnx_path.name, "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
                              "config": d.config(), "steps": state["step"]},
            "stats": feature_stats(values),
            "photos": f"{len(photos)} validation photos of the training folder (training photos too if it had fewer than 8)",
            "data_sources": DATA_SOURCES}
    (dest / "score.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    return info
