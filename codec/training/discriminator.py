"""Train the gc-v2 discriminator (models.discriminator_v2) against the fixed, closed-form gc-v2 decoder,
then export it with the novelty-score statistics (codec.score) into weights/gc-v2-score/.

    python -m ibc.codec.training.discriminator train --data ../shared/data/train --out runs/disc-v2 --minutes 35
    python -m ibc.codec.training.discriminator export --out runs/disc-v2

After gc-v2 (or shannon-v2) changes, the exported statistics no longer hold (`ibc score` refuses them): an
export takes them again with the installed models (minutes); to retrain the discriminator against the new
gc-v2 as well, train a new run folder warm-started with `--init runs/disc-v2/checkpoint.pt`, then export it.

1. A pool of encoded crops, built once into OUT/pool/ (chunks of 50 images, each written atomically, so
   an interrupted build resumes): each training photo is coded by shannon-v2 at a quality q drawn
   log-uniformly in QUALITIES (the low rates where gc matters), read once, and rendered as the Shannon-AE
   reconstruction c and as gc-v2 reconstructions (realism 1) with `seeds` random seeds; `crops` random
   128×128 crops of each, at the same place in all of them. BSDS500's val images make the validation pool
   (one q, fixed seeds); Kodak is never read.
2. Training: real pairs (original, c), fake pairs (gc-v2, c), with the same random flips; hinge loss plus
   the R1 penalty on real pairs (γ/2·E‖∇ₓD‖², lazily every R1_EVERY steps and scaled by it, as StyleGAN2),
   Adam (lr 2e-4, betas 0.5, 0.9). The generator is fixed (closed form): there is no generator step, so
   the two-time-scale rule (a discriminator lr above the generator's) has nothing to apply to yet.
3. Every `val_every` steps, on the validation pool: hinge loss, accuracy of the per-crop mean logit's sign,
   pair accuracy (real above its own fake), and the logit gap (mean real − mean fake), into OUT/log.jsonl.
   Checkpoints (OUT/checkpoint.pt) are atomic, every `checkpoint_minutes`, on SIGTERM/Ctrl-C and at the end;
   a second `train` on the same OUT resumes exactly (the weights, Adam, both RNGs, the log).

Data-parallel under torchrun (NCCL on GPUs, gloo on CPUs; `--device` auto picks cuda when there is one):

    torchrun --nproc_per_node 4 -m ibc.codec.training.discriminator train --out runs/disc-v2 --minutes 35

Each rank builds every world-th pool chunk; each step draws one batch of world × `batch` crops, alike on every
rank (so the RNGs stay equal and the checkpoint resumes them all), and each rank trains on its own slice;
the gradients are averaged by hand, since the R1 penalty differentiates through the inputs. Rank 0 alone
writes the log, validates and checkpoints; the log's last line holds every rank's weight digests.
"""
import argparse
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ...models.discriminator_v2 import ConditionalPatchGAN, ScoreGraph, hinge_loss, r1_penalty
from ..errors import CodecError
from ..image_io import IMAGE_SUFFIXES, read_image
from ..score import SCORE_DIR, SCORE_FORMAT, SEED, WINDOW, feature_stats, features, reconstructions
from ..weights import load_model
from .config import add_options, from_options
from .distributed import Distributed
from .export import DATA_SOURCES
from .loop import resolve_device
from .pool_loop import build_pool, flip_alike, run_pooled, to_tensor

CROP = 128
QUALITIES = (4.0, 30.0)   # q drawn log-uniformly in this range for each training image
SCORE_QUALITY = 30.0      # the quality `ibc score` codes at: the top of QUALITIES, where noise no longer
                          # quantises to nothing (q 10: 0.03 bpp, as a flat image; q 30: 3 bpp)
R1_EVERY = 4


