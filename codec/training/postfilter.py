"""Train a wavelet model's post-filter (models.postfilter) on its fixed bitstream, and export it.

    python -m ibc.codec.training.postfilter train --data ../shared/data/train --base shannon-v4 --out runs/pf --minutes 60
    python -m ibc.codec.training.postfilter export --out runs/pf     # → weights/shannon-v4-postfilter/

1. A pool built once into OUT/pool/ (chunks written atomically, so an interrupted build resumes): each
   training photo (BSDS500 val held out, Kodak never read) is coded by the base model at a quality drawn
   uniformly in QUALITIES, decoded, and `crops` random CROP² crops of (original, decoded, step) kept.
   The validation pool: BSDS500 val photos at VAL_QUALITIES, a centre crop each.
2. Training: MSE of filter(decoded, step) against the original, random flips, Adam. The filter starts
   as the identity, so step 0 is the codec without it.
3. Every `val_every` steps: the PSNR gain on the validation pool at each quality, into OUT/log.jsonl.
   Checkpoints (OUT/checkpoint.pt) are atomic, every `checkpoint_minutes`, on SIGTERM/Ctrl-C and at
   the end; `train` on the same OUT resumes (weights, Adam, RNGs, the log). OUT/best.pt is the step that
   validated best (mean gain over the qualities): what `export` ships.
4. `--init` warm-starts from another run's filter (a checkpoint, or an installed filter's folder),
   grown (models.postfilter.PostFilter.grown) when `--width`/`--depth` are larger, so the bigger filter
   starts where the smaller one ended; `--pool` reuses another run's pool of the same base model.
5. `--tune ms-ssim` trains the filter of the base model's ms-ssim tune (weights/BASE-postfilter-ms-ssim/):
   the pool is coded with the tune's step weights and decoded without a filter, the loss is 1 − MS-SSIM
   on MS_SSIM_CROP² crops (its five scales fit), validation is the MS-SSIM gain in dB. It starts from the
   model's own filter, which a tune's files already suit better than the identity
   (bench/msssim_filter_probe.md measured the gain before this was built).
"""
import argparse
import dataclasses
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ...models.postfilter import PostFilter
from ..errors import CodecError
from ..image_io import read_image
from ..metrics import psnr_of_mse
from ..postfilter import step_feature
from ..step_code import code_of_quality, step_from_code
from .pool_loop import build_pool, flip_alike, read_pool, run_pooled, to_tensor
from .config import add_options, from_options
from .discriminator import split

CROP = 128
MS_SSIM_CROP = 192  # MS-SSIM's coarsest scale needs over 160 pixels a side
QUALITIES = (10.0, 80.0)
VAL_QUALITIES = (18.0, 34.0, 50.0, 66.0)
VAL_CROP = 256


@dataclass
class FilterConfig:
    data: str = "../shared/data/train"
    out: str = "runs/postfilter"
    base: str = "shannon-v4"      # the model whose decodes it filters
    width: int = 16
    depth: int = 4
    batch: int = 16
    lr: float = 5e-4
    crops: int = 6
    steps: int = 10 ** 9
    minutes: float | None = None
    val_every: int = 250
    log_every: int = 25
    checkpoint_minutes: float = 3.0
    threads: int = 1
    seed: int = 0
    limit: int | None = None      # only the first N images of each split (tests, probes)
    init: str | None = None       # start from this checkpoint's filter (another base model's, or a smaller one, grown)
    pool: str | None = None       # use this run folder's pool (same base model) instead of building one in OUT
    qualities: tuple = QUALITIES  # training crops are coded at a q drawn uniformly in this range
    val_qualities: tuple = VAL_QUALITIES  # validation crops are coded at each of these
    tune: str = "psnr"            # the base model's tune whose files it filters: psnr (MSE) or ms-ssim (1 − MS-SSIM)
    codes: tuple | None = None    # that tune's step weight codes (default: the base model's installed tune)


def _say(message: str) -> None:
    print(f"postfilter: {message}", file=sys.stderr, flush=True)


def _code(rgb: np.ndarray, base, q: float, tune: str = "psnr") -> np.ndarray:
    """The decode, without any post-filter, of `tune`'s file of `rgb` at q."""
    from ..api import compress, decompress
    return decompress(compress(rgb, base, quality=q, tune=tune), base, realism=0.0, postfilter=False)


