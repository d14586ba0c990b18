"""`ibc train`: a complete model from a folder of photos."""
import argparse
import sys
from pathlib import Path

from .common import _error, _source


def _parse_rates(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise _error(f"--rates takes LOW:HIGH in bits per pixel, e.g. 0.1:1.0 (got {text!r})") from None
    if not 0 < lo < hi:
        raise _error(f"--rates LOW:HIGH needs 0 < LOW < HIGH (got {text!r})")
    return lo, hi


def run(args) -> int:
    """The one recipe (codec.training.recipe): a complete model into the user model directory."""
    _source(args.data)
    rates = _parse_rates(args.rates)
    from ..codec.training.recipe import Recipe, train
    from ..codec.weights import user_dir

    recipe = Recipe(data=str(Path(args.data)), name=args.name, rates=rates, hours=args.hours, mode=args.mode,
                    val=args.val, images=args.images, seed=args.seed, base=args.base, context=args.context,
                    filter_init=args.filter_init)
    dest = Path(args.dest) if args.dest else user_dir()
    run_dir = Path(args.run_dir) if args.run_dir else dest.parent / "runs" / args.name
    command = "ibc train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else f"ibc train {args.data} --name {args.name}"
    weights = train(recipe, run_dir, dest, command, restart=args.restart, force=args.force)
    if args.base and args.mode == "shannon":
        print(f"{args.name}: tunes in {weights}, and their filter beside it (use them with --model {args.name} "
              "--tune ms-ssim)")
    else:
        print(f"{args.name}: {weights} (use it with --model {args.name})")
    return 0


def add_parser(sub) -> None:
    t = sub.add_parser("train", help="build a complete model from a folder of photos", description=(
        "Build a complete model from a folder of photos, in stages: the split (1 in 10 photos held out for "
        "validation, by the hash of the file name, or --val), the steps that reach --rates on the training "
        "photos, the design (ECVQ codebooks and integer context priors, closed form), the post-filter (SGD on "
        "the model's own decodes over the rate range, for the rest of --hours), the tune (the step weights of "
        "--tune ms-ssim, by a search over real files on the validation photos) and the tune's own post-filter "
        "(trained for MS-SSIM on the tune's files, from the model's filter), with --mode gc the randomized "
        "decoder, and the export of the coding bundle into the user model directory ($IBC_MODEL_PATH, else the "
        "platform's data directory: see `ibc models`), never into the installed package. Each stage is kept "
        "in a run folder: re-run the same command after an interruption and it continues. Then: ibc compress "
        "photo.png --model NAME."),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("data", metavar="PHOTOS", help="folder of training photos (any file names; never the evaluation set)")
    t.add_argument("--name", required=True, help="the model's name (not a shipped model's); files made with it carry it")
    t.add_argument("--rates", default="0.1:1.0", metavar="LOW:HIGH",
                   help="the bits per pixel the model is fitted to, on the training photos (default: 0.1:1.0). The "
                        "model codes any -q 0..100 and any --target-bpp; the codebooks and post-filter are fitted "
                        "to the q range that reaches LOW..HIGH, which the command prints (about q 15..70 for "
                        "photos at the default)")
    t.add_argument("--hours", type=float, default=4.0,
                   help="wall-clock budget of the whole recipe, set-up included (default: 4); a small one gives a "
                        "weaker but complete model")
    t.add_argument("--mode", default="shannon", choices=["shannon", "gc"],
                   help="gc also builds NAME-gc, the generative decoder on the model's bitstream (default: shannon)")
    t.add_argument("--base", metavar="MODEL",
                   help="an installed Shannon-AE model, e.g. shannon-v4, whose bitstream stays as it is (its files "
                        "keep decoding; no design, no post-filter): with --mode gc, build only the generative "
                        "decoder, named NAME, on it; with --mode shannon and --name MODEL, fit only its tunes "
                        "(--tune ms-ssim) and its filter, into MODEL-tune.json and MODEL-postfilter-ms-ssim/ (a "
                        "tune it already has is kept; default: none, a complete model)")
    t.add_argument("--val", help="folder of validation photos (default: 1 in 10 of PHOTOS, chosen by name hash)")
    t.add_argument("--images", type=int, default=30, help="photos the codebooks are designed on (default: 30)")
    t.add_argument("--context", type=int, default=3, choices=[3, 4],
                   help="context version of the entropy model (default: 3, the shipped models' rows); 4 adds a "
                        "learned activity: per group (anchors/non-anchors × luma/chroma) integer weights of the "
                        "neighbourhood features, fitted on the design photos, into 16 buckets instead of 7: "
                        "about 2 %% fewer bits at the same PSNR on photos, decoding about 8 %% slower; integer, so "
                        "files stay bit-exact on every machine")
    t.add_argument("--filter-init", metavar="CHECKPOINT",
                   help="warm-start the post-filter from an earlier run's RUN/postfilter/checkpoint.pt (the decodes of "
                        "models designed alike are alike, so it starts near its end; recorded in the manifest; default: none, the filter starts as the identity)")
    t.add_argument("--seed", type=int, default=0, help="seed of the choices of photos and crops (default: 0)")
    t.add_argument("--run", dest="run_dir", help="run folder (default: runs/NAME beside the user model directory)")
    t.add_argument("--dest", help="model directory to install into (default: the user model directory)")
    t.add_argument("--restart", action="store_true", help="start the run folder afresh instead of continuing it")
    t.add_argument("-f", "--force", action="store_true", help="replace an installed user model of the same name")
    t.set_defaults(run=run)
