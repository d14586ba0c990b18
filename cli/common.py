"""What the subcommands share: the exit codes, the checks of inputs and outputs made before any model
loads, the progress bars and folder runs of compress and decompress, and the error a command raises."""
import sys
from pathlib import Path

EXIT_USAGE = 2    # a failure: bad arguments or input, a missing model, a file that failed in a folder run
EXIT_CORRUPT = 3  # corrupt data: a damaged, truncated or foreign .ibc file (also a --salvage that filled tiles in)

BACKEND_HELP = ("what runs the model: onnx (ONNX Runtime + numpy, no PyTorch: the model's exported graphs), "
                "torch (PyTorch; needs ibc[train]), or auto: onnx when the model ships its graphs and "
                "onnxruntime is installed, else torch (default: auto); a gc model such as gc-v4 is numpy on "
                "its base's backend. Both give the same indices, so files from either decode with either")


def _source(name: str) -> Path:
    """The input, checked before any model or heavy module loads."""
    src = Path(name)
    if not src.exists():
        raise _error(f"{src}: no such file or folder")
    return src


def _folder_output(src: Path, output: str | None, tail: str) -> Path:
    """A folder run's output folder: -o, else beside the input (`.` is named by where it is)."""
    return Path(output) if output else src.resolve().with_name(src.resolve().name + tail)


def _file_output(src: Path, output: str | None, name: str, force: bool) -> Path:
    """One file's output: -o (into it, if it is a folder), else `name` beside the input; checked free
    before any model loads."""
    out = Path(output) if output else src.with_name(name)
    if out.is_dir():
        out = out / name
    if out.exists() and not force:
        raise _error(f"{out}: already exists (use --force to overwrite)")
    return out


def _setting(r: dict) -> str:
    """A file's quality setting: q and the real quantiser step, with the header's code for it."""
    return f"q {r['quality']:g}, step {r['step']:.1f} (code {r['step_code']})"


class _WindowBar:
    """A progress bar over an image's windows, shown only for images big enough to take a while, or with
    `search` over a --size/--target-bpp search's trials from the first (a search takes seconds at any
    size; its total shrinks as its bracket does). Only on a terminal: a redirected stderr gets no bar."""

    SHOW_FROM = 16  # windows: about 1 megapixel when encoding, 4 when decoding

    def __init__(self, desc: str, quiet: bool, search: bool = False):
        self.desc, self.quiet, self.bar = desc, quiet, None
        self.show_from, self.unit = (1, "trial") if search else (self.SHOW_FROM, "window")

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and total >= self.show_from and not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, leave=False, dynamic_ncols=True,
                            disable=None)
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def add_distributor_arguments(parser, what: str) -> None:
    """-j, --distributor, --scheduler and --shard-size: how a folder's files are spread over processes or
    machines (codec.bulk)."""
    parser.add_argument("-j", "--jobs", type=int, metavar="N",
                        help=f"files {what} in parallel (folders): local worker processes (default: 1), or the "
                             "workers of the LocalCluster that --distributor dask starts without --scheduler "
                             "(default: one a core)")
    parser.add_argument("--distributor", choices=["local", "dask"], default="local",
                        help="what runs a folder's files, in shards: local, the processes of this machine "
                             "(-j), or dask, a Dask cluster (needs ibc[dask]): the scheduler at --scheduler, "
                             "else a LocalCluster of -j workers (default: local)")
    parser.add_argument("--scheduler", metavar="ADDRESS",
                        help="the Dask scheduler of --distributor dask, e.g. tcp://host:8786; its workers must "
                             "see the input and output folders at the same paths (default: the environment's "
                             "DASK_SCHEDULER_ADDRESS, else a LocalCluster)")
    parser.add_argument("--shard-size", type=int, metavar="N",
                        help="files a task codes one after another (default: about 4 shards a worker, at most 100 "
                             "files each)")


def _distribution(args, folder: bool) -> dict:
    """The folder-run settings of `add_distributor_arguments`, checked before any model loads; --scheduler
    falls back to DASK_SCHEDULER_ADDRESS for --distributor dask."""
    import os
    from ..codec.bulk import SCHEDULER_ENV, check_distributor

    scheduler = args.scheduler
    if args.distributor == "dask" and not scheduler:
        scheduler = os.environ.get(SCHEDULER_ENV) or None
    check_distributor(args.distributor, args.jobs, scheduler, args.shard_size)
    if not folder and (args.distributor != "local" or args.scheduler or args.shard_size):
        raise _error(f"{args.input}: --distributor, --scheduler and --shard-size are for folders, and this is one file")
    return {"distributor": args.distributor, "jobs": args.jobs, "scheduler": scheduler, "shard_size": args.shard_size}


def _run_folder(job, pairs, args, options, out_dir, distribution: dict) -> int:
    """Every file of a folder in shards, on the distributor chosen, with one progress bar and a summary
    (also written beside the output folder as JSON); complete outputs are skipped, unless --force. Exit 2
    unless every file was done; each failure on stderr, naming its file."""
    from tqdm import tqdm

    from ..codec.bulk import run_folder, stats_path

    stats, bars = stats_path(out_dir), []

    def progress(files: int) -> None:  # the bar starts once the workers are there (a cluster may be refused)
        if not bars:
            bars.append(tqdm(total=len(pairs), desc=job.__name__.split("_")[0], unit="file", disable=args.quiet,
                             dynamic_ncols=True))
        bars[0].update(files)

    try:
        s = run_folder(job, pairs, options, force=args.force, progress=progress, stats=stats, **distribution)
    finally:
        for bar in bars:
            bar.close()
    if not args.quiet:
        summary = f"{s['done']} of {s['files']} files"
        summary += f" ({s['skipped']} already complete, skipped)" if s["skipped"] else ""
        summary += f", {s['bytes_in']:,} → {s['bytes_out']:,} bytes"
        if job.__name__ == "compress_file" and s["mean_bpp"] is not None:
            summary += f", mean {s['mean_bpp']:.4f} bpp"
        print(summary + f", {s['seconds']:.1f} s; statistics in {stats}")
    for error in s["failures"].values():
        print(f"ibc: error: {error}", file=sys.stderr)
    return 0 if s["complete"] else EXIT_USAGE


def _error(message: str):
    from ..codec.errors import CodecError
    return CodecError(message)
