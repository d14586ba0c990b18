"""`ibc`: compress and decompress images with a learned codec, inspect .ibc files, train and export models."""
import argparse
import sys

from . import compress, decompress, export, info, lab, models, plot, score, train
from . import eval as eval_
from .common import EXIT_CORRUPT, EXIT_USAGE

EXIT_CODES = ("exit status: 0 done; 2 failed (bad arguments or input, a missing model, or any file of a folder "
              "run); 3 corrupt data (a damaged, truncated or foreign .ibc file; also `decompress --salvage` "
              "when it had to fill tiles in)")
TRAIN_MODULES = {"torch", "torchvision", "pytorch_msssim", "matplotlib", "scipy", "bjontegaard", "onnx"}
# one module per subcommand, each with add_parser(sub) and run(args), listed in the order of `ibc --help`
COMMANDS = (compress, decompress, info, score, train, models, export, eval_, plot, lab)


class _Version(argparse.Action):
    """`ibc --version`, looked up only when asked (the metadata lookup costs start-up time)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import version
        print(f"ibc {version('ibc')}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ibc", description=__doc__, epilog=EXIT_CODES)
    p.add_argument("--version", action=_Version, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_parser(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..codec.errors import CodecError, CorruptData
    try:
        return args.run(args)
    except CorruptData as e:
        print(f"ibc: error: {e}", file=sys.stderr)
        return EXIT_CORRUPT
    except CodecError as e:
        print(f"ibc: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except ModuleNotFoundError as e:  # a coding-only install running a command that needs the train extra
        if (e.name or "").split(".")[0] not in TRAIN_MODULES:
            raise
        print(f"ibc: error: `ibc {args.command}` needs {e.name}, which a plain install leaves out: "
              "pip install 'ibc[train]'", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("ibc: interrupted", file=sys.stderr)
        return 130
    except MemoryError:
        print("ibc: error: out of memory", file=sys.stderr)
        return EXIT_USAGE
    except OSError as e:
        print(f"ibc: error: {e.strerror or e}: {e.filename or ''}".rstrip(": "), file=sys.stderr)
        return EXIT_USAGE
