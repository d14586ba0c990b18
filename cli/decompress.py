"""`ibc decompress`: an .ibc file (or a folder of them) → an image."""
import sys

from .common import (BACKEND_HELP, EXIT_CORRUPT, _WindowBar, _distribution, _error, _file_output, _folder_output,
                     _run_folder, _setting, _source, add_distributor_arguments)


def run(args) -> int:
    src = _source(args.input)
    distribution = _distribution(args, folder=src.is_dir())
    # NAME.ibc → NAME.ibc.png: never the photo NAME.ibc was made from
    free = args.force or args.samples is not None  # samples have names of their own, checked later
    out = None if src.is_dir() else _file_output(src, args.output, src.name + ".png", free)
    quality = _output_quality(args.output_quality)
    from ..codec.files import decompress_file, folder_jobs

    options = dict(model=args.model, salvage=args.salvage, seed=args.seed,
                   realism=args.realism, samples=args.samples, backend=args.backend,
                   postfilter=not args.no_postfilter, output_quality=quality)
    if out is None:
        out_dir = _folder_output(src, args.output, "-png")
        pairs = folder_jobs(src, out_dir, compressing=False)
        return _run_folder(decompress_file, pairs, args, options, out_dir, distribution)
    with _WindowBar("decompress", args.quiet) as bar:
        r = decompress_file(src, out, progress=bar, force=args.force, **options)
    if r["damaged_tiles"]:
        print(f"ibc: warning: {src}: tile(s) {', '.join(map(str, r['damaged_tiles']))} failed their CRC "
              "and were filled in", file=sys.stderr)
    if r["missing_tiles"]:
        print(f"ibc: warning: {src}: tile(s) {', '.join(map(str, r['missing_tiles']))} are missing (the file "
              "ends early) and were filled in", file=sys.stderr)
    if r["written_as"] and not args.quiet:
        names = r["out"] if len(r["outputs"]) == 1 else f"{r['outputs'][0]} … {r['outputs'][-1]}"
        print(f"{names}: written as {r['written_as']} (a second lossy step; PNG keeps the decoded pixels "
              "exactly)", file=sys.stderr)
    if not args.quiet:
        source = f", from {r['bytes']:,} bytes, {r['bpp']:.4f} bpp, {_setting(r)}, model {r['model']}"
        for out, seed in zip(r["outputs"], r["seeds"]):
            print(f"{out}: {r['width']}×{r['height']}" + (source if args.verbose else "")
                  + (f", realism {r['realism']:g}, seed {seed}" if r["realism"] > 0 else ""))
    return EXIT_CORRUPT if r["damaged_tiles"] or r["missing_tiles"] else 0


def _output_quality(text: str | None) -> int | None:
    """--output-quality, checked before any model loads (None: the default, codec.image_io.OUTPUT_QUALITY)."""
    if text is None:
        return None
    try:
        quality = int(text)
    except ValueError:
        quality = 0
    if not 1 <= quality <= 100:
        raise _error(f"--output-quality takes a whole number in 1..100 (got {text!r})")
    return quality


def add_parser(sub) -> None:
    d = sub.add_parser("decompress", help=".ibc → PNG", description="Decompress an .ibc file into an image.")
    d.add_argument("input", help="an .ibc file, or a folder of them")
    d.add_argument("-o", "--output", help="output image, or an existing folder to write into (default: INPUT.png, "
                                          "e.g. photo.ibc → photo.ibc.png, so it never collides with the photo "
                                          "it came from); for a folder, the output folder (default: INPUT-png). "
                                          "The suffix names the format: PNG (also BMP, TIFF, PPM, JPEG 2000) keeps "
                                          "the decoded pixels exactly; JPEG, WebP and AVIF lose detail a second "
                                          "time, at --output-quality, and GIF keeps at most 256 colours")
    d.add_argument("--output-quality", metavar="Q",
                   help="quality 1..100 of a lossy output format (.jpg, .webp, .avif), stated on stderr; lossless "
                        "formats ignore it (default: 95)")
    add_distributor_arguments(d, "decoded")
    d.add_argument("--salvage", action="store_true",
                   help="decode a file with damaged tiles, or one cut short after its header, anyway: every "
                        "whole tile as usual, the damaged or missing ones filled in (mid-grey), saying which")
    d.add_argument("--model", help="weights to decode with (default: the shipped model named in the file)")
    d.add_argument("--realism", type=float, metavar="A",
                   help="0: the Shannon-AE (lowest-distortion) reconstruction; 1: the generative one (realistic "
                        "detail, higher MSE); between: a blend (default: 1 for a file compressed with --mode gc, "
                        "else 0; above 0 needs a generative model)")
    d.add_argument("--seed", type=int, metavar="S",
                   help="seed of the generative decoder's noise: another seed draws another plausible image "
                        "from the same bits (default: the seed stored in the file)")
    d.add_argument("--samples", type=int, metavar="N",
                   help="write N samples with seeds S … S+N-1 (S: --seed or the file's): output x.png becomes "
                        "x-sS.png, x-sS+1.png, … (default: one image)")
    d.add_argument("-f", "--force", action="store_true",
                   help="overwrite an existing output file; for a folder, decode every file again (without it, "
                        "an output that is already complete is skipped and one that is not is decoded again)")
    d.add_argument("--quiet", action="store_true", help="print nothing on success")
    d.add_argument("-v", "--verbose", action="store_true",
                   help="also print the file's size, bpp, quality setting and model")
    d.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto", help=BACKEND_HELP)
    d.add_argument("--no-postfilter", action="store_true",
                   help="leave out the post-filter (a small CNN that removes ringing from the Shannon-AE "
                        "reconstruction: the model's own, or the one the file names, its tune's; it changes no "
                        "bits, only the rendering): the plain synthesis, as decoders before it rendered")
    d.set_defaults(run=run)
