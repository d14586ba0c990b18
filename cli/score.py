"""`ibc score`: the novelty score of images."""
import json
from pathlib import Path

from .common import _source


def run(args) -> int:
    """The novelty score (paper §4.3) of each image: its rate and the gc discriminator's output (codec.score)."""
    for name in args.inputs:
        _source(name)
    from ..codec.score import score_files, table

    rows = score_files([Path(name) for name in args.inputs])
    print(json.dumps(rows, indent=2) if args.json else table(rows), end="\n" if args.json else "")
    return 0


def add_parser(sub) -> None:
    n = sub.add_parser("score", help="novelty score of images (rate and discriminator)", description=(
        "How far each image lies from the training photos (the paper's novelty score, §4.3): the bits per pixel "
        "of its own shannon-v2 file at the scoring quality, and the gc-v2 discriminator's mean logit on its "
        "generative reconstruction given the Shannon-AE one; novelty = sqrt(z_rate² + z_d²), in units of the "
        "training photos' std (log2 bpp for the rate). Statistics and discriminator: weights/gc-v2-score/."))
    n.add_argument("inputs", nargs="+", metavar="IMAGE", help="images (or folders of them) to score")
    n.add_argument("--json", action="store_true", help="print JSON: a list of one object per image")
    n.set_defaults(run=run)
