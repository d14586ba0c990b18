"""What the training stages share: a progress bar for slow set-up steps, the device, stop signals and the
JSONL run log (the loop itself, over a pool of coded crops, is `pool_loop`).
"""
import json
import os
import signal
from contextlib import contextmanager
from pathlib import Path

import torch
from tqdm import tqdm

from ..errors import CodecError


@contextmanager
def progress_bar(desc: str):
    """A `progress(done, total)` callback drawing a bar for a set-up step that takes a while (a design:
    minutes), gone when the step ends: on stderr, only on a terminal, main process only."""
    main = int(os.environ.get("RANK", "0")) == 0
    bar = tqdm(desc=desc, dynamic_ncols=True, leave=False, disable=None if main else True)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        yield progress
    finally:
        bar.close()


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise CodecError("--device cuda requested but no CUDA device is available")
    return torch.device(name)


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
