"""Speed and memory benchmark, all through the product: encode/decode seconds per Kodak image on one
thread (`ibc.codec.api.compress` / `decompress`, start-up excluded) for the default model at its default
quality and at a low and a high q, beside Pillow's JPEG/WebP/AVIF and CompressAI's factorized model
(the tables before 0.2.0 also had the block model, retired then); peak RSS and wall time of `ibc
compress` and `ibc decompress` of a 24-megapixel photo, each in a fresh process; and start-up: wall time
and peak RSS of `ibc info`, and of `ibc decompress` and `ibc compress` of one Kodak image with
`--backend onnx` and `--backend torch`, each in a fresh process, beside `python -c "import torch"` and
`python -c "import onnxruntime"`, against issue 14's targets (with the coding-only install's size from
bench/install_size.md), and whether each command imported torch. Times are the minimum over `--repeats`
runs per image (start-up: the median of 3 fresh processes after one unmeasured warm-up run); the load
average is recorded.

    python bench/speed.py --kodak ../shared/data/kodak -o bench/speed.json --table bench/speed.md
    python bench/speed.py --kodak ../shared/data/kodak --startup-only --startup-table bench/startup.md

CompressAI's speed does not depend on its training, so an untrained `bmshj2018_factorized(quality=3)`
(entropy tables built by `update()`) stands in for the peer.
"""
import argparse
import io
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ibc.codec.api import compress, decompress, read_header
from ibc.codec.image_io import read_image
from ibc.codec.metrics import psnr_of_mse
from ibc.codec.weights import load_model

LOW_Q, HIGH_Q = 18, 75  # the ends of `ibc eval`'s sweep (about 0.1 and 1.2 bpp on Kodak)
BIG = (6000, 4000)
TILE = 256

# Runs one command and reports its wall time and its own peak RSS (the wrapper has no other child).
RUN_SCRIPT = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def run_once(argv: list[str], env: dict | None = None) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of `argv` in a fresh process."""
    out = subprocess.run([sys.executable, "-c", RUN_SCRIPT, *argv], capture_output=True, text=True, check=True,
                         env=env)
    return tuple(map(float, out.stdout.split()))


def ibc_cli() -> str:
    return str(Path(sys.executable).with_name("ibc"))


# Issue 14's targets for the coding path (cold start, one Kodak image): wall s, peak RSS MB (10^6 bytes).
TARGETS = {"info": (0.3, None), "decompress": (1.0, 300), "compress": (1.5, None)}
INSTALL_TARGET_MB = 300
STARTUP_REPEATS = 3


def imported(args: list[str], env: dict) -> list[str]:
    """Which of torch and onnxruntime `python ARGS` imports (`-X importtime` lists every module loaded)."""
    err = subprocess.run([sys.executable, "-X", "importtime", *args], stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True, check=True, env=env).stderr
    names = {line.rsplit("|", 1)[-1].strip() for line in err.splitlines() if line.startswith("import time:")}
    return [m for m in ("torch", "onnxruntime") if m in names]


def startup(image: Path, repeats: int = STARTUP_REPEATS) -> dict:
    """What a command costs before it answers, each in a fresh process: `ibc info`, `ibc decompress` and
    `ibc compress` (default quality) of one Kodak image on each backend, and importing torch or onnxruntime
    alone. One unmeasured warm-up run per command (it also records what the command imports, and fills the
    bytecode cache, kept in a temporary folder, as an installed package has it), then `repeats` timed runs:
    the median wall time and the largest peak RSS."""
    ibc = ibc_cli()
    rgb = read_image(image)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        coded = tmp / "startup.ibc"
        coded.write_bytes(compress(rgb, load_model(None)))
        model = read_header(coded.read_bytes()).model
        env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "", "PYTHONPYCACHEPREFIX": str(tmp / "pycache")}
        commands = {("import torch", None): ["-c", "import torch"],
                    ("import onnxruntime", None): ["-c", "import onnxruntime"],
                    ("info", None): [ibc, "info", str(coded)]}
        for backend in ("onnx", "torch"):
            commands[("decompress", backend)] = [ibc, "decompress", str(coded), "-o", str(tmp / "out.png"),
                                                 "--force", "--backend", backend]
        for backend in ("onnx", "torch"):
            commands[("compress", backend)] = [ibc, "compress", str(image), "-o", str(tmp / "out.ibc"), "--force",
                                               "--backend", backend]
        load_before, rows = os.getloadavg()[0], []
        for (command, backend), args in commands.items():
            loads = imported(args, env)  # the warm-up run
            runs = [run_once([sys.executable, *args], env) for _ in range(repeats)]
            rows.append({"command": command, "backend": backend, "imports": loads,
                         "wall_s": float(np.median([r[0] for r in runs])),
                         "peak_rss_mb": max(r[1] for r in runs) * 2 ** 20 / 1e6})
            print(json.dumps(rows[-1]), flush=True)
    return {"date": date.today().isoformat(), "load_before": load_before, "load_after": os.getloadavg()[0],
            "cores": os.cpu_count(), "repeats": repeats, "image": image.name, "width": rgb.shape[1],
            "height": rgb.shape[0], "model": model, "rows": rows}


def install_size_mb(path: Path) -> float | None:
    """The whole coding-only venv's size in MB, from bench/install_size.md (in MiB there), if present."""
    m = re.search(r"^\| whole venv \| ([\d.]+)", path.read_text(), re.M) if path.is_file() else None
    return float(m.group(1)) * 2 ** 20 / 1e6 if m else None


