"""`ibc lab`: the paper's family of auto-encoders as presets of one loss (codec.lab): train, evaluate, plot."""
import json
import sys
from pathlib import Path

from .common import _source


def _say(message: str) -> None:
    print(f"ibc lab: {message}", file=sys.stderr, flush=True)


def _train(args) -> int:
    from ..codec.lab.train import LabConfig, train

    _source(args.data)
    from ..codec.lab.presets import PRESETS

    steps = args.steps or (10 ** 9 if args.minutes else PRESETS[args.preset].steps)
    cfg = LabConfig(preset=args.preset, settings=",".join(args.set) or None, data=args.data,
                    out=args.out or f"runs/lab/{args.preset}", pool=args.pool, latent=args.latent, width=args.width,
                    batch=args.batch, steps=steps, minutes=args.minutes, seed=args.seed, threads=args.threads,
                    limit=args.limit, val_every=args.val_every)
    train(cfg, _say)
    return 0


def _eval(args) -> int:
    from ..codec.lab.evaluate import evaluate

    runs = [Path(r) for r in args.runs]
    for r in runs:
        _source(str(r))
    report = evaluate(runs, Path(args.output), score=args.compare_score, say=_say)
    print(json.dumps({k: {m: v for m, v in row.items() if not isinstance(v, (dict, list))}
                      for k, row in report["presets"].items()}, indent=1))
    return 0


def _plot(args) -> int:
    from ..codec.lab.plot import plot_all

    _source(args.results)
    for path in plot_all(Path(args.results), Path(args.output) if args.output else None):
        print(f"{path}: written")
    return 0


def add_parser(sub) -> None:
    from ..codec.lab.presets import PRESETS  # torch-free: the help lists the presets

    listing = "\n".join(f"  {p.name:9} {p.system}, {p.equation}: L = {p.formula}  [{p.encoder} encoder, "
                        f"{p.steps} steps]" for p in PRESETS.values())
    lab = sub.add_parser("lab", help="the paper's auto-encoders as presets of one loss (train, eval, plot)",
                         description="The bounded information bottleneck (eq. 26, L = A − B − β·C + β·D) and the "
                                     "systems it contains, trained on 32×32 patches and compared on one "
                                     "rate–distortion–perception plane. LAB.md has the figures and the commands.")
    cmds = lab.add_subparsers(dest="lab_command", required=True, metavar="LAB_COMMAND",
                              help="train, eval or plot (see `ibc lab LAB_COMMAND --help`)")
    import argparse
    t = cmds.add_parser("train", help="train (or resume) one preset on patches of a folder of photos",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        description="Train one preset on 32×32 patches cut from a folder of photos (half scale), "
                                    "on the codec's loop: atomic timed checkpoints, resume on the same --out, "
                                    "SIGTERM/Ctrl-C stop with a checkpoint.\n\npresets (A, B in nats, H(Ẑ) in "
                                    "bits, C = −λ‖x − x̂‖₁):\n" + listing)
    t.add_argument("data", metavar="DIR", help="a folder of photos (the held-out split: BSDS500 val, else every 10th)")
    t.add_argument("--preset", required=True, choices=list(PRESETS), help="which system (see above)")
    t.add_argument("--out", help="run folder (default: runs/lab/PRESET)")
    t.add_argument("--pool", help="a folder of patch pools shared by presets (default: OUT/pool)")
    t.add_argument("--steps", type=int,
                   help="stop at this step (default: the preset's own length, about 3–4 minutes of one core; "
                        "with --minutes, none)")
    t.add_argument("--minutes", type=float,
                   help="wall-clock limit of this run, a resumed run gets it again (default: none)")
    t.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                   help="change a preset field for this run, e.g. --set beta=0.1 --set beta_d=300 (repeatable; "
                        "the checkpoint keeps the preset it used; default: none)")
    t.add_argument("--latent", type=int, default=32, help="dimensions of z (default: 32)")
    t.add_argument("--width", type=int, default=16, help="channels of the networks' first layer (default: 16)")
    t.add_argument("--batch", type=int, default=32, help="patches per step (default: 32)")
    t.add_argument("--val-every", type=int, default=250, help="validate every N steps (default: 250)")
    t.add_argument("--seed", type=int, default=0, help="initial weights, patches and noise (default: 0)")
    t.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    t.add_argument("--limit", type=int, help="only the first N photos of each split, for tests (default: all)")
    t.set_defaults(run=_train)
    e = cmds.add_parser("eval", help="measure trained presets: rate, distortion, perception, novelty AUROC",
                        description="For each run folder: the rate in bits per patch ((A) in bits for the "
                                    "Gaussian encoders, H(Ẑ) of the real indices for the VQ), MSE and PSNR on "
                                    "held-out patches, perception by a classifier two-sample test (C2ST) and SWD, "
                                    "the latent marginal's MMD to p(z); the novelty preset's AUROC against noise, "
                                    "renders and text. Writes the results JSON and the grid's patches (.npz).")
    e.add_argument("runs", nargs="+", metavar="RUN", help="run folders of `ibc lab train`")
    e.add_argument("-o", "--output", default="bench/lab/results.json", help="results file (default: %(default)s)")
    e.add_argument("--compare-score", action="store_true",
                   help="also score the novelty set with `ibc score` (weights/gc-v2-score, 64-px crops)")
    e.set_defaults(run=_eval)
    g = cmds.add_parser("plot", help="the plane (rate–distortion, distortion–perception), the grid, the table",
                        description="From `ibc lab eval`'s results: plane.png, grid.png and results.md beside it.")
    g.add_argument("results", nargs="?", default="bench/lab/results.json", help="default: %(default)s")
    g.add_argument("-o", "--output", help="folder for the figures (default: the results file's)")
    g.set_defaults(run=_plot)
