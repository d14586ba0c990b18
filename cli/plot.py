"""`ibc plot`: figures and BD-rate tables from `ibc eval` results."""
from pathlib import Path


def run(args) -> int:
    from ..codec.image_io import write_atomic
    from ..codec.evaluation.plot import bd_table, load_curves, plot, points_table

    curves = load_curves(args.results)
    table = bd_table(curves, args.anchor) + points_table(curves, args.anchor)
    plot(curves, Path(args.output), title=args.title, sweep_level=args.sweep_level, judge=args.judge)
    if args.table:
        write_atomic(Path(args.table), table.encode(), force=True)
    print(table, end="")
    print(f"{args.output}: written")
    return 0


def add_parser(sub) -> None:
    g = sub.add_parser("plot", help="plot eval results, print BD-rates",
                       description="Plot PSNR, MS-SSIM (dB) and realism (the C2ST judge, or SWD) against bpp and the "
                                   "distortion–realism plane from `ibc eval` results; print a BD-rate table against "
                                   "an anchor.")
    g.add_argument("results", nargs="+", help="results .json files from `ibc eval`")
    g.add_argument("-o", "--output", required=True, help="figure file (.png, .pdf, .svg)")
    g.add_argument("--anchor", default="jpeg", help="codec the BD-rates are measured against (default: jpeg)")
    g.add_argument("--table", help="also write the BD-rate table to this markdown file (default: stdout only)")
    g.add_argument("--title", help="figure title (default: none)")
    g.add_argument("--sweep-level", type=int, metavar="Q",
                   help="quality setting q of the distortion–realism panel of a gc model's realism sweep "
                        "(default: its lowest)")
    g.add_argument("--judge", choices=("c2st", "swd"),
                   help="realism measure of the realism panels: the C2ST accuracy (plain, and conditional dashed) "
                        "or SWD (default: c2st where the results have it, else swd)")
    g.set_defaults(run=run)