@dataclass
class DiscConfig:
    data: str = "../shared/data/train"
    out: str = "runs/disc-v2"
    gc: str = "gc-v2"             # the generative model (name or .npz path) whose reconstructions are fake
    width: int = 32
    batch: int = 16
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.9
    r1_gamma: float = 1.0
    crops: int = 4                # crops per training image
    seeds: int = 2                # gc seeds per crop
    steps: int = 10 ** 9
    minutes: float | None = None  # training time (this run, not counting the pool)
    val_every: int = 100
    log_every: int = 10
    checkpoint_minutes: float = 3.0
    threads: int = 1
    device: str = "auto"          # cuda when there is one, else cpu
    seed: int = 0
    limit: int | None = None      # only the first N training images (tests)
    init: str | None = None       # start from this run's checkpoint.pt weights (e.g. after gc-v2 changed)


def split(folder: Path, limit: int | None = None) -> tuple[list[Path], list[Path]]:
    """Training photos (every image but BSDS500's val split) and validation photos (bsds_val_*)."""
    folder = Path(folder)
    if "kodak" in folder.resolve().name.lower():
        raise CodecError(f"{folder}: Kodak is never used for training")
    if not folder.is_dir():
        raise CodecError(f"{folder}: no such folder")
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    val = [p for p in files if p.name.startswith("bsds_val_")]
    train = [p for p in files if p not in val]
    if not train:
        raise CodecError(f"{folder}: no training images")
    return train[:limit], val[:limit]


def _pool_chunk(files: list[Path], base, gc, rng: np.random.Generator, crops: int, seeds: int) -> dict:
    xs, cs, fs, qs, bpps = [], [], [], [], []
    for path in files:
        rgb = read_image(path)
        H, W = rgb.shape[:2]
        if min(H, W) < CROP:
            continue
        q = float(math.exp(rng.uniform(*np.log(QUALITIES))))
        data, c, fakes = reconstructions(rgb, base, gc, q, [int(s) for s in rng.integers(2 ** 32, size=seeds)])
        for _ in range(crops):
            r, k = int(rng.integers(H - CROP + 1)), int(rng.integers(W - CROP + 1))
            win = (slice(r, r + CROP), slice(k, k + CROP))
            xs.append(rgb[win]), cs.append(c[win]), fs.append(np.stack([f[win] for f in fakes]))
            qs.append(q), bpps.append(len(data) * 8 / (H * W))
    return {"x": np.array(xs), "c": np.array(cs), "fake": np.array(fs), "q": np.array(qs), "bpp": np.array(bpps)}


