"""`ibc`: compress and decompress images with a learned codec, inspect .ibc files, train and export models."""
import argparse
import json
import sys
from pathlib import Path

EXIT_USAGE = 2    # a failure: bad arguments or input, a missing model, a file that failed in a folder run
EXIT_CORRUPT = 3  # corrupt data: a damaged, truncated or foreign .ibc file (also a --salvage that filled tiles in)
EXIT_CODES = ("exit status: 0 done; 2 failed (bad arguments or input, a missing model, or any file of a folder "
              "run); 3 corrupt data (a damaged, truncated or foreign .ibc file; also `decompress --salvage` "
              "when it had to fill tiles in)")
TRAIN_MODULES = {"torch", "torchvision", "pytorch_msssim", "matplotlib", "scipy", "bjontegaard", "onnx"}


def _source(name: str) -> Path:
    """The input, checked before any model or heavy module loads."""
    src = Path(name)
    if not src.exists():
        raise _error(f"{src}: no such file or folder")
    return src


def _folder_output(src: Path, output: str | None, tail: str) -> Path:
    """A folder run's output folder: -o, else beside the input (`.` is named by where it is)."""
    return Path(output) if output else src.resolve().with_name(src.resolve().name + tail)


def _file_output(src: Path, output: str | None, name: str, force: bool) -> Path:
    """One file's output: -o (into it, if it is a folder), else `name` beside the input; checked free
    before any model loads."""
    out = Path(output) if output else src.with_name(name)
    if out.is_dir():
        out = out / name
    if out.exists() and not force:
        raise _error(f"{out}: already exists (use --force to overwrite)")
    return out


def _compress(args) -> int:
    src = _source(args.input)
    out = None if src.is_dir() else _file_output(src, args.output, src.stem + ".ibc", args.force)
    from ..codec.files import compress_file, folder_jobs

    options = dict(model=args.model, quality=args.quality, target_bpp=args.target_bpp, size=args.size,
                   drop_alpha=args.drop_alpha, force=args.force, verbose=args.verbose, mode=args.mode,
                   seed=args.seed, backend=args.backend)
    if out is None:
        pairs = folder_jobs(src, _folder_output(src, args.output, "-ibc"), compressing=True)
        return _run_folder(compress_file, pairs, args, options)
    search = "--size" if args.size is not None else "--target-bpp" if args.target_bpp is not None else None
    with _WindowBar(f"compress {search}" if search else "compress", args.quiet, search=bool(search)) as bar:
        r = compress_file(src, out, progress=bar, **options)
    if not args.quiet:
        line = f"{r['out']}: {r['bytes']:,} bytes, {r['bpp']:.4f} bpp, {_setting(r)}, {r['width']}×{r['height']}"
        line += f", mode gc, seed {r['seed']}" if r["mode"] == "gc" else ""
        print(line + (f", PSNR {r['psnr']:.2f} dB" if "psnr" in r else ""))
    return 0


def _decompress(args) -> int:
    src = _source(args.input)
    # NAME.ibc → NAME.ibc.png: never the photo NAME.ibc was made from
    free = args.force or args.samples is not None  # samples have names of their own, checked later
    out = None if src.is_dir() else _file_output(src, args.output, src.name + ".png", free)
    quality = _output_quality(args.output_quality)
    from ..codec.files import decompress_file, folder_jobs

    options = dict(model=args.model, force=args.force, salvage=args.salvage, seed=args.seed,
                   realism=args.realism, samples=args.samples, backend=args.backend,
                   postfilter=not args.no_postfilter, output_quality=quality)
    if out is None:
        pairs = folder_jobs(src, _folder_output(src, args.output, "-png"), compressing=False)
        return _run_folder(decompress_file, pairs, args, options)
    with _WindowBar("decompress", args.quiet) as bar:
        r = decompress_file(src, out, progress=bar, **options)
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


def _setting(r: dict) -> str:
    """A file's quality setting: q and the real quantiser step, with the header's code for it."""
    return f"q {r['quality']:g}, step {r['step']:.1f} (code {r['step_code']})"


