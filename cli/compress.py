"""`ibc compress`: an image (or a folder of them) → .ibc."""
from ..codec.tune import TUNES
from .common import (BACKEND_HELP, _WindowBar, _distribution, _file_output, _folder_output, _run_folder, _setting,
                     _source, add_distributor_arguments)


def run(args) -> int:
    src = _source(args.input)
    distribution = _distribution(args, folder=src.is_dir())
    out = None if src.is_dir() else _file_output(src, args.output, src.stem + ".ibc", args.force)
    from ..codec.files import compress_file, folder_jobs

    options = dict(model=args.model, quality=args.quality, target_bpp=args.target_bpp, size=args.size,
                   drop_alpha=args.drop_alpha, verbose=args.verbose, mode=args.mode, seed=args.seed,
                   backend=args.backend, tune=args.tune)
    if out is None:
        out_dir = _folder_output(src, args.output, "-ibc")
        pairs = folder_jobs(src, out_dir, compressing=True)
        return _run_folder(compress_file, pairs, args, options, out_dir, distribution)
    search = "--size" if args.size is not None else "--target-bpp" if args.target_bpp is not None else None
    with _WindowBar(f"compress {search}" if search else "compress", args.quiet, search=bool(search)) as bar:
        r = compress_file(src, out, progress=bar, force=args.force, **options)
    if not args.quiet:
        line = f"{r['out']}: {r['bytes']:,} bytes, {r['bpp']:.4f} bpp, {_setting(r)}, {r['width']}×{r['height']}"
        line += f", mode gc, seed {r['seed']}" if r["mode"] == "gc" else ""
        line += f", tune {r['tune']}" if r["tune"] != "psnr" else ""
        print(line + (f", PSNR {r['psnr']:.2f} dB" if "psnr" in r else ""))
    return 0


def add_parser(sub) -> None:
    c = sub.add_parser("compress", help="image → .ibc", description="Compress an image into an .ibc file.")
    c.add_argument("input", help="any image Pillow reads (PNG, JPEG, WebP, TIFF, …), or a folder of them")
    c.add_argument("-o", "--output", help="output file, or an existing folder to write into (default: INPUT "
                                          "with suffix .ibc); for a folder, the output folder (default: INPUT-ibc)")
    add_distributor_arguments(c, "coded")
    q = c.add_mutually_exclusive_group()
    q.add_argument("-q", "--quality", type=float, metavar="Q",
                   help="quality 0 (smallest) … 100 in fine steps, log-linear in the quantiser step; 50 is about "
                        "0.5 bpp on photos, 0 about 0.05, 100 about 2–3 (default: 50)")
    q.add_argument("--target-bpp", type=float, help="the finest quality whose real file fits this many bits per "
                                                    "pixel: within 0.9–1 of it (default: -q decides)")
    q.add_argument("--size", type=int, help="the finest quality whose real file fits this many bytes "
                                            "(default: -q decides)")
    c.add_argument("--model", help="model name from weights/manifest.json or a path to a .pt (default: shipped default)")
    c.add_argument("--drop-alpha", action="store_true",
                   help="encode an image with transparency by dropping its alpha (a fully opaque alpha is "
                        "always dropped)")
    c.add_argument("-f", "--force", action="store_true",
                   help="overwrite an existing output file; for a folder, code every file again (without it, "
                        "an output that is already complete is skipped and one that is not is coded again)")
    c.add_argument("--quiet", action="store_true", help="print nothing on success")
    c.add_argument("--mode", choices=["shannon", "gc"],
                   help="gc: generative compression: the same bits as the Shannon-AE model, marked for the "
                        "installed generative model built on it (on --model, or the default), whose "
                        "randomized decoder adds plausible detail the bits do not carry; shannon: the plain "
                        "MSE-trained reconstruction (default: the mode of --model, shannon for the default)")
    c.add_argument("--tune", choices=TUNES, default="psnr",
                   help="what the bits are spent for: psnr (one step for every band: the least squared error) or "
                        "ms-ssim (finer steps on the coarse bands, coarser on the finest, as MS-SSIM weighs them; "
                        "fitted by `ibc train`, about 14 %% fewer bits at equal MS-SSIM and more at equal PSNR). "
                        "The file carries its step weights, and names the tune's own post-filter when the model "
                        "has one (format 5; else it is a format-4 file) (default: psnr)")
    c.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the generative decoder's noise, stored in the file (default: 0); the same "
                        "file and seed decode to the same pixels")
    c.add_argument("-v", "--verbose", action="store_true",
                   help="also decode the file as `ibc decompress` does by default (its model, realism and "
                        "seed) and print the PSNR of those pixels")
    c.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto", help=BACKEND_HELP)
    c.set_defaults(run=run)