class DiscriminatorTrainer:
    def __init__(self, cfg: DiscConfig, pool: dict, val: dict, resumed: dict | None = None,
                 device: torch.device = torch.device("cpu"), ddp: Distributed = Distributed()):
        self.cfg, self.pool, self.val, self.device, self.ddp = cfg, pool, val, device, ddp
        torch.manual_seed(cfg.seed)  # the same initial weights on every rank
        self.d = ConditionalPatchGAN(cfg.width).to(device)
        self.opt = torch.optim.Adam(self.d.parameters(), lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.seconds, self.r1 = 0, 0.0, float("nan")  # r1: the last lazy R1 penalty
        if cfg.init and not resumed:
            self.d.load_state_dict(torch.load(cfg.init, map_location="cpu", weights_only=False)["d"])
        if resumed:
            self.d.load_state_dict(resumed["d"])
            self.opt.load_state_dict(resumed["opt"])
            self.rng.bit_generator.state = resumed["np_rng"]
            torch.set_rng_state(resumed["torch_rng"])
            self.step, self.seconds, self.r1 = resumed["step"], resumed["train_seconds"], resumed.get("r1", self.r1)

    def batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """This rank's slice of one batch of world × cfg.batch crops, drawn alike on every rank."""
        n, B, W = len(self.pool["x"]), self.cfg.batch, self.ddp.world
        mine = slice(self.ddp.rank * B, (self.ddp.rank + 1) * B)
        i = self.rng.integers(n, size=W * B)[mine]
        s = self.rng.integers(self.pool["fake"].shape[1], size=W * B)[mine]
        x, c, f = self.pool["x"][i], self.pool["c"][i], self.pool["fake"][i, s]
        flips = self.rng.integers(2, size=(W * B, 2)).astype(bool)[mine]
        flip_alike(flips, x, c, f)  # the same flips for the three images of a crop
        return to_tensor(x).to(self.device), to_tensor(c).to(self.device), to_tensor(f).to(self.device)

    def mean_gradients(self) -> None:
        """The gradients averaged over the ranks, in one all-reduce: by hand rather than with DDP's wrapper,
        which the lazy R1 penalty (a gradient through the input, every R1_EVERY steps) would go through, and
        whose reducer, tried under gloo, now and then aborted a process at exit."""
        grads = [p.grad for p in self.d.parameters()]
        flat = self.ddp.mean(torch.cat([g.flatten() for g in grads]))
        for g, mean in zip(grads, flat.split([g.numel() for g in grads])):
            g.copy_(mean.view_as(g))

    def train_step(self) -> dict:
        x, c, f = self.batch()
        self.d.train()
        lazy = self.step % R1_EVERY == 0 and self.cfg.r1_gamma > 0
        if lazy:
            r1, real = r1_penalty(self.d, x, c)
        else:
            r1, real = torch.zeros((), device=x.device), self.d(x, c)
        fake = self.d(f, c)
        hinge = hinge_loss(real, fake)
        loss = hinge + (self.cfg.r1_gamma / 2 * R1_EVERY) * r1
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.ddp.world > 1:
            self.mean_gradients()
        self.opt.step()
        self.step += 1
        out = {"hinge": float(hinge.detach()), "d_real": float(torch.stack([m.detach().mean() for m in real]).mean()),
               "d_fake": float(torch.stack([m.detach().mean() for m in fake]).mean())}
        if lazy:
            self.r1 = float(r1.detach())
        return {**out, "r1": self.r1}

    @torch.no_grad()
    def validate(self, batch: int = 32) -> dict:
        self.d.eval()
        sr, sf, hinge = [], [], []
        for k in range(0, len(self.val["x"]), batch):
            x, c, f = (to_tensor(a).to(self.device) for a in
                       (self.val["x"][k:k + batch], self.val["c"][k:k + batch], self.val["fake"][k:k + batch, 0]))
            real, fake = self.d(x, c), self.d(f, c)
            hinge.append(float(hinge_loss(real, fake)) * len(x))
            sr.append(torch.stack([m.mean((1, 2, 3)) for m in real], 1).mean(1))
            sf.append(torch.stack([m.mean((1, 2, 3)) for m in fake], 1).mean(1))
        sr, sf = torch.cat(sr), torch.cat(sf)
        return {"hinge": sum(hinge) / len(sr), "acc": float(((sr > 0).float().mean() + (sf < 0).float().mean()) / 2),
                "pair_acc": float((sr > sf).float().mean()), "gap": float(sr.mean() - sf.mean()),
                "d_real": float(sr.mean()), "d_fake": float(sf.mean())}

    @property
    def module(self) -> torch.nn.Module:
        return self.d

    @staticmethod
    def summary(v: dict) -> str:
        return " ".join(f"{k} {x:.3f}" for k, x in v.items())

    def state(self) -> dict:
        return {"d": self.d.state_dict(), "opt": self.opt.state_dict(), "np_rng": self.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "step": self.step, "train_seconds": self.seconds, "r1": self.r1,
                "config": asdict(self.cfg), "d_config": self.d.config()}


def _say(message: str) -> None:
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"disc-v2: {message}", file=sys.stderr, flush=True)


def models(gc_name: str):
    gc = load_model(gc_name)
    if gc.noise is None:
        raise CodecError(f"{gc_name}: not a wavelet generative (gc) model")
    base = load_model(gc.meta["base"]["name"])
    if base.sha256 != gc.meta["base"]["sha256"]:
        raise CodecError(f"{gc_name}: its base {gc.meta['base']['name']} is not the installed one")
    return base, gc