class _WindowBar:
    """A progress bar over an image's windows, shown only for images big enough to take a while, or with
    `search` over a --size/--target-bpp search's trials from the first (a search takes seconds at any
    size; its total shrinks as its bracket does). Only on a terminal: a redirected stderr gets no bar."""

    SHOW_FROM = 16  # windows: about 1 megapixel when encoding, 4 when decoding

    def __init__(self, desc: str, quiet: bool, search: bool = False):
        self.desc, self.quiet, self.bar = desc, quiet, None
        self.show_from, self.unit = (1, "trial") if search else (self.SHOW_FROM, "window")

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and total >= self.show_from and not self.quiet:
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=self.desc, unit=self.unit, leave=False, dynamic_ncols=True,
                            disable=None)
        if self.bar is not None:
            self.bar.total = total
            self.bar.update(done - self.bar.n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.close()


def _run_folder(job, pairs, args, options) -> int:
    """Every file of a folder, in -j processes, with a progress bar and a summary; exit 2 if any failed."""
    from tqdm import tqdm

    from ..codec.files import run_folder

    failed, done = [], []
    with tqdm(total=len(pairs), desc=job.__name__.split("_")[0], unit="file", disable=args.quiet) as bar:
        for src, result, error in run_folder(job, pairs, args.jobs, **options):
            (done.append(result) if result else failed.append(error))
            bar.update(1)
    total = sum(r["bytes"] for r in done)
    pixels = sum(r["pixels"] for r in done)
    if not args.quiet:
        summary = f"{len(done)} of {len(pairs)} files, {total:,} bytes"
        if job.__name__ == "compress_file" and pixels:
            summary += f", mean {sum(r['bpp'] for r in done) / len(done):.4f} bpp"
        print(summary)
    for error in failed:
        print(f"ibc: error: {error}", file=sys.stderr)
    return EXIT_USAGE if failed else 0


def _info(args) -> int:
    from ..codec.bitstream import parse_header
    from ..codec.step_code import quality_of_code, step_from_code

    data = _read_bytes(Path(args.input))
    header, _ = parse_header(data)
    # the quality setting: q, its real quantiser step and the header's code for that step; a file of a
    # block model (retired in 0.2.0, whose files still read here) has a level instead
    setting = ({"quality": quality_of_code(header.step), "step": step_from_code(header.step),
                "step_code": header.step} if header.step else {"level": header.level})
    info = {"file": args.input, "bytes": len(data), "bpp": len(data) * 8 / (header.width * header.height),
            "width": header.width, "height": header.height, "channels": 1 if header.grey else 3,
            "grey": header.grey, "mode": header.mode, **setting,
            "seed": header.seed, "tile": header.tile, "model": header.model,
            "weights_hash": header.weights_hash.hex(), "chunks": header.chunks}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        info["channels"] = "1 (greyscale)" if header.grey else "3 (colour)"
        if header.step:
            info["step"] = f"{info['step']:.1f} (code {header.step})"
        for k, v in info.items():
            if k not in ("grey", "step_code"):  # said by channels and step
                print(f"{k:13s} {v:.4f}" if k == "bpp" else f"{k:13s} {v}")
    return 0


def _score(args) -> int:
    """The novelty score (paper §4.3) of each image: its rate and the gc discriminator's output (codec.score)."""
    for name in args.inputs:
        _source(name)
    from ..codec.score import score_files, table

    rows = score_files([Path(name) for name in args.inputs])
    print(json.dumps(rows, indent=2) if args.json else table(rows), end="\n" if args.json else "")
    return 0


def _parse_rates(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(":"))
    except ValueError:
        raise _error(f"--rates takes LOW:HIGH in bits per pixel, e.g. 0.1:1.0 (got {text!r})") from None
    if not 0 < lo < hi:
        raise _error(f"--rates LOW:HIGH needs 0 < LOW < HIGH (got {text!r})")
    return lo, hi


def _train(args) -> int:
    """The one recipe (codec.training.recipe): a complete model into the user model directory."""
    _source(args.data)
    rates = _parse_rates(args.rates)
    from ..codec.training.recipe import Recipe, train
    from ..codec.weights import user_dir

    recipe = Recipe(data=str(Path(args.data)), name=args.name, rates=rates, hours=args.hours, mode=args.mode,
                    val=args.val, images=args.images, seed=args.seed)
    dest = Path(args.dest) if args.dest else user_dir()
    run_dir = Path(args.run_dir) if args.run_dir else dest.parent / "runs" / args.name
    command = "ibc train " + " ".join(sys.argv[2:]) if sys.argv[1:2] == ["train"] else f"ibc train {args.data} --name {args.name}"
    weights = train(recipe, run_dir, dest, command, restart=args.restart, force=args.force)
    print(f"{args.name}: {weights} (use it with --model {args.name})")
    return 0


def _models(args) -> int:
    """Every installed model, shipped and the user's, with its origin, rates and measured figures."""
    from ..codec.weights import WEIGHTS_DIR, entries, user_dir

    rows = []
    for folder, e in entries():
        figures = e.get("measured", {})
        kodak = next(iter(figures.items()), None)
        pf = e.get("training", {}).get("postfilter", {}).get("validation", {}).get("by_step")
        rows.append({"name": e["name"], "mode": e.get("mode"), "origin": "shipped" if folder == WEIGHTS_DIR else str(folder),
                     "rates": e.get("quality", ""),
                     "measured": (f"{kodak[0]}: {len(kodak[1])} settings" if kodak else
                                  f"post-filter +{max(d['gain'] for d in pf.values()):.2f} dB on validation" if pf else ""),
                     "sha256": e["sha256"][:16]})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print(f"user model directory: {user_dir()} (IBC_MODEL_PATH sets it)")
    for r in rows:
        print(f"{r['name']:16s} {r['mode'] or '':8s} {r['origin']:8s} {r['rates']}" + (f"; {r['measured']}" if r["measured"] else ""))
    return 0


def _export(args) -> int:
    """The coding bundle of existing weights, which stay as they are (`ibc train` exports its own)."""
    src = _source(args.weights)
    from ..codec.training.export_onnx import write_coding_bundle

    print(f"{write_coding_bundle(src)}: ONNX coding graphs and tables")
    return 0


def _eval(args) -> int:
    if args.lpips or args.fid:
        raise _error("LPIPS and FID are not available: they need local network weights, and ibc downloads none")
    import torch
    from ..codec.evaluation.evaluate import evaluate

    torch.set_num_threads(args.threads)
    report = evaluate(Path(args.folder), args.codec, Path(args.output), levels=args.levels, limit=args.limit,
                      record=args.record, realisms=args.realism, seed=args.seed, drop_alpha=args.drop_alpha,
                      warn=lambda message: print(f"ibc: warning: {message}", file=sys.stderr))
    if not args.quiet:
        print(f"{args.output}: {len(report['results'])} settings × {len(report['images'])} images "
              f"(also {Path(args.output).with_suffix('.csv')})")
    return 0


def _plot(args) -> int:
    from ..codec.image_io import write_atomic
    from ..codec.evaluation.plot import bd_table, load_curves, plot, points_table

    curves = load_curves(args.results)
    table = bd_table(curves, args.anchor) + points_table(curves, args.anchor)
    plot(curves, Path(args.output), title=args.title, sweep_level=args.sweep_level)
    if args.table:
        write_atomic(Path(args.table), table.encode(), force=True)
    print(table, end="")
    print(f"{args.output}: written")
    return 0


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise _error(f"{path}: no such file")
    return path.read_bytes()


def _error(message: str):
    from ..codec.errors import CodecError
    return CodecError(message)


class _Version(argparse.Action):
    """`ibc --version`, looked up only when asked (the metadata lookup costs start-up time)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        from importlib.metadata import version
        print(f"ibc {version('ibc')}")
        parser.exit()


BACKEND_HELP = ("what runs the model: onnx (ONNX Runtime + numpy, no PyTorch: the model's exported graphs), "
                "torch (PyTorch; needs ibc[train]), or auto: onnx when the model ships its graphs and "
                "onnxruntime is installed, else torch (default: auto); a gc model such as gc-v4 is numpy on "
                "its base's backend. Both give the same indices, so files from either decode with either")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ibc", description=__doc__, epilog=EXIT_CODES)
    p.add_argument("--version", action=_Version, help="print the version and exit")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("compress", help="image → .ibc", description="Compress an image into an .ibc file.")
    c.add_argument("input", help="any image Pillow reads (PNG, JPEG, WebP, TIFF, …), or a folder of them")
    c.add_argument("-o", "--output", help="output file, or an existing folder to write into (default: INPUT "
                                          "with suffix .ibc); for a folder, the output folder (default: INPUT-ibc)")
    c.add_argument("-j", "--jobs", type=int, default=1, help="files coded in parallel (folders; default: 1)")
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
    c.add_argument("-f", "--force", action="store_true", help="overwrite an existing output file")
    c.add_argument("--quiet", action="store_true", help="print nothing on success")
    c.add_argument("--mode", choices=["shannon", "gc"],
                   help="gc: generative compression: the same bits as the Shannon-AE model, marked for the "
                        "installed generative model built on it (on --model, or the default), whose "
                        "randomized decoder adds plausible detail the bits do not carry; shannon: the plain "
                        "MSE-trained reconstruction (default: the mode of --model, shannon for the default)")
    c.add_argument("--seed", type=int, default=0, metavar="S",
                   help="seed of the generative decoder's noise, stored in the file (default: 0); the same "
                        "file and seed decode to the same pixels")
    c.add_argument("-v", "--verbose", action="store_true",
                   help="also decode the file as `ibc decompress` does by default (its model, realism and "
                        "seed) and print the PSNR of those pixels")
    c.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto", help=BACKEND_HELP)
    c.set_defaults(run=_compress)

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
    d.add_argument("-j", "--jobs", type=int, default=1, help="files decoded in parallel (folders; default: 1)")
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
    d.add_argument("-f", "--force", action="store_true", help="overwrite an existing output file")
    d.add_argument("--quiet", action="store_true", help="print nothing on success")
    d.add_argument("-v", "--verbose", action="store_true",
                   help="also print the file's size, bpp, quality setting and model")
    d.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto", help=BACKEND_HELP)
    d.add_argument("--no-postfilter", action="store_true",
                   help="leave out the model's post-filter (a small CNN that removes ringing from the "
                        "Shannon-AE reconstruction; it changes no bits, only the rendering): the plain "
                        "synthesis, as decoders before it rendered")
    d.set_defaults(run=_decompress)

    i = sub.add_parser("info", help="show an .ibc header", description="Print the header of an .ibc file.")
    i.add_argument("input", help="an .ibc file (only its header is read)")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(run=_info)

    n = sub.add_parser("score", help="novelty score of images (rate and discriminator)", description=(
        "How far each image lies from the training photos (the paper's novelty score, §4.3): the bits per pixel "
        "of its own shannon-v2 file at the scoring quality, and the gc-v2 discriminator's mean logit on its "
        "generative reconstruction given the Shannon-AE one; novelty = sqrt(z_rate² + z_d²), in units of the "
        "training photos' std (log2 bpp for the rate). Statistics and discriminator: weights/gc-v2-score/."))
    n.add_argument("inputs", nargs="+", metavar="IMAGE", help="images (or folders of them) to score")
    n.add_argument("--json", action="store_true", help="print JSON: a list of one object per image")
    n.set_defaults(run=_score)

    t = sub.add_parser("train", help="build a complete model from a folder of photos", description=(
        "Build a complete model from a folder of photos, in stages: the split (1 in 10 photos held out for "
        "validation, by the hash of the file name, or --val), the steps that reach --rates on the training "
        "photos, the design (ECVQ codebooks and integer context priors, closed form), the post-filter (SGD on "
        "the model's own decodes over the rate range, for the rest of --hours), with --mode gc the randomized "
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
                        "to the q range that reaches LOW..HIGH, which the command prints (about q 20..75 for "
                        "photos at the default)")
    t.add_argument("--hours", type=float, default=4.0,
                   help="wall-clock budget of the whole recipe, set-up included (default: 4); a small one gives a "
                        "weaker but complete model")
    t.add_argument("--mode", default="shannon", choices=["shannon", "gc"],
                   help="gc also builds NAME-gc, the generative decoder on the model's bitstream (default: shannon)")
    t.add_argument("--val", help="folder of validation photos (default: 1 in 10 of PHOTOS, chosen by name hash)")
    t.add_argument("--images", type=int, default=30, help="photos the codebooks are designed on (default: 30)")
    t.add_argument("--seed", type=int, default=0, help="seed of the choices of photos and crops (default: 0)")
    t.add_argument("--run", dest="run_dir", help="run folder (default: runs/NAME beside the user model directory)")
    t.add_argument("--dest", help="model directory to install into (default: the user model directory)")
    t.add_argument("--restart", action="store_true", help="start the run folder afresh instead of continuing it")
    t.add_argument("-f", "--force", action="store_true", help="replace an installed user model of the same name")
    t.set_defaults(run=_train)

    m = sub.add_parser("models", help="list the installed models", description=(
        "List the shipped models and the user's (from `ibc train`, in the user model directory), with their "
        "origin, rate range and measured figures."))
    m.add_argument("--json", action="store_true", help="print JSON")
    m.set_defaults(run=_models)

    e = sub.add_parser("export", help="weights → ONNX coding graphs", description=(
        "Write the coding bundle of an existing weights file (e.g. weights/shannon-v3.pt → weights/shannon-v3/: "
        "each lifting level as an ONNX graph, and its integer tables), which the torch-free coding path runs "
        "on; the weights file itself stays unchanged. `ibc train` writes its model's bundle itself."))
    e.add_argument("weights", help="a model's .pt weights file")
    e.add_argument("--onnx-only", action="store_true",
                   help="the only kind of export there is (kept so that `ibc export --onnx-only W` still works)")
    e.set_defaults(run=_export)

    v = sub.add_parser("eval", help="rate–distortion–realism of codecs on a folder",
                       description="Compress and decompress every image of FOLDER with each codec at each quality "
                                   "setting; write per-image and mean bpp, PSNR, MS-SSIM, realism (SWD) and "
                                   "timings as JSON and CSV. Finished work is cached beside the output, so an "
                                   "interrupted run resumes.")
    v.add_argument("folder", help="folder of images (e.g. the 24 Kodak images)")
    v.add_argument("--codec", action="append", metavar="CODEC",
                   help="ibc[:MODEL], jpeg, webp, avif or jpeg2000; repeat for several (default: ibc and the four "
                        "classical codecs)")
    v.add_argument("--levels", type=float, nargs="+", metavar="Q",
                   help="ibc quality settings q to run (default: 8 q values from about 0.1 to 1.5 bpp)")
    v.add_argument("--drop-alpha", action="store_true",
                   help="code images with transparency by dropping their alpha (default: skip them, saying so)")
    v.add_argument("--realism", type=float, nargs="+", metavar="A",
                   help="gc models: decoder realism values in [0, 1] to evaluate, one series each; each file is "
                        "encoded once and decoded per A (default: 1)")
    v.add_argument("--seed", type=int, default=0, help="gc models: the decoder noise's seed (default: 0)")
    v.add_argument("--limit", type=int, help="only the first N images, sorted by name (default: all)")
    v.add_argument("-o", "--output", required=True, help="results .json (a .csv and a .cache.jsonl go beside it)")
    v.add_argument("--threads", type=int, default=1, help="CPU threads for the ibc encoder (default: 1)")
    # LPIPS and FID need network weights that ibc does not ship: refused with a message, not offered in --help
    v.add_argument("--lpips", action="store_true", help=argparse.SUPPRESS)
    v.add_argument("--fid", action="store_true", help=argparse.SUPPRESS)
    v.add_argument("--record", action="store_true",
                   help="write shipped ibc models' per-level figures into weights/manifest.json")
    v.add_argument("--quiet", action="store_true", help="print nothing on success")
    v.set_defaults(run=_eval)

    g = sub.add_parser("plot", help="plot eval results, print BD-rates",
                       description="Plot PSNR, MS-SSIM (dB) and realism (SWD) against bpp and the distortion–"
                                   "realism plane from `ibc eval` results; print a BD-rate table against an anchor.")
    g.add_argument("results", nargs="+", help="results .json files from `ibc eval`")
    g.add_argument("-o", "--output", required=True, help="figure file (.png, .pdf, .svg)")
    g.add_argument("--anchor", default="jpeg", help="codec the BD-rates are measured against (default: jpeg)")
    g.add_argument("--table", help="also write the BD-rate table to this markdown file (default: stdout only)")
    g.add_argument("--title", help="figure title (default: none)")
    g.add_argument("--sweep-level", type=int, metavar="Q",
                   help="quality setting q of the distortion–realism panel of a gc model's realism sweep "
                        "(default: its lowest)")
    g.set_defaults(run=_plot)
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
