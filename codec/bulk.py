"""Folders in bulk, on one machine or many: shards of files, reruns that skip finished work, statistics per
shard. The engine-neutral part of `ibc compress|decompress|eval FOLDER --distributor local|dask`.

    (source, output) pairs ─ plan_shards ─► shards ─ Distributor.map(run_shard) ─► shard statistics
                                                     ─ summarise ─► summary (+ JSON beside the output)
    local: this process (-j 1) or a pool of -j processes on this machine
    dask:  Client(scheduler address).map over the cluster's workers, or a LocalCluster of -j workers

A worker codes its shard's files one after another under the one rule of safe reruns: an output that
exists and is complete (`is_complete`) is skipped and counted, any other is coded again and written
atomically (write, then rename). A shard may therefore run twice (a lost worker's shard is retried) and a
folder may be run again after a kill: neither codes a complete file twice, and a kill loses at most the
files in flight. Workers read and write by path, so a cluster needs storage every machine sees at the same
paths. A worker keeps its models loaded (codec.weights caches them per process): a model loads once per
worker, not once per file. Dask is imported only by the dask distributor, when asked for.
"""
import json
import logging
import os
import socket
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from .bitstream import parse_chunks, parse_header
from .errors import CodecError
from .files import sample_paths
from .image_io import read_image, write_atomic

DISTRIBUTORS = ("local", "dask")
SCHEDULER_ENV = "DASK_SCHEDULER_ADDRESS"
DASK_EXTRA = "pip install 'ibc[dask]'"
ATTEMPTS = 4          # runs of a shard whose worker keeps dying, in all (Dask's default: 3 allowed failures + 1)
SHARDS_PER_WORKER = 4  # the default shard size leaves a worker about this many shards, to balance the load
MAX_SHARD = 100       # files; more shards than this needs keep the scheduler's task count in check
CONNECT_TIMEOUT = 20  # seconds to reach a Dask scheduler
HEADER_BYTES = 4096   # an .ibc header is under 300 bytes: enough of the file to read it


def plan_shards(pairs: list, shard_size: int) -> list[list]:
    """The pairs cut into consecutive shards of `shard_size` (the last may be shorter)."""
    if shard_size < 1:
        raise CodecError("the shard size must be at least 1")
    return [pairs[i:i + shard_size] for i in range(0, len(pairs), shard_size)]


