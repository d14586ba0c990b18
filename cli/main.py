"""`ibc`: compress and decompress images with a learned codec, inspect .ibc files, train and export models."""
import argparse
import json
import sys
from pathlib import Path

EXIT_USAGE = 2
DATA_SOURCES = ("BSDS500 (Arbeláez et al., TPAMI 2011; Berkeley, distributed for research) and an ImageNet "
                "sample (research use); Kodak never used for training or validation")


def _compress(args) -> int:
    from ..codec.api import compress, decompress
    from ..codec.image_io import read_image, write_atomic
    from ..codec.metrics import psnr
    from ..codec.weights import load_model

    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_suffix(".ibc")
    if out.exists() and not args.force:
        raise _error(f"{out}: already exists (use --force to overwrite)")
    rgb = read_image(src, drop_alpha=args.drop_alpha)
    lm = load_model(args.model)
    data = compress(rgb, lm, level=args.level, target_bpp=args.target_bpp, size=args.size)
    write_atomic(out, data, force=args.force)
    H, W, _ = rgb.shape
    if not args.quiet:
        from ..codec.api import read_header
        line = (f"{out}: {len(data):,} bytes, {len(data) * 8 / (W * H):.4f} bpp, "
                f"level {read_header(data).level}, {W}×{H}")
        if args.verbose:
            line += f", PSNR {psnr(rgb, decompress(data, lm)):.2f} dB"
        print(line)
    return 0


def _decompress(args) -> int:
    from ..codec.api import decompress
    from ..codec.image_io import write_image
    from ..codec.weights import load_model

    src = Path(args.input)
    out = Path(args.output) if args.output else src.with_suffix(".png")
    if out.exists() and not args.force:
        raise _error(f"{out}: already exists (use --force to overwrite)")
    data = _read_bytes(src)
    lm = load_model(args.model) if args.model else None
    rgb = decompress(data, lm)
    write_image(out, rgb, force=args.force)
    if not args.quiet:
        print(f"{out}: {rgb.shape[1]}×{rgb.shape[0]}")
    return 0


def _info(args) -> int:
    from ..codec.bitstream import parse_header

    data = _read_bytes(Path(args.input))
    header, _ = parse_header(data)
    info = {"file": args.input, "bytes": len(data), "bpp": len(data) * 8 / (header.width * header.height),
            "width": header.width, "height": header.height, "mode": header.mode, "level": header.level,
            "seed": header.seed, "tile": header.tile, "model": header.model,
            "weights_hash": header.weights_hash.hex(), "chunks": header.chunks}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for k, v in info.items():
            print(f"{k:13s} {v:.4f}" if isinstance(v, float) else f"{k:13s} {v}")
    return 0


def _train(args) -> int:
    from ..codec.train import TrainConfig, train

    tcfg = TrainConfig(data=args.data, out=args.out, val=args.val, steps=args.steps, hours=args.hours,
                       batch=args.batch, crop=args.crop, lr=args.lr, device=args.device,
                       threads=args.threads, init=args.init,
                       **({"target_bpp": args.target_bpp} if args.target_bpp else {}))
    ckpt = train(tcfg, resume=args.resume)
    print(f"checkpoint: {ckpt}")
    return 0


def _export(args) -> int:
    from ..codec.weights import WEIGHTS_DIR, add_to_manifest, export

    out = Path(args.output) if args.output else WEIGHTS_DIR / f"{args.name}.pt"
    if out.exists() and not args.force:
        raise _error(f"{out}: already exists (use --force to overwrite)")
    digest = export(Path(args.checkpoint), out, args.name, {"data_sources": DATA_SOURCES})
    print(f"{out}: sha256 {digest}")
    if out.resolve().parent == WEIGHTS_DIR.resolve():
        add_to_manifest(out, {"data_sources": DATA_SOURCES}, default=args.default)
        print(f"added {args.name!r} to {WEIGHTS_DIR / 'manifest.json'}")
    return 0


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise _error(f"{path}: no such file")
    return path.read_bytes()


def _error(message: str):
    from ..codec.errors import CodecError
    return CodecError(message)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ibc", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("compress", help="image → .ibc", description="Compress an image into an .ibc file.")
    c.add_argument("input", help="any image Pillow reads (PNG, JPEG, WebP, TIFF, …)")
    c.add_argument("-o", "--output", help="output file (default: INPUT with suffix .ibc)")
    q = c.add_mutually_exclusive_group()
    q.add_argument("-q", "--level", type=int, help="quality level, 1 (smallest) … the model's top level")
    q.add_argument("--target-bpp", type=float, help="highest level whose file fits this many bits per pixel")
    q.add_argument("--size", type=int, help="highest level whose file fits this many bytes")
    c.add_argument("--model", help="model name from weights/manifest.json or a path to a .pt (default: shipped default)")
    c.add_argument("--drop-alpha", action="store_true", help="encode an image with transparency by dropping its alpha")
    c.add_argument("-f", "--force", action="store_true", help="overwrite an existing output file")
    c.add_argument("--quiet", action="store_true", help="print nothing on success")
    c.add_argument("-v", "--verbose", action="store_true", help="also decode and print the PSNR")
    c.set_defaults(run=_compress)

    d = sub.add_parser("decompress", help=".ibc → PNG", description="Decompress an .ibc file into an image.")
    d.add_argument("input", help="an .ibc file")
    d.add_argument("-o", "--output", help="output image (default: INPUT with suffix .png)")
    d.add_argument("--model", help="weights to decode with (default: the shipped model named in the file)")
    d.add_argument("-f", "--force", action="store_true", help="overwrite an existing output file")
    d.add_argument("--quiet", action="store_true", help="print nothing on success")
    d.set_defaults(run=_decompress)

    i = sub.add_parser("info", help="show an .ibc header", description="Print the header of an .ibc file.")
    i.add_argument("input")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(run=_info)

    t = sub.add_parser("train", help="train a model", description="Train a Shannon-AE model on a folder of photographs.")
    t.add_argument("--data", required=True, help="folder of training images (never the evaluation set)")
    t.add_argument("--out", required=True, help="run folder for checkpoint.pt and log.jsonl")
    t.add_argument("--val", help="validation folder (default: BSDS500 val files held out of --data)")
    t.add_argument("--target-bpp", type=float, nargs="+", help="target bpp of each quality level")
    t.add_argument("--steps", type=int, default=10 ** 9)
    t.add_argument("--hours", type=float)
    t.add_argument("--batch", type=int, default=8)
    t.add_argument("--crop", type=int, default=128)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    t.add_argument("--threads", type=int, default=1, help="CPU threads (leave a core free for other work)")
    t.add_argument("--resume", help="continue from this checkpoint exactly")
    t.add_argument("--init", help="warm-start the weights from this checkpoint")
    t.set_defaults(run=_train)

    e = sub.add_parser("export", help="checkpoint → weights", description="Freeze a checkpoint into a weights file.")
    e.add_argument("checkpoint")
    e.add_argument("--name", required=True)
    e.add_argument("-o", "--output", help="default: weights/NAME.pt (and an entry in weights/manifest.json)")
    e.add_argument("-f", "--force", action="store_true", help="overwrite an existing weights file")
    e.add_argument("--default", action="store_true", help="make it the default model in the manifest")
    e.set_defaults(run=_export)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from ..codec.errors import CodecError
    try:
        return args.run(args)
    except CodecError as e:
        print(f"ibc: error: {e}", file=sys.stderr)
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
