"""The training loop every trainer runs, read top to bottom: stop signals, the JSONL log, the progress bar,
the steps and hours limits, timed atomic checkpoints and exact resume. A trainer brings its step and its
state, nothing else:

    trainer = SomeTrainer(tcfg, …, resumed)        # models and optimizers, restored from `resumed`
    return run(trainer, tcfg, images, out, device, resumed)

A checkpoint is the trainer's state plus what the loop adds: the step, the RNG, the config and the
training seconds so far. Resuming restores the RNG after the data loader is made (making it draws a
seed), so the crops, and so the run, continue exactly.
"""
import json
import os
import signal
import sys
import time
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import NamedTuple

import torch
from tqdm import tqdm

from ..dataset import CropDataset, list_images, split_train_val
from ..errors import CodecError
from .checkpoint import save_checkpoint
from .config import TrainConfig
from .distributed import Distributed
from .schedules import lr_at


class Figures(NamedTuple):
    """What one step reports: the fields of its line in log.jsonl, and the progress bar's few, formatted."""
    logged: dict
    shown: dict


class Trainer:
    """What the loop asks of a trainer."""
    desc = "train"        # the progress bar's label
    model: torch.nn.Module  # what the data-parallel replicas must agree on
    validate_at_start = False  # also validate before the first step (a learning curve's step 0)

    def step(self, x: torch.Tensor, lr: float, log: bool) -> Figures | None:
        """One optimisation step on the crops x (B,3,H,W) at the scheduled learning rate; with `log`, its figures."""
        raise NotImplementedError

    def validate(self) -> dict:
        """Figures on the fixed validation crops (main process only)."""
        raise NotImplementedError

    def state(self) -> dict:
        """What a checkpoint holds of this trainer: configs, weights, optimizers, steered values."""
        raise NotImplementedError

    def give_up(self) -> str | None:
        """After a validation: why the run cannot reach its goal, if it cannot (the loop saves, then stops)."""
        return None


def say(message: str) -> None:
    """Set-up takes a minute or so before the first step: say what it is doing (main process only)."""
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"ibc train: {message}", file=sys.stderr, flush=True)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CodecError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


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


@contextmanager
def stop_signals():
    """SIGTERM and Ctrl-C end the run after the current step, with a checkpoint."""
    stop = {"now": False}
    handlers = {sig: signal.signal(sig, lambda *_: stop.update(now=True)) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)


class RunLog:
    """OUT/log.jsonl, one JSON object a line, flushed at once; written by the main process only."""

    def __init__(self, path: Path, main: bool):
        self.file = open(path, "a") if main else None

    def write(self, record: dict) -> None:
        if self.file:
            self.file.write(json.dumps(record) + "\n")
            self.file.flush()

    def close(self) -> None:
        if self.file:
            self.file.close()


def run(trainer: Trainer, tcfg: TrainConfig, images: CropDataset, out: Path, device: torch.device,
        resumed: dict | None = None, ddp: Distributed = Distributed()) -> Path:
    """Train until `tcfg.steps`, `tcfg.hours` or a stop signal; returns the checkpoint's path."""
    step = resumed["step"] if resumed else 0
    seconds_before = resumed.get("train_seconds", 0.0) if resumed else 0.0
    if ddp.world > 1:
        torch.manual_seed(tcfg.seed + 1000 * ddp.rank + step)  # each rank its own crops
    cuda = device.type == "cuda"
    loader = iter(torch.utils.data.DataLoader(images, batch_size=tcfg.batch, num_workers=4 if cuda else 0,
                                              pin_memory=cuda))
    if resumed and ddp.world == 1:  # after the loader, whose creation draws a seed: the crops continue exactly
        torch.set_rng_state(resumed["rng"])  # (under torchrun the checkpoint holds rank 0's RNG only: each
        # rank keeps the seed above, its own and the step's, so the ranks still draw different crops)
    ckpt = out / "checkpoint.pt"
    log = RunLog(out / "log.jsonl", ddp.main)
    started = last_save = time.time()

    def save():
        if ddp.main:
            save_checkpoint(ckpt, {**trainer.state(), "step": step, "train_config": asdict(tcfg),
                                   "rng": torch.get_rng_state(), "train_seconds": seconds_before + time.time() - started})

    bar = tqdm(initial=step, total=tcfg.steps if tcfg.steps < 10 ** 9 else None, desc=trainer.desc,
               dynamic_ncols=True, disable=not ddp.main)
    if ddp.main and step == 0 and trainer.validate_at_start:
        log.write({"step": 0, "time": time.time(), "val": trainer.validate()})
    with stop_signals() as stop:
        while step < tcfg.steps:
            out_of_time = bool(tcfg.hours) and time.time() - started > tcfg.hours * 3600
            if ddp.any(stop["now"] or out_of_time):
                break
            x = next(loader).to(device, non_blocking=True)
            figures = trainer.step(x, lr_at(step, tcfg), log=step % tcfg.log_every == 0)
            step += 1
            bar.update(1)
            if figures and ddp.main:
                bar.set_postfix(figures.shown)
                log.write({"step": step, "time": time.time(), **figures.logged})
            if ddp.main and step % tcfg.val_every == 0:
                v = trainer.validate()
                log.write({"step": step, "val": v})
                tqdm.write(f"step {step} val " + " ".join(f"{k}={val:.3f}" for k, val in v.items()))
                reason = trainer.give_up()
                if reason:
                    save()
                    raise CodecError(reason)
            if time.time() - last_save > tcfg.checkpoint_minutes * 60:
                save()
                last_save = time.time()
    save()
    if ddp.world > 1:
        log.write({"step": step, "ddp_state_digests": ddp.state_digests(trainer.model)})
        ddp.finish()
    bar.close()
    log.close()
    return ckpt
