"""The loop of trainers whose data is a pool of coded crops built once (the gc-v2 discriminator, the
post-filter): the pool in atomic chunk files, then steps until a step count, minutes or a stop signal,
with the JSONL log, validation, timed atomic checkpoints and exact resume.

    pool = build_pool(files, out / "pool", "train", make_chunk, seed, say, ddp)   # once; resumes by chunk
    run_pooled(trainer, cfg, out, resumed, say, ddp)

A trainer brings `train_step() → dict`, `validate() → dict`, `summary(val) → str`, `state() → dict`,
its `step` and `seconds` (CPU seconds of training so far), and `module` (what data-parallel replicas must
agree on); a trainer with `score(val) → float` (higher is better) also gets OUT/best.pt, the checkpoint
that validated best so far, which is what its export should ship; `cfg` has steps, minutes, log_every,
val_every and checkpoint_minutes. Under torchrun every rank runs the loop, only rank 0 writes the log and
the checkpoints, and all stop at the same step.
"""
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from .checkpoint import save_checkpoint
from .distributed import Distributed
from .loop import RunLog, stop_signals

CHUNK = 50  # images per pool file


def build_pool(files: list[Path], folder: Path, name: str, make_chunk, seed: int, say=print,
               ddp: Distributed = Distributed()) -> dict:
    """The pool of `files`, chunk by chunk into folder/NAME-KKK.npz (built if missing) by
    `make_chunk(files, rng) → dict of arrays`, concatenated. Each rank builds every world-th chunk, then
    waits for the others' files (no collective, which would time out during a long build)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {k: folder / f"{name}-{k // CHUNK:03d}.npz" for k in range(0, len(files), CHUNK)}
    for k, path in paths.items():
        if (k // CHUNK) % ddp.world == ddp.rank and not path.exists():
            t = time.time()
            part = make_chunk(files[k:k + CHUNK], np.random.default_rng([seed, k, int(name == "val")]))
            tmp = path.with_name(path.stem + ".tmp.npz")
            np.savez(tmp, **part)
            os.replace(tmp, path)
            say(f"pool {name}: images {k}–{min(k + CHUNK, len(files))} of {len(files)} in {time.time() - t:.0f} s")
    for path in paths.values():
        while not path.exists():  # another rank's chunk, written atomically
            time.sleep(1)
    return _concatenated(paths.values())


def read_pool(folder: Path, name: str) -> dict:
    """A pool `build_pool` wrote, read back whole (e.g. to validate an exported checkpoint)."""
    return _concatenated(sorted(p for p in Path(folder).glob(f"{name}-*.npz") if not p.name.endswith(".tmp.npz")))


def _concatenated(paths) -> dict:
    parts = []
    for path in paths:
        with np.load(path) as z:
            parts.append({key: z[key] for key in z.files})
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def flip_alike(flips: np.ndarray, *crops: np.ndarray) -> None:
    """Flip crop i of every array (B,H,W,3) in place, vertically where flips[i, 0], horizontally where
    flips[i, 1]: the images of one training example get the same flips."""
    for a in crops:
        a[flips[:, 0]] = a[flips[:, 0], ::-1]
        a[flips[:, 1]] = a[flips[:, 1], :, ::-1]


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """(B,H,W,3) uint8 crops → (B,3,H,W) float in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float() / 255.0


def truncate_log(path: Path, step: int) -> None:
    """Keep the log lines up to the checkpoint's step: a resumed run writes the rest again, exactly."""
    if path.exists():
        keep = [line for line in path.read_text().splitlines() if line and json.loads(line)["step"] <= step]
        path.write_text("".join(line + "\n" for line in keep))


def run_pooled(trainer, cfg, out: Path, resumed: dict | None, say, ddp: Distributed = Distributed()) -> Path:
    """Train until cfg.steps, cfg.minutes or a stop signal; returns the checkpoint's path."""
    ckpt, log_path = out / "checkpoint.pt", out / "log.jsonl"
    if ddp.main:
        truncate_log(log_path, trainer.step if resumed else -1)
    log = RunLog(log_path, ddp.main)
    started = last_save = time.time()
    cpu0, seconds0 = time.process_time(), trainer.seconds

    def cpu() -> float:
        return seconds0 + time.process_time() - cpu0

    def save(path: Path = ckpt):
        trainer.seconds = cpu()
        if ddp.main:
            save_checkpoint(path, {**trainer.state(), "best_score": best[0]})

    scored = hasattr(trainer, "score") and ddp.main
    best = [-float("inf")]  # the score of OUT/best.pt, which may be newer than the checkpoint resumed
    if resumed and (out / "best.pt").exists():
        best[0] = torch.load(out / "best.pt", map_location="cpu", weights_only=False)["best_score"]

    def validated(v: dict) -> None:
        if scored and trainer.score(v) > best[0]:
            best[0] = trainer.score(v)
            save(out / "best.pt")

    try:
        with stop_signals() as stop:
            if not resumed and ddp.main:
                v = trainer.validate()
                log.write({"step": 0, "val": v, "cpu_s": 0.0})
                validated(v)
            while trainer.step < cfg.steps:
                if ddp.any(stop["now"] or bool(cfg.minutes) and time.time() - started > cfg.minutes * 60):
                    break
                figures = trainer.train_step()
                if trainer.step % cfg.log_every == 0:
                    log.write({"step": trainer.step, **figures, "cpu_s": cpu()})
                if trainer.step % cfg.val_every == 0 and ddp.main:
                    v = trainer.validate()
                    log.write({"step": trainer.step, "val": v, "cpu_s": cpu()})
                    say(f"step {trainer.step} {trainer.summary(v)}")
                    validated(v)
                if time.time() - last_save > cfg.checkpoint_minutes * 60:
                    save()
                    last_save = time.time()
            save()
            if ddp.world > 1:
                log.write({"step": trainer.step, "ddp_state_digests": ddp.state_digests(trainer.module)})
                ddp.finish()
    finally:
        log.close()
    say(f"checkpoint at step {trainer.step}: {ckpt}")
    return ckpt
