"""Speed and memory benchmark: encode/decode megapixels per second on Kodak, with 1 and 2 threads, beside
Pillow's JPEG/WebP/AVIF and CompressAI's factorized model; peak RSS of ibc on a 24-megapixel photo; and
start-up: wall time and peak RSS of `ibc info` and of `ibc decompress` on one Kodak image, each in a fresh
process, beside `python -c "import torch"` measured in the same run.

    python bench/speed.py --kodak ../shared/data/kodak -o bench/speed.json --table bench/speed.md
    python bench/speed.py --startup-only      # start-up alone, in seconds

CompressAI's speed does not depend on its training, so an untrained `bmshj2018_factorized(quality=3)`
(entropy tables built by `update()`) stands in for the peer.
"""
import argparse
import io
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ibc.codec.api import compress, decompress
from ibc.codec.image_io import read_image
from ibc.codec.weights import load_model

RSS_SCRIPT = """
import resource, sys, time, numpy as np, torch
from PIL import Image
from ibc.codec.api import compress, decompress
from ibc.codec.weights import load_model
torch.set_num_threads(2)
src = Image.open(sys.argv[1]).convert("RGB").resize((6000, 4000), Image.BICUBIC)
rgb = np.asarray(src); del src
lm = load_model(None)
t = time.time(); data = compress(rgb, lm); t_enc = time.time() - t
t = time.time(); out = decompress(data, lm); t_dec = time.time() - t
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # before the PSNR's float copies
mse = np.mean([np.mean((out[i:i + 500].astype(np.float64) - rgb[i:i + 500]) ** 2) for i in range(0, 4000, 500)])
print(peak, t_enc, t_dec, len(data) * 8 / rgb.shape[0] / rgb.shape[1], 10 * np.log10(255 ** 2 / mse))
Image.fromarray(out[1792:2304, 1792:2304]).save(sys.argv[2])
"""


# Runs one command and reports its wall time and its own peak RSS (the wrapper has no other child).
RUN_SCRIPT = """
import resource, subprocess, sys, time
t = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL)
print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def run_fresh(argv: list[str], repeats: int) -> dict:
    """Median wall time and peak RSS of `argv` over `repeats` fresh processes."""
    runs = [tuple(map(float, subprocess.run([sys.executable, "-c", RUN_SCRIPT, *argv], capture_output=True,
                                            text=True, check=True).stdout.split())) for _ in range(repeats)]
    return {"wall_s": float(np.median([r[0] for r in runs])), "peak_rss_mb": max(r[1] for r in runs)}


def startup(image: Path, folder: Path, repeats: int = 3) -> list[dict]:
    """What a command costs before it answers: `ibc info` (no torch), `ibc decompress` of one Kodak image,
    and importing torch alone."""
    ibc = str(Path(sys.executable).with_name("ibc"))
    coded, decoded = folder / "startup.ibc", folder / "startup.png"
    coded.write_bytes(compress(read_image(image), load_model(None)))
    commands = {'python -c "import torch"': [sys.executable, "-c", "import torch"],
                "ibc info": [ibc, "info", str(coded)],
                f"ibc decompress ({image.name})": [ibc, "decompress", str(coded), "-o", str(decoded), "--force"]}
    rows = [{"command": name, **run_fresh(argv, repeats)} for name, argv in commands.items()]
    coded.unlink()
    decoded.unlink(missing_ok=True)
    return rows


def startup_table(rows: list[dict]) -> str:
    lines = ["| command | wall s | peak RSS MB |", "|---|---|---|"]
    lines += [f"| `{r['command']}` | {r['wall_s']:.2f} | {r['peak_rss_mb']:.0f} |" for r in rows]
    return "\n".join(lines) + "\n"


def pillow_codec(fmt, **options):
    def encode(rgb):
        buf = io.BytesIO()
        Image.fromarray(rgb).save(buf, format=fmt, **options)
        return buf.getvalue()

    def decode(data):
        return np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    return encode, decode


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
    return encode, decode


def ibc_codec(lm):
    return (lambda rgb: compress(rgb, lm)), (lambda data: decompress(data, lm))


def time_codec(encode, decode, images, threads):
    torch.set_num_threads(threads)
    encode(images[0])  # warm-up
    enc = dec = 0.0
    for rgb in images:
        t = time.perf_counter(); data = encode(rgb); enc += time.perf_counter() - t
        t = time.perf_counter(); decode(data); dec += time.perf_counter() - t
    mp = sum(r.shape[0] * r.shape[1] for r in images) / 1e6
    return {"threads": threads, "encode_s_per_image": enc / len(images), "decode_s_per_image": dec / len(images),
            "encode_mp_s": mp / enc, "decode_mp_s": mp / dec}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kodak", default="../shared/data/kodak")
    p.add_argument("--images", type=int, default=24)
    p.add_argument("-o", "--output", default="bench/speed.json")
    p.add_argument("--table", default="bench/speed.md")
    p.add_argument("--crop", default="bench/tile_border_24mp.png", help="a crop of the 24 MP decode across tile borders")
    p.add_argument("--startup-table", default="bench/startup.md", help="the start-up table (markdown)")
    p.add_argument("--startup-only", action="store_true", help="measure start-up only")
    args = p.parse_args()
    files = sorted(Path(args.kodak).glob("*.png"))[: args.images]
    boot = startup(files[0], Path(args.startup_table).parent)
    print(json.dumps({"startup": boot}), flush=True)
    Path(args.startup_table).write_text(startup_table(boot))
    if args.startup_only:
        return
    images = [read_image(f) for f in files]
    lm = load_model(None)
    codecs = {f"ibc {lm.name} (default level)": ibc_codec(lm),
              "jpeg q75": pillow_codec("JPEG", quality=75), "webp q75 m6": pillow_codec("WEBP", quality=75, method=6),
              "avif q60": pillow_codec("AVIF", quality=60), "compressai factorized q3": compressai_codec()}
    rows = []
    for name, (encode, decode) in codecs.items():
        for threads in (1, 2):
            r = {"codec": name, **time_codec(encode, decode, images, threads)}
            rows.append(r)
            print(json.dumps(r), flush=True)
    out = subprocess.run([sys.executable, "-c", RSS_SCRIPT, str(files[0]), args.crop], capture_output=True, text=True,
                         check=True).stdout.split()
    big = dict(zip(["peak_rss_mb", "encode_s", "decode_s", "bpp", "psnr"], map(float, out)))
    print(json.dumps({"24mp": big}))
    Path(args.output).write_text(json.dumps({"kodak_images": len(images), "rows": rows, "24mp": big,
                                             "startup": boot}, indent=2) + "\n")
    lines = ["| codec | threads | encode s/image | decode s/image | encode MP/s | decode MP/s |", "|---|---|---|---|---|---|"]
    lines += [f"| {r['codec']} | {r['threads']} | {r['encode_s_per_image']:.3f} | {r['decode_s_per_image']:.3f} | "
              f"{r['encode_mp_s']:.2f} | {r['decode_mp_s']:.2f} |" for r in rows]
    lines += ["", f"24-megapixel photo (6000×4000, Kodak 01 upscaled), ibc default level, 2 threads: "
                  f"peak RSS {big['peak_rss_mb']:.0f} MB, encode {big['encode_s']:.1f} s, decode {big['decode_s']:.1f} s, "
                  f"{big['bpp']:.3f} bpp, {big['psnr']:.2f} dB."]
    Path(args.table).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