def _identity(base, gc) -> dict:
    return {"gc": {"name": gc.name, "sha256": gc.sha256}, "base": {"name": base.name, "sha256": base.sha256}}


def checked_models(gc_name: str, run: Path):
    """The base and gc models, which must be those the run's pool was built with (if it has one)."""
    base, gc = models(gc_name)
    pool_meta = Path(run) / "pool" / "models.json"
    if pool_meta.exists() and json.loads(pool_meta.read_text()) != _identity(base, gc):
        raise CodecError(f"{pool_meta.parent}: built with other models than the installed {gc.name} "
                         f"{gc.sha256[:16]} on {base.name} {base.sha256[:16]} (train a new run folder, "
                         "e.g. with --init from this one)")
    return base, gc


def train(cfg: DiscConfig) -> Path:
    """Build (or read) the pools, then train until cfg.steps, cfg.minutes or a stop signal; returns the checkpoint."""
    torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    ddp = Distributed.from_environment(device)
    device = ddp.local(device)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    resumed = torch.load(ckpt, map_location="cpu", weights_only=False) if ckpt.exists() else None
    if resumed:  # the pool and the model are those of the run being resumed
        cfg = DiscConfig(**{**resumed["config"], "steps": cfg.steps, "minutes": cfg.minutes, "device": cfg.device})
    base, gc = checked_models(cfg.gc, out)
    pool_meta = out / "pool" / "models.json"
    pool_meta.parent.mkdir(parents=True, exist_ok=True)
    if ddp.main:  # atomically: the other ranks may be reading it in checked_models
        tmp = pool_meta.with_name("models.json.tmp")
        tmp.write_text(json.dumps(_identity(base, gc), indent=1))
        os.replace(tmp, pool_meta)
    train_files, val_files = split(Path(cfg.data), cfg.limit)
    t = time.process_time()

    def chunk(crops: int, seeds: int):
        return lambda files, rng: _pool_chunk(files, base, gc, rng, crops, seeds)

    val = build_pool(val_files, out / "pool", "val", chunk(2, 1), cfg.seed, _say, ddp)
    pool = build_pool(train_files, out / "pool", "train", chunk(cfg.crops, cfg.seeds), cfg.seed, _say, ddp)
    _say(f"pools: {len(pool['x'])} training crops ({len(train_files)} images), {len(val['x'])} validation crops "
         f"({time.process_time() - t:.0f} CPU-s this run)")
    return run_pooled(DiscriminatorTrainer(cfg, pool, val, resumed, device, ddp), cfg, out, resumed, _say, ddp)


def load_discriminator(ckpt: Path) -> tuple[ConditionalPatchGAN, dict]:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    d = ConditionalPatchGAN(**state["d_config"])
    d.load_state_dict(state["d"])
    return d.eval(), state


def export_onnx(d: ConditionalPatchGAN, path: Path) -> None:
    """The score graph (x, c → mean logit) with the spectral norms folded into the weights."""
    import warnings
    from torch.nn.utils import parametrize
    copy = ConditionalPatchGAN(**d.config())
    copy.load_state_dict(d.state_dict())
    d = copy.eval()
    for m in list(d.modules()):
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    example = (torch.rand(1, 3, 96, 128), torch.rand(1, 3, 96, 128))
    tmp = path.with_name(path.name + ".tmp")
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(ScoreGraph(d), example, str(tmp), input_names=["x", "c"], output_names=["d"],
                          dynamic_axes={"x": {0: "b", 2: "h", 3: "w"}, "c": {0: "b", 2: "h", 3: "w"}, "d": {0: "b"}},
                          opset_version=17, dynamo=False)
    os.replace(tmp, path)


