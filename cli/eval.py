"""`ibc eval`: rate, distortion and realism of codecs on a folder of images."""
import argparse
import sys
from pathlib import Path

from .common import _distribution, _error, add_distributor_arguments


def run(args) -> int:
    if args.lpips or args.fid:
        raise _error("LPIPS and FID are not available: they need local network weights, and ibc downloads none")
    distribution = _distribution(args, folder=True)
    import torch
    from ..codec.evaluation.evaluate import evaluate

    torch.set_num_threads(args.threads)
    report = evaluate(Path(args.folder), args.codec, Path(args.output), levels=args.levels, limit=args.limit,
                      record=args.record, realisms=args.realism, seed=args.seed, drop_alpha=args.drop_alpha,
                      warn=lambda message: print(f"ibc: warning: {message}", file=sys.stderr),
                      threads=args.threads, c2st=not args.no_c2st, **distribution)
    if not args.quiet:
        print(f"{args.output}: {len(report['results'])} settings × {len(report['images'])} images "
              f"(also {Path(args.output).with_suffix('.csv')})")
    return 0


def add_parser(sub) -> None:
    v = sub.add_parser("eval", help="rate–distortion–realism of codecs on a folder",
                       description="Compress and decompress every image of FOLDER with each codec at each quality "
                                   "setting; write per-image and mean bpp, PSNR, MS-SSIM, realism (the C2ST judge, "
                                   "plain and conditional, with its 95 %% null threshold, and SWD) and timings as "
                                   "JSON and CSV. Finished work is cached beside the output, so an "
                                   "interrupted run resumes.")
    v.add_argument("folder", help="folder of images (e.g. the 24 Kodak images)")
    v.add_argument("--codec", action="append", metavar="CODEC",
                   help="ibc[:MODEL][@TUNE], jpeg, webp, avif or jpeg2000; repeat for several, e.g. --codec ibc "
                        "--codec ibc@ms-ssim (TUNE: ibc compress --tune; default: ibc and the four classical codecs)")
    v.add_argument("--levels", type=float, nargs="+", metavar="Q",
                   help="ibc quality settings q to run (default: 8 q values from about 0.1 to 1.5 bpp)")
    v.add_argument("--drop-alpha", action="store_true",
                   help="code images with transparency by dropping their alpha (default: skip them, saying so)")
    v.add_argument("--realism", type=float, nargs="+", metavar="A",
                   help="gc models: decoder realism values in [0, 1] to evaluate, one series each; each file is "
                        "encoded once and decoded per A (default: 1)")
    v.add_argument("--seed", type=int, default=0, help="gc models: the decoder noise's seed (default: 0)")
    v.add_argument("--no-c2st", action="store_true",
                   help="skip the C2ST realism judge (a small CNN trained twice per form and setting: about 20 s "
                        "per setting on one thread); figures already in the cache are still reported")
    v.add_argument("--limit", type=int, help="only the first N images, sorted by name (default: all)")
    v.add_argument("-o", "--output", required=True, help="results .json (a .csv and a .cache.jsonl go beside it)")
    v.add_argument("--threads", type=int, default=1, help="CPU threads for the ibc encoder (default: 1)")
    add_distributor_arguments(v, "coded")
    # LPIPS and FID need network weights that ibc does not ship: refused with a message, not offered in --help
    v.add_argument("--lpips", action="store_true", help=argparse.SUPPRESS)
    v.add_argument("--fid", action="store_true", help=argparse.SUPPRESS)
    v.add_argument("--record", action="store_true",
                   help="write shipped ibc models' per-level figures into weights/manifest.json")
    v.add_argument("--quiet", action="store_true", help="print nothing on success")
    v.set_defaults(run=run)