def verdict(row: dict) -> str:
    """Issue 14's target of a coding-path row (the onnx backend, and `ibc info`), met or missed; importing
    torch misses it whatever the time."""
    if row["backend"] == "torch" or row["command"] not in TARGETS:
        return "—"
    wall, rss = TARGETS[row["command"]]
    ok = row["wall_s"] <= wall and (rss is None or row["peak_rss_mb"] <= rss) and "torch" not in row["imports"]
    target = f"≤ {wall} s" + (f", ≤ {rss} MB" if rss else "") + ", no torch"
    return f"{target}: {'met' if ok else '**missed**'}"


def startup_table(boot: dict, command: str, install: float | None, note: str = "") -> str:
    lines = [f"Made by `{command}` on {boot['date']}: each command in a fresh process, one unmeasured warm-up "
             f"run, then the median wall time of {boot['repeats']} runs and their largest peak RSS (MB = 10⁶ "
             f"bytes). `ibc compress` and `ibc decompress` code {boot['image']} ({boot['width']}×{boot['height']})"
             f" with {boot['model']} at the default quality. Load average {boot['load_before']:.1f} → "
             f"{boot['load_after']:.1f} on {boot['cores']} cores." + (f" {note}" if note else ""), "",
             "| command | wall s | peak RSS MB | imports torch | issue 14 target |", "|---|---:|---:|---|---|"]
    for r in boot["rows"]:
        name = (f'`python -c "{r["command"]}"`' if r["command"].startswith("import") else
                f"`ibc {r['command']}" + (f" --backend {r['backend']}`" if r["backend"] else "`"))
        lines.append(f"| {name} | {r['wall_s']:.2f} | {r['peak_rss_mb']:.0f} | "
                     f"{'yes' if 'torch' in r['imports'] else 'no'} | {verdict(r)} |")
    if install is None:
        lines += ["", f"Coding-only install: not measured (no bench/install_size.md; `make bench-install`), "
                      f"target ≤ {INSTALL_TARGET_MB} MB."]
    else:
        lines += ["", f"Coding-only install (bench/install_size.md): {install:.0f} MB on disk, target ≤ "
                      f"{INSTALL_TARGET_MB} MB: {'met' if install <= INSTALL_TARGET_MB else '**missed**'}."]
    return "\n".join(lines) + "\n"