def _crop(tune: str) -> int:
    return MS_SSIM_CROP if tune == "ms-ssim" else CROP


def _chunk(files: list[Path], base, rng: np.random.Generator, crops: int, val: bool,
           qualities: tuple = QUALITIES, val_qualities: tuple = VAL_QUALITIES, tune: str = "psnr") -> dict:
    xs, cs, ss = [], [], []
    for path in files:
        rgb = read_image(path)
        H, W = rgb.shape[:2]
        side = _crop(tune) if (tune == "ms-ssim" or not val) else VAL_CROP  # ms-ssim: one side for both
        if min(H, W) < side:
            continue
        qs = val_qualities if val else (float(rng.uniform(*qualities)),)
        for q in qs:
            c = _code(rgb, base, q, tune)
            places = [((H - side) // 2, (W - side) // 2)] if val else \
                [(int(rng.integers(H - side + 1)), int(rng.integers(W - side + 1))) for _ in range(crops)]
            for r, k in places:
                xs.append(rgb[r:r + side, k:k + side]), cs.append(c[r:r + side, k:k + side])
                ss.append(step_from_code(code_of_quality(q)))
    return {"x": np.array(xs), "c": np.array(cs), "step": np.array(ss)}


def _steps(s: np.ndarray) -> torch.Tensor:
    return torch.tensor([step_feature(float(v)) for v in s])


def _start(init: str) -> tuple[PostFilter, float]:
    """The filter to warm-start from and the CPU seconds it cost: a run's checkpoint, or an installed
    filter's folder (its ONNX graph's weights)."""
    if Path(init).is_dir():
        return filter_from_onnx(Path(init) / "postfilter.onnx"), 0.0
    start = torch.load(init, map_location="cpu", weights_only=False)
    f = PostFilter(**start["f_config"])
    f.load_state_dict(start["f"])
    return f, start.get("train_seconds", 0.0) + start.get("inherited_seconds", 0.0)


def filter_from_onnx(path: Path) -> PostFilter:
    """The PostFilter whose export is the graph at `path`: the convolutions by their names, the PReLU
    slopes (which the export renames, and shares when equal) by the PRelu nodes, in graph order."""
    import onnx
    from onnx import numpy_helper
    graph = onnx.load(str(path)).graph
    weights = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    for n in graph.node:  # equal slopes come as one tensor behind Identity nodes
        if n.op_type == "Identity" and n.input[0] in weights:
            weights[n.output[0]] = weights[n.input[0]]
    slopes = [weights[n.input[1]] for n in graph.node if n.op_type == "PRelu"]
    convs = {k: v for k, v in weights.items() if k.startswith("net.")}
    width, depth = convs["net.0.weight"].shape[0], len(convs) // 2
    f = PostFilter(width, depth)
    state = {k: torch.from_numpy(v.copy()) for k, v in convs.items()}
    state |= {f"net.{2 * k + 1}.weight": torch.from_numpy(v.reshape(-1).copy()) for k, v in enumerate(slopes)}
    f.load_state_dict(state)
    return f


def _psnr_db(x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """PSNR of each crop in [0, 1]; an exact crop counts as 120 dB, not inf, so that a mean stays a number."""
    return [psnr_of_mse(max(float(v), 1e-12), peak=1.0) for v in ((y - x) ** 2).mean((1, 2, 3))]


def _ms_ssim_db(x: torch.Tensor, y: torch.Tensor) -> list[float]:
    """MS-SSIM (dB) of each crop in [0, 1] on 8-bit levels, as codec.metrics measures decoded images."""
    from ..metrics import db, ms_ssim
    levels = [np.round(t.permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8) for t in (x, y)]
    return [db(ms_ssim(a, b)) for a, b in zip(*levels)]


def _loss(tune: str, y: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Squared error for the psnr tune's filter; 1 − MS-SSIM (pytorch_msssim, as codec.metrics) for the ms-ssim one."""
    if tune == "ms-ssim":
        from pytorch_msssim import ms_ssim
        return 1 - ms_ssim(y.clamp(0, 1), x, data_range=1.0)
    return torch.mean((y - x) ** 2)


class FilterTrainer:
    def __init__(self, cfg: FilterConfig, pool: dict, val: dict, resumed: dict | None = None):
        self.cfg, self.pool, self.val = cfg, pool, val
        torch.manual_seed(cfg.seed)
        self.f = PostFilter(cfg.width, cfg.depth)
        self.opt = torch.optim.Adam(self.f.parameters(), lr=cfg.lr)
        self.rng = np.random.default_rng(cfg.seed)
        self.step, self.seconds, self.inherited = 0, 0.0, 0.0  # inherited: the warm start's CPU seconds
        if cfg.init and not resumed:
            small, self.inherited = _start(cfg.init)
            self.f.load_state_dict(small.grown(cfg.width, cfg.depth).state_dict())
        if resumed:
            self.f.load_state_dict(resumed["f"])
            self.opt.load_state_dict(resumed["opt"])
            self.rng.bit_generator.state = resumed["np_rng"]
            torch.set_rng_state(resumed["torch_rng"])
            self.step, self.seconds = resumed["step"], resumed["train_seconds"]
            self.inherited = resumed.get("inherited_seconds", 0.0)

    def train_step(self) -> dict:
        i = self.rng.integers(len(self.pool["x"]), size=self.cfg.batch)
        x, c = self.pool["x"][i], self.pool["c"][i]
        flips = self.rng.integers(2, size=(len(i), 2)).astype(bool)
        flip_alike(flips, x, c)
        x, c = to_tensor(x), to_tensor(c)
        loss = _loss(self.cfg.tune, self.f(c, _steps(self.pool["step"][i])), x)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1
        return {"mse" if self.cfg.tune == "psnr" else "1-ms-ssim": float(loss.detach())}

    @torch.no_grad()
    def validate(self, batch: int = 8) -> dict:
        """PSNR (ms-ssim tune: MS-SSIM dB) of the decoded crops and gain of the filtered ones (rounded to 8
        bits, as shipped), per quality."""
        name, measure = ("psnr", _psnr_db) if self.cfg.tune == "psnr" else ("ms_ssim_db", _ms_ssim_db)
        out = {}
        for step in np.unique(self.val["step"]):
            sel = np.flatnonzero(self.val["step"] == step)
            before, after = [], []
            for k in range(0, len(sel), batch):
                j = sel[k:k + batch]
                x, c = to_tensor(self.val["x"][j]), to_tensor(self.val["c"][j])
                y = torch.round(self.f(c, _steps(self.val["step"][j])).clamp(0, 1) * 255) / 255
                before += measure(x, c)
                after += measure(x, y)
            b = float(np.mean(before))
            out[f"{step:.1f}"] = {name: round(b, 3), "gain": round(float(np.mean(after)) - b, 4)}
        return out

    @staticmethod
    def score(v: dict) -> float:
        """What the best checkpoint is chosen by: the mean gain over the validation qualities."""
        return float(np.mean([d["gain"] for d in v.values()]))

    @property
    def module(self) -> torch.nn.Module:
        return self.f

    @staticmethod
    def summary(v: dict) -> str:
        return " ".join(f"step {k}: {d.get('psnr', d.get('ms_ssim_db')):.2f} dB {d['gain']:+.3f}" for k, d in v.items())

    def state(self) -> dict:
        return {"f": self.f.state_dict(), "opt": self.opt.state_dict(), "np_rng": self.rng.bit_generator.state,
                "torch_rng": torch.get_rng_state(), "step": self.step, "train_seconds": self.seconds,
                "inherited_seconds": self.inherited,
                "config": asdict(self.cfg), "f_config": self.f.config()}


def _pool_dir(cfg: FilterConfig, out: Path) -> Path:
    return Path(cfg.pool) / "pool" if cfg.pool else Path(out) / "pool"


def train(cfg: FilterConfig, train_files: list[Path] | None = None, val_files: list[Path] | None = None,
          deadline: float | None = None) -> Path:
    """Build the pools (once) and train or resume. The photos: `train_files` and `val_files` when given
    (`ibc train`'s split), else cfg.data split by BSDS500's names. `deadline` (time.time()) ends the
    run, pool building included."""
    from ..weights import load_model
    torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    ckpt = out / "checkpoint.pt"
    resumed = torch.load(ckpt, map_location="cpu", weights_only=False) if ckpt.exists() else None
    if resumed:
        cfg = FilterConfig(**{**resumed["config"], "steps": cfg.steps, "minutes": cfg.minutes})
    base = load_model(cfg.base)
    pool_dir = _pool_dir(cfg, out)
    if cfg.codes is not None:  # a tune just fitted, not yet installed beside the base
        base = dataclasses.replace(base, tunes={**(base.tunes or {}), cfg.tune: tuple(cfg.codes)})
    if cfg.tune != "psnr" and cfg.tune not in (base.tunes or {}):
        raise CodecError(f"{cfg.base} has no {cfg.tune} tune to train a filter for (fit it first)")
    codes = list(base.step_weights(cfg.tune)) if cfg.tune != "psnr" else None  # what the pool was coded with
    meta = pool_dir / "base.json"
    meta.parent.mkdir(parents=True, exist_ok=True)
    built = json.loads(meta.read_text()) if meta.exists() else None
    if built is not None and (built["sha256"], built.get("codes")) != (base.sha256, codes):
        raise CodecError(f"{meta.parent}: built with another {cfg.base} (or tune) than the installed one "
                         "(use a new run folder)")
    meta.write_text(json.dumps({"name": base.name, "sha256": base.sha256, **({"codes": codes} if codes else {})}))
    if train_files is None:
        train_files, val_files = split(Path(cfg.data), cfg.limit)
    qs = (tuple(cfg.qualities), tuple(cfg.val_qualities), cfg.tune)
    val = build_pool(val_files, pool_dir, "val", lambda files, rng: _chunk(files, base, rng, 1, True, *qs), cfg.seed, _say)
    pool = build_pool(train_files, pool_dir, "train", lambda files, rng: _chunk(files, base, rng, cfg.crops, False, *qs),
                      cfg.seed, _say)
    _say(f"pools: {len(pool['x'])} training crops, {len(val['x'])} validation crops")
    if not len(pool["x"]):
        raise CodecError(f"no training photo is large enough for the filter's crops ({_crop(cfg.tune)} pixels a side)")
    if deadline is not None:  # what is left after the pools
        cfg = FilterConfig(**{**asdict(cfg), "minutes": max((deadline - time.time()) / 60, 0.05)})
    return run_pooled(FilterTrainer(cfg, pool, val, resumed), cfg, out, resumed, _say)


def export(run: Path, dest: Path | None = None, checkpoint: str | None = None) -> Path:
    """The run's filter as weights/BASE-postfilter/ (postfilter.onnx + postfilter.json), checked against the
    checkpoint on random input: best.pt (the best-validated step) when the run has one, else
    checkpoint.pt. The json gets the checkpoint's validation figures (from the log, or measured now on
    the run's validation pool when the log has none at its step)."""
    import hashlib
    import warnings
    from ..postfilter import FILTER_FORMAT, filter_dir
    from ..weights import load_model, resolve
    from .export import DATA_SOURCES
    torch.set_num_threads(1)
    run = Path(run)
    checkpoint = checkpoint or ("best.pt" if (run / "best.pt").exists() else "checkpoint.pt")
    state = torch.load(run / checkpoint, map_location="cpu", weights_only=False)
    cfg = FilterConfig(**state["config"])
    f = PostFilter(**state["f_config"])
    f.load_state_dict(state["f"])
    f.eval()
    base = load_model(cfg.base)
    trained = json.loads((_pool_dir(cfg, run) / "base.json").read_text())
    if trained["sha256"] != base.sha256:
        raise CodecError(f"{run}: trained on another {cfg.base} than the installed one")
    dest = Path(dest) if dest else filter_dir(resolve(cfg.base), cfg.tune)
    dest.mkdir(parents=True, exist_ok=True)
    onnx_path = dest / "postfilter.onnx"
    tmp = onnx_path.with_name(onnx_path.name + ".tmp")
    example = (torch.rand(1, 3, 64, 96), torch.tensor([0.7]))
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(f, example, str(tmp), input_names=["x", "s"], output_names=["y"],
                          dynamic_axes={"x": {2: "h", 3: "w"}, "y": {2: "h", 3: "w"}}, opset_version=17, dynamo=False)
    os.replace(tmp, onnx_path)
    import onnxruntime as ort
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    x, s = torch.rand(1, 3, 80, 112), torch.tensor([0.6])
    with torch.no_grad():
        want = f(x, s).numpy()
    got = session.run(None, {"x": x.numpy(), "s": s.numpy()})[0]
    if not np.allclose(got, want, atol=1e-5):
        raise CodecError("the ONNX post-filter differs from the checkpoint's")
    records = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines() if line]
    last_val = ([r for r in records if "val" in r and r["step"] == state["step"]] or [None])[-1]
    if last_val is None:  # the checkpoint is later than the last validation: validate it
        val = read_pool(_pool_dir(cfg, run), "val")
        judge = FilterTrainer(cfg, val, val)
        judge.f = f
        last_val = {"step": state["step"], "val": judge.validate()}
    loss = "MSE" if cfg.tune == "psnr" else f"1 − MS-SSIM ({MS_SSIM_CROP}² crops of the {cfg.tune} tune's files)"
    info = {"format": FILTER_FORMAT, "sha256": hashlib.sha256(onnx_path.read_bytes()).hexdigest(),
            "base": {"name": base.name, "sha256": base.sha256}, **({"tune": cfg.tune} if cfg.tune != "psnr" else {}),
            "margin": f.margin, "config": f.config(),
            "training": {"steps": state["step"], "cpu_core_hours": round(state["train_seconds"] / 3600, 2),
                         "cpu_core_hours_with_warm_start":
                             round((state["train_seconds"] + state.get("inherited_seconds", 0.0)) / 3600, 2),
                         "recipe": f"{loss} against the original, Adam lr {cfg.lr}, batch {cfg.batch} of {_crop(cfg.tune)}² crops "
                                   f"of {base.name} decodes at q uniform in {cfg.qualities[0]:g}…{cfg.qualities[1]:g}",
                         "data": f"{cfg.data}: the training split (BSDS500 val held out for validation; Kodak never "
                                 "read)",
                         "command": f"python -m ibc.codec.training.postfilter train --base {_shown(cfg.base)} --out {run}"
                                    + "".join(f" --{k.replace('_', '-')} {_shown(v)}" for k, v in asdict(cfg).items()
                                              if k in ("width", "depth", "lr", "init", "pool", "tune") and v != getattr(FilterConfig, k)),
                         **({"warm_start": _shown(cfg.init)} if cfg.init else {})},
            "validation": {"what": f"validation photos' centre crops {VAL_CROP if cfg.tune == 'psnr' else MS_SSIM_CROP}², "
                                   f"{'PSNR' if cfg.tune == 'psnr' else 'MS-SSIM'} "
                                   "of the decode and the filter's gain (dB), by quantiser step", "step": last_val["step"], "by_step": last_val["val"]},
            "data_sources": DATA_SOURCES}
    (dest / "postfilter.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n")
    _say(f"exported step {state['step']} into {dest}")
    return dest


def _shown(value):
    """A path as the record shows it: relative to the working folder when inside it (the machine's own
    folders stay out of shipped files); any other value as it is."""
    if isinstance(value, str) and os.path.isabs(value) and Path(value).is_relative_to(Path.cwd()):
        return os.path.relpath(value)
    return value


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m ibc.codec.training.postfilter", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="build the pools (once), then train or resume")
    defaults = FilterConfig()
    add_options(t, FilterConfig)
    e = sub.add_parser("export", help="write weights/BASE-postfilter/ from a run's checkpoint")
    e.add_argument("--out", default=defaults.out, help="the run folder")
    e.add_argument("--dest", help="default: weights/BASE-postfilter/ beside the base model")
    e.add_argument("--checkpoint", help="a file in the run folder (default: best.pt if there is one, else checkpoint.pt)")
    args = p.parse_args(argv)
    try:
        if args.command == "train":
            train(from_options(args, FilterConfig))
        else:
            export(Path(args.out), args.dest, args.checkpoint)
    except CodecError as e:
        print(f"postfilter: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