def default_shard_size(files: int, workers: int) -> int:
    """About SHARDS_PER_WORKER shards a worker, at most MAX_SHARD files each."""
    return max(1, min(MAX_SHARD, files // (max(1, workers) * SHARDS_PER_WORKER)))


def is_complete(output, source, samples: int | None = None, seed: int | None = None) -> bool:
    """Whether a folder run's `output` is finished and may be skipped. An .ibc is complete when its header
    and every chunk pass their checks (nothing missing, nothing after the last chunk); a decoded image
    when it decodes whole at the size its source .ibc's header says (with `samples`, every sample's file,
    named as `ibc decompress --samples` names them, from `seed` or the file's own)."""
    return _complete(Path(output), Path(source), samples, seed) is not None


def _complete(output: Path, source: Path, samples, seed) -> dict | None:
    """`is_complete`, and for a complete output the figures a summary counts: bytes out and bpp."""
    try:
        if output.suffix.lower() == ".ibc":
            data = output.read_bytes()
            header, offset = parse_header(data)
            if None in parse_chunks(data, offset, header.chunks):
                return None
            return {"bytes_out": len(data), "bpp": len(data) * 8 / (header.width * header.height)}
        with open(source, "rb") as f:
            header, _ = parse_header(f.read(HEADER_BYTES))
        first = header.seed if seed is None else seed
        outputs = [output] if samples is None else sample_paths(output, range(first, first + samples))
        for path in outputs:
            if read_image(path).shape[:2] != (header.height, header.width):
                return None
        return {"bytes_out": sum(p.stat().st_size for p in outputs),
                "bpp": source.stat().st_size * 8 / (header.width * header.height)}
    except (CodecError, OSError):
        return None


def _named(src, message: str) -> str:
    """A folder run's message names its file (most already start with it)."""
    return message if message.startswith(str(src)) else f"{src}: {message}"


def _failure(src, error: BaseException) -> str:
    if isinstance(error, CodecError):
        return _named(src, str(error))
    if isinstance(error, OSError):
        return f"{src}: {error.strerror or error}"
    if isinstance(error, MemoryError):
        return f"{src}: out of memory"
    return f"{src}: {type(error).__name__}: {error}"


def new_shard_stats(pairs) -> dict:
    return {"first": str(pairs[0][0]) if pairs else None, "files": len(pairs), "coded": 0, "skipped": 0,
            "failed": {}, "bytes_in": 0, "bytes_out": 0, "bpp_sum": 0.0, "seconds": 0.0,
            "worker": f"{socket.gethostname()}:{os.getpid()}"}


def run_shard(job, pairs: list, options: dict, force: bool = False, threads: int | None = None) -> dict:
    """Code one shard's (source, output) pairs with `job` (codec.files.compress_file or decompress_file, or
    a function of their signature), one after another; → the shard's statistics. A complete output is
    skipped (unless `force`); any other is coded again, over whatever incomplete file is there. A file's
    failure is recorded under its name, and the shard goes on. `threads`: torch's, if it is loaded."""
    if threads and "torch" in sys.modules:  # a worker inherits no thread limit of its own
        sys.modules["torch"].set_num_threads(threads)
    t0 = time.perf_counter()
    stats = new_shard_stats(pairs)
    for src, out in pairs:
        src, out = Path(src), Path(out)
        done = None if force else _complete(out, src, options.get("samples"), options.get("seed"))
        if done is not None:
            stats["skipped"] += 1
        else:
            try:
                r = job(src, out, **{**options, "force": True})
                done = {"bytes_out": sum(Path(p).stat().st_size for p in r.get("outputs", [r["out"]])),
                        "bpp": r["bpp"]}
                stats["coded"] += 1
            except Exception as e:  # one file's failure, whatever it is, is that file's
                stats["failed"][str(src)] = _failure(src, e)
                continue
        stats["bytes_in"] += src.stat().st_size
        stats["bytes_out"] += done["bytes_out"]
        stats["bpp_sum"] += done["bpp"]
    stats["seconds"] = time.perf_counter() - t0
    return stats


def _lost_shard(pairs: list, options: dict, error: str) -> dict:
    """The statistics of a shard whose worker was lost for good: what is complete counts as skipped, each
    other file as failed, naming why."""
    stats = new_shard_stats(pairs)
    for src, out in pairs:
        done = _complete(Path(out), Path(src), options.get("samples"), options.get("seed"))
        if done is None:
            stats["failed"][str(src)] = f"{src}: not coded: {error}"
            continue
        stats["skipped"] += 1
        stats["bytes_in"] += Path(src).stat().st_size
        stats["bytes_out"] += done["bytes_out"]
        stats["bpp_sum"] += done["bpp"]
    return stats


def summarise(shards: list[dict], seconds: float, **about) -> dict:
    """The whole job from its shards' statistics: files, done (coded + skipped), failures by name, bytes in
    and out, the mean bpp of the done files, time, and `about` (distributor, workers, shard size)."""
    total = {k: sum(s[k] for s in shards) for k in ("files", "coded", "skipped", "bytes_in", "bytes_out", "bpp_sum")}
    failures = {name: message for s in shards for name, message in s["failed"].items()}
    done = total["coded"] + total["skipped"]
    return {"files": total["files"], "done": done, "coded": total["coded"], "skipped": total["skipped"],
            "failed": len(failures), "complete": done == total["files"] and not failures,
            "bytes_in": total["bytes_in"], "bytes_out": total["bytes_out"],
            "mean_bpp": total["bpp_sum"] / done if done else None, "seconds": seconds,
            "coded_per_second": total["coded"] / seconds if seconds > 0 else None, **about,
            "failures": failures, "shards": shards}


def stats_path(out_dir) -> Path:
    """Where a folder run's statistics go: beside its output folder, OUT.stats.json."""
    out_dir = Path(out_dir).resolve()
    return out_dir.with_name(out_dir.name + ".stats.json")


def write_stats(path: Path, summary: dict) -> None:
    write_atomic(Path(path), (json.dumps(summary, indent=1) + "\n").encode(), force=True)


def check_distributor(distributor: str, jobs: int | None = None, scheduler: str | None = None,
                      shard_size: int | None = None) -> None:
    """The distributor's settings, checked before anything loads."""
    if distributor not in DISTRIBUTORS:
        raise CodecError(f"unknown distributor {distributor!r} (choose one of {', '.join(DISTRIBUTORS)})")
    if jobs is not None and jobs < 1:
        raise CodecError("-j must be at least 1")
    if shard_size is not None and shard_size < 1:
        raise CodecError("--shard-size must be at least 1")
    if scheduler and distributor != "dask":
        raise CodecError("--scheduler names a Dask scheduler: it needs --distributor dask")


def open_distributor(distributor: str = "local", jobs: int | None = None, scheduler: str | None = None):
    """A context manager giving a distributor: `.workers`, `.threads` (torch threads a task takes),
    `.shard_size(files)`, `.absolute` (whether paths must be absolute: another machine reads them) and
    `.map(task, args)`."""
    check_distributor(distributor, jobs, scheduler)
    return Dask(scheduler, jobs) if distributor == "dask" else Local(jobs)


class Local:
    """This machine: tasks in this process (-j 1), or in a pool of `jobs` processes. When a worker process
    dies (killed, out of memory), the pool breaks and takes the tasks in flight with it: each task it did
    not finish then runs again in a process of its own (`jobs` at a time), so that one task that kills
    its process costs no other task its result, up to ATTEMPTS runs in all."""
    absolute = False

    def __init__(self, jobs: int | None = None):
        self.workers = jobs or 1
        self.threads = max(1, (os.cpu_count() or 1) // self.workers)

    def shard_size(self, files: int) -> int:
        return 1 if self.workers == 1 else default_shard_size(files, self.workers)  # shards cost nothing here

    def map(self, task, args: list[tuple]):
        """Yields (index, result, None) as tasks finish, or (index, None, why) for a task lost for good;
        any other exception a task raises is raised here."""
        if self.workers == 1:
            for i, a in enumerate(args):
                yield i, task(*a), None
            return
        todo = dict(enumerate(args))
        with ProcessPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(task, *a): i for i, a in todo.items()}
            for f in as_completed(futures):
                try:
                    result = f.result()
                except BrokenProcessPool:  # a worker died: this task goes round again, alone
                    continue
                yield futures[f], result, None
                del todo[futures[f]]
        if not todo:
            return
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=self.workers) as threads:
            again = {threads.submit(_alone, task, a): i for i, a in todo.items()}
            for f in as_completed(again):
                yield again[f], *f.result()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _alone(task, args: tuple) -> tuple:
    """A task in a process of its own, once more each time that process dies, ATTEMPTS - 1 times in all
    (its first run was in the pool): → (result, None) or (None, why it was lost)."""
    for _ in range(ATTEMPTS - 1):
        with ProcessPoolExecutor(max_workers=1) as pool:
            try:
                return pool.submit(task, *args).result(), None
            except BrokenProcessPool:
                continue
    return None, f"a worker process died {ATTEMPTS} times while running its shard"


class Dask:
    """A Dask cluster: the scheduler at `scheduler` (tcp://host:8786), or a LocalCluster of `jobs` worker
    processes (default: one a core) with one thread each, started here and closed after. The scheduler
    retries a task whose worker was lost; a task that loses its worker more often than the scheduler allows
    (distributed.scheduler.allowed-failures, 3) is lost for good."""
    absolute = True  # a worker may run on another machine, in another folder
    threads = 1      # a worker process a core: scale out by workers, not threads

    def __init__(self, scheduler: str | None = None, jobs: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise CodecError(f"--distributor dask needs dask[distributed], which is not installed: {DASK_EXTRA}") from None
        self.cluster = None
        if scheduler:
            try:
                self.client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except (OSError, TimeoutError, ValueError) as e:
                raise CodecError(f"cannot reach the Dask scheduler at {scheduler} ({e})") from None
        else:
            self.cluster = LocalCluster(n_workers=jobs or os.cpu_count() or 1, threads_per_worker=1, processes=True,
                                        dashboard_address=":0", silence_logs=logging.ERROR)
            self.client = Client(self.cluster)
        self.workers = max(1, sum(self.client.nthreads().values()))

    def shard_size(self, files: int) -> int:
        return default_shard_size(files, self.workers)

    def map(self, task, args: list[tuple]):
        """Yields (index, result, None) as tasks finish, or (index, None, why) for a task lost for good;
        any other exception a task raises is raised here."""
        from distributed import KilledWorker, as_completed as completed
        if not args:
            return
        futures = self.client.map(task, *zip(*args), pure=False)
        index = {f.key: i for i, f in enumerate(futures)}
        for f in completed(futures):
            try:
                yield index[f.key], f.result(), None
            except KilledWorker:
                yield index[f.key], None, "its worker was lost on every try"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        return False


def _absolute(pairs: list, options: dict) -> tuple[list, dict]:
    """Paths another machine can follow: the pairs, and a --model that is a file here."""
    pairs = [(str(Path(s).resolve()), str(Path(o).resolve())) for s, o in pairs]
    model = options.get("model")
    if model and Path(model).is_file():
        options = {**options, "model": str(Path(model).resolve())}
    return pairs, options


def _renamed(stats: dict, named: dict) -> dict:
    """A shard's failures under the names the caller gave its files (a cluster was given absolute paths)."""
    if named:
        stats["failed"] = {named.get(src, src): named[src] + message[len(src):] if src in named and
                           message.startswith(src) else message for src, message in stats["failed"].items()}
    return stats


def run_folder(job, pairs: list, options: dict, distributor: str = "local", jobs: int | None = None,
               scheduler: str | None = None, shard_size: int | None = None, force: bool = False,
               progress=None, stats: Path | None = None) -> dict:
    """Code every (source, output) pair with `job` in shards on `distributor`, skipping complete outputs
    (all coded again with `force`); → the summary (`summarise`), also written to `stats` as JSON.
    `progress(files)` is called once the distributor is up (with 0), then as shards finish. One file's failure does not stop the others."""
    check_distributor(distributor, jobs, scheduler, shard_size)
    t0 = time.perf_counter()
    named = {}  # absolute path → the name the caller gave, for messages
    with open_distributor(distributor, jobs, scheduler) as d:
        if d.absolute:
            given = pairs
            pairs, options = _absolute(pairs, options)
            named = {a: str(g) for (a, _), (g, _) in zip(pairs, given) if a != str(g)}
        size = shard_size or d.shard_size(len(pairs))
        shards = plan_shards(pairs, size)
        results = [None] * len(shards)
        if progress:
            progress(0)  # the workers are there: a progress bar may start
        for i, result, lost in d.map(run_shard, [(job, s, options, force, d.threads) for s in shards]):
            results[i] = _renamed(result if lost is None else _lost_shard(shards[i], options, lost), named)
            if progress:
                progress(len(shards[i]))
        workers = d.workers
    summary = summarise(results, time.perf_counter() - t0, distributor=distributor, workers=workers,
                        shard_size=size)
    if stats is not None:
        write_stats(stats, summary)
    return summary
