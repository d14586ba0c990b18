"""`ibc score`: the novelty score of images."""
import json
from pathlib import Path

from .common import _source


def run(args) -> int:
    """The novelty score (paper §4.3) of each image: its rate and a gc model's discriminator (codec.score)."""
    for name in args.inputs:
        _source(name)
    from ..codec.score import score_dir_of, score_files, table

    folder = None
    if args.model:
        from ..codec.weights import resolve
        folder = score_dir_of(resolve(args.model))
    rows = score_files([Path(name) for name in args.inputs], folder)
    print(json.dumps(rows, indent=2) if args.json else table(rows), end="\n" if args.json else "")
    return 0


def add_parser(sub) -> None:
    n = sub.add_parser("score", help="novelty score of images (rate and discriminator)", description=(
        "How far each image lies from the training photos (the paper's novelty score, §4.3): the bits per pixel "
        "of its own file under the default model at the scoring quality, and the mean logit of the discriminator "
        "that trained the gc model's decoder, on the image given its Shannon-AE rendering; novelty = "
        "sqrt(z_rate² + z_d²), in units of the validation photos' std (log2 bpp for the rate). Statistics and "
        "discriminator: the gc model's NAME-score/ folder, made by `ibc train --mode gc`."))
    n.add_argument("inputs", nargs="+", metavar="IMAGE", help="images (or folders of them) to score")
    n.add_argument("--model", metavar="GC",
                   help="the gc model whose discriminator scores (default: the newest one on the default model "
                        "that has a score)")
    n.add_argument("--json", action="store_true", help="print JSON: a list of one object per image")
    n.set_defaults(run=run)