def export(run: Path, dest: Path = SCORE_DIR, photos: int = 120, quality: float = SCORE_QUALITY) -> dict:
    """The run's discriminator as dest/discriminator.onnx, and dest/score.json with the feature statistics
    over `photos` training photos (every k-th of the training split) at `quality`, taken through codec.score
    exactly as `ibc score` takes them, with the installed gc-v2 and shannon-v2 (whose sha256s `ibc score`
    then checks). After gc-v2 changes, an export alone (minutes) makes the statistics match it again; the
    discriminator keeps judging against the gc-v2 it was trained on (score.json: trained_against) until a
    run with --init retrains it."""
    import hashlib
    torch.set_num_threads(1)
    d, state = load_discriminator(Path(run) / "checkpoint.pt")
    cfg = DiscConfig(**state["config"])
    base, gc = models(cfg.gc)  # the statistics are taken with the installed models …
    trained = json.loads((Path(run) / "pool" / "models.json").read_text())  # … the discriminator saw these
    if trained != _identity(base, gc):
        _say(f"the discriminator was trained against gc-v2 {trained['gc']['sha256'][:16]} on "
             f"{trained['base']['sha256'][:16]}; the statistics are taken with the installed {gc.sha256[:16]} on "
             f"{base.sha256[:16]} (retrain with --init for a discriminator of these)")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    onnx_path = dest / "discriminator.onnx"
    export_onnx(d, onnx_path)
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
    x, c = torch.rand(2, 3, 128, 160), torch.rand(2, 3, 128, 160)
    with torch.no_grad():
        want = d.score(x, c).numpy()
    got = session.run(None, {"x": x.numpy(), "c": c.numpy()})[0]
    if not np.allclose(got, want, atol=1e-4):
        raise CodecError(f"the ONNX discriminator differs from the checkpoint's ({got} vs {want})")
    train_files, val_files = split(Path(cfg.data))
    chosen = train_files[::max(1, len(train_files) // photos)][:photos]
    t = time.process_time()
    values = [features(read_image(p), base, gc, session, quality) for p in chosen]
    info = {"format": SCORE_FORMAT, "quality": quality, "seed": SEED, "window": WINDOW,
            "rate_feature": "log2 of the bpp of the image's own shannon-v2 file at `quality`",
            "d_feature": "the discriminator's mean logit on the gc reconstruction (realism 1, `seed`), "
                         "conditioned on the Shannon-AE v2 reconstruction",
            **_identity(base, gc),
            "discriminator": {"file": onnx_path.name, "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
                              "config": state["d_config"], "steps": state["step"], "trained_against": trained,
                              "train_cpu_seconds": round(state["train_seconds"], 1),
                              "recipe": f"hinge + R1 (γ {cfg.r1_gamma}, lazy every {R1_EVERY}), Adam lr {cfg.lr} "
                                        f"betas ({cfg.beta1}, {cfg.beta2}), batch {cfg.batch}, {CROP}² crops, "
                                        f"q log-uniform in {QUALITIES[0]:g}…{QUALITIES[1]:g}"
                                        + (f"; warm start from {cfg.init}" if cfg.init else "")},
            "stats": feature_stats(values),
            "photos": f"{len(chosen)} training photos (every {max(1, len(train_files) // photos)}th of "
                      f"{len(train_files)}), {cfg.data}",
            "data_sources": DATA_SOURCES}
    (dest / "score.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    _say(f"stats over {len(chosen)} photos in {time.process_time() - t:.0f} CPU-s: {info['stats']}")
    return info


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ibc.codec.training.discriminator", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="build the crop pools (once), then train or resume")
    defaults = DiscConfig()
    add_options(t, DiscConfig)
    e = sub.add_parser("export", help="write weights/gc-v2-score/ from a run's checkpoint")
    e.add_argument("--out", default=defaults.out, help="the run folder")
    e.add_argument("--dest", default=str(SCORE_DIR))
    e.add_argument("--photos", type=int, default=120, help="training photos the statistics are taken over")
    args = p.parse_args(argv)
    try:
        if args.command == "train":
            train(from_options(args, DiscConfig))
        else:
            export(Path(args.out), Path(args.dest), args.photos)
    except CodecError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