def pillow_codec(fmt, **options):
    def encode(rgb):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt, **options)
        return buf.getvalue()

    def decode(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return encode, decode, len


def compressai_codec():
    from compressai.zoo import bmshj2018_factorized
    net = bmshj2018_factorized(quality=3, pretrained=False).eval()
    net.update(force=True)

    def pad(rgb):
        x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
        H, W = x.shape[2:]
        return torch.nn.functional.pad(x, (0, -W % 64, 0, -H % 64)), (H, W)

    @torch.inference_mode()
    def encode(rgb):
        x, size = pad(rgb)
        return net.compress(x), size

    @torch.inference_mode()
    def decode(blob):
        out, (H, W) = blob
        x_hat = net.decompress(out["strings"], out["shape"])["x_hat"][..., :H, :W]
        return (x_hat.clamp(0, 1)[0].permute(1, 2, 0) * 255).round().byte().numpy()
    return encode, decode, lambda blob: sum(len(s) for strings in blob[0]["strings"] for s in strings)


def ibc_codec(lm, quality=None):
    return (lambda rgb: compress(rgb, lm, quality=quality)), (lambda data: decompress(data, lm)), len


def time_codec(encode, decode, size, images, repeats):
    """Seconds per image on one thread: each image's minimum over `repeats` runs, then the mean."""
    torch.set_num_threads(1)
    decode(encode(images[0]))  # warm-up
    enc, dec, bits = [], [], 0
    for rgb in images:
        e, d = [], []
        for _ in range(repeats):
            t = time.perf_counter(); data = encode(rgb); e.append(time.perf_counter() - t)
            t = time.perf_counter(); decode(data); d.append(time.perf_counter() - t)
        enc.append(min(e)); dec.append(min(d))
        bits += size(data) * 8
    mp = sum(r.shape[0] * r.shape[1] for r in images) / 1e6
    return {"bpp": bits / mp / 1e6, "encode_s_per_image": float(np.mean(enc)), "encode_s_max": max(enc),
            "decode_s_per_image": float(np.mean(dec)), "decode_s_max": max(dec),
            "encode_mp_s": mp / sum(enc), "decode_mp_s": mp / sum(dec)}


def border_ratio(err: np.ndarray, n: int) -> float:
    """Mean error of the lines on either side of every tile border over the mean error of all lines."""
    k = np.arange(TILE, n, TILE)
    return float(err[np.r_[k - 1, k]].mean() / err.mean())


def big_photo(first: Path, folder: Path, crop: str, repeats: int) -> dict:
    """`ibc compress` and `ibc decompress` of a 6000×4000 photo (Kodak 01 upscaled) at the default quality,
    each in a fresh process (wall time with start-up and PNG I/O, peak RSS); PSNR, a crop across tile and
    window borders, and how much larger the error is on the lines beside tile borders than on average."""
    src, coded, decoded = folder / "big.png", folder / "big.ibc", folder / "big_out.png"
    rgb = np.asarray(Image.open(first).convert("RGB").resize(BIG, Image.BICUBIC))
    Image.fromarray(rgb).save(src, compress_level=1)
    ibc = ibc_cli()
    enc = [run_once([ibc, "compress", str(src), "-o", str(coded), "--force", "--quiet"]) for _ in range(repeats)]
    dec = [run_once([ibc, "decompress", str(coded), "-o", str(decoded), "--force", "--quiet"])
           for _ in range(repeats)]
    data = coded.read_bytes()
    out = np.asarray(Image.open(decoded).convert("RGB"))
    H, W, _ = rgb.shape
    sq, row_err, col_err = 0.0, np.zeros(H), np.zeros(W)
    for i in range(0, H, 500):
        e = out[i:i + 500].astype(np.float64) - rgb[i:i + 500]
        sq += float((e ** 2).sum())
        a = np.abs(e).mean(2)
        row_err[i:i + 500] = a.mean(1)
        col_err += a.sum(0) / H
    Image.fromarray(out[1792:2304, 1792:2304]).save(crop)
    for f in (src, coded, decoded):
        f.unlink()
    return {"width": W, "height": H, "model": read_header(data).model, "bytes": len(data), "bpp": len(data) * 8 / (W * H),
            "psnr": psnr_of_mse(sq / (H * W * 3)),
            "encode_wall_s": min(r[0] for r in enc), "encode_peak_rss_mb": max(r[1] for r in enc),
            "decode_wall_s": min(r[0] for r in dec), "decode_peak_rss_mb": max(r[1] for r in dec),
            "border_error_ratio_rows": border_ratio(row_err, H), "border_error_ratio_cols": border_ratio(col_err, W)}


def bpp(row: dict) -> str:
    return "—" if row["codec"].startswith("compressai") else f"{row['bpp']:.3f}"  # untrained: its rate means nothing


def speed_table(rows: list[dict], big: dict, meta: dict) -> str:
    lines = [f"Kodak ({meta['kodak_images']} images), one thread, minimum of {meta['repeats']} runs per image "
             f"(CompressAI: {meta['compressai_repeats']}), start-up excluded; load average "
             f"{meta['load_before']:.1f} → {meta['load_after']:.1f} on {os.cpu_count()} cores, {meta['date']}.", "",
             "| codec | setting | bpp | encode s/image (max) | decode s/image (max) | encode MP/s | decode MP/s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['codec']} | {r['setting']} | {bpp(r)} | {r['encode_s_per_image']:.3f} "
              f"({r['encode_s_max']:.3f}) | {r['decode_s_per_image']:.3f} ({r['decode_s_max']:.3f}) | "
              f"{r['encode_mp_s']:.2f} | {r['decode_mp_s']:.2f} |" for r in rows]
    lines += ["", f"24-megapixel photo ({big['width']}×{big['height']}, Kodak 01 upscaled), {meta['model']} at the "
                  f"default quality: {big['bpp']:.3f} bpp, {big['psnr']:.2f} dB; each command in a fresh process "
                  f"(wall time includes start-up and PNG I/O; minimum of {meta['big_repeats']})", "",
              "| command | wall s | peak RSS MB |", "|---|---:|---:|",
              f"| `ibc compress` | {big['encode_wall_s']:.1f} | {big['encode_peak_rss_mb']:.0f} |",
              f"| `ibc decompress` | {big['decode_wall_s']:.1f} | {big['decode_peak_rss_mb']:.0f} |", "",
              f"Error on the lines beside tile borders ÷ mean error: {big['border_error_ratio_rows']:.3f} (rows), "
              f"{big['border_error_ratio_cols']:.3f} (columns)."]
    return "\n".join(lines) + "\n"


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kodak", default="../shared/data/kodak")
    p.add_argument("--images", type=int, default=24)
    p.add_argument("--repeats", type=int, default=3, help="runs per image; the minimum counts (default 3)")
    p.add_argument("--compressai-repeats", type=int, default=1, help="runs per image for CompressAI (default 1)")
    p.add_argument("--big-repeats", type=int, default=1, help="runs of each 24 MP command (default 1)")
    p.add_argument("-o", "--output", default="bench/speed.json")
    p.add_argument("--table", default="bench/speed.md")
    p.add_argument("--crop", default="bench/tile_border_24mp.png", help="a crop of the 24 MP decode across tile borders")
    p.add_argument("--startup-table", default="bench/startup.md", help="the start-up table (markdown)")
    p.add_argument("--startup-only", action="store_true", help="measure start-up only")
    p.add_argument("--install-table", default="bench/install_size.md",
                   help="the coding-only install's size, for its target (`make bench-install`)")
    p.add_argument("--note", default="", help="a sentence for the start-up table (e.g. what else ran)")
    args = p.parse_args()
    files = sorted(Path(args.kodak).glob("*.png"))[: args.images]
    meta = {"kodak_images": len(files), "repeats": args.repeats, "compressai_repeats": args.compressai_repeats,
            "big_repeats": args.big_repeats, "load_before": os.getloadavg()[0], "date": date.today().isoformat()}
    boot = startup(files[0])
    command = shlex.join(["python", "bench/speed.py", *sys.argv[1:]])
    Path(args.startup_table).write_text(startup_table(boot, command, install_size_mb(Path(args.install_table)),
                                                      args.note))
    if args.startup_only:
        return
    images = [read_image(f) for f in files]
    lm = load_model(None)
    meta["model"] = lm.name
    codecs = {(f"ibc {lm.name}", "default q 50"): ibc_codec(lm),
              (f"ibc {lm.name}", f"q {LOW_Q}"): ibc_codec(lm, LOW_Q),
              (f"ibc {lm.name}", f"q {HIGH_Q}"): ibc_codec(lm, HIGH_Q)}
    codecs |= {("jpeg", "q75"): pillow_codec("JPEG", quality=75),
               ("webp", "q75 m6"): pillow_codec("WEBP", quality=75, method=6),
               ("avif", "q60"): pillow_codec("AVIF", quality=60),
               ("compressai factorized", "q3"): compressai_codec()}
    rows = []
    for (name, setting), (encode, decode, size) in codecs.items():
        repeats = args.compressai_repeats if name.startswith("compressai") else args.repeats
        r = {"codec": name, "setting": setting, "threads": 1, "repeats": repeats,
             **time_codec(encode, decode, size, images, repeats)}
        rows.append(r)
        print(json.dumps(r), flush=True)
    with tempfile.TemporaryDirectory(dir=Path(args.output).parent) as tmp:
        big = big_photo(files[0], Path(tmp), args.crop, args.big_repeats)
    print(json.dumps({"24mp": big}), flush=True)
    meta["load_after"] = os.getloadavg()[0]
    Path(args.output).write_text(json.dumps({**meta, "rows": rows, "24mp": big, "startup": boot}, indent=2) + "\n")
    Path(args.table).write_text(speed_table(rows, big, meta))


if __name__ == "__main__":
    main()
