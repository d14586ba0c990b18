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


def _run_folder(job, pairs, args, options) -> int:
    """Every file of a folder, in -j processes, with a progress bar and a summary; exit 2 if any failed."""
    from tqdm import tqdm

    from ..codec.files import run_folder

    failed, done = [], []
    with tqdm(total=len(pairs), desc=job.__name__.split("_")[0], unit="file", disable=args.quiet) as bar:
        for src, result, error in run_folder(job, pairs, args.jobs, **options):
            (done.append(result) if result else failed.append(error))
            bar.update(1)
    total = sum(r["bytes"] for r in done)
    pixels = sum(r["pixels"] for r in done)
    if not args.quiet:
        summary = f"{len(done)} of {len(pairs)} files, {total:,} bytes"
        if job.__name__ == "compress_file" and pixels:
            summary += f", mean {sum(r['bpp'] for r in done) / len(done):.4f} bpp"
        print(summary)
    for error in failed:
        print(f"ibc: error: {error}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def _error(message: str):
    from ..codec.errors import CodecError
    return CodecError(message)
