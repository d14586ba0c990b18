"""Shannon-AE v2 at step 0 (no gradient training): real range-coded files against WebP, JPEG, JPEG 2000.

Stages (each one run ≤ ~8 min on one core; results cached in runs/v2/*.json, the report rebuilt from them):
  fit     design codebooks and priors on BSDS500 training images → runs/v2/step0.pt (+ step0_scalar.pt)
  val     BSDS500 validation images (codec.dataset.split_train_val), centre crops to multiples of 64
  kodak   the 24 Kodak images (evaluation only), with one-thread encode/decode times
  tiling  bytes with 256-pixel tiles against one whole-image tile
  memory  peak RSS of a 24-megapixel encode + decode (a subprocess per direction)
  speed   one-thread encode/decode seconds per Kodak image at steps 160, 56, 20 (min of 3 runs each)
  report  write bench/v2_step0.md
Usage: OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python bench/v2_step0.py STAGE [N]
"""
import io
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ibc.codec.dataset import list_images, load_rgb, split_train_val
from ibc.codec import subband_tiles
from ibc.codec.subband_tiles import decode_image, encode_image
from ibc.models.subband_context import tile_bands
from ibc.models.wavelet_codec import WaveletCodec
from ibc.models.wavelet_design import design

DATA, KODAK = Path("/work/shared/data/train"), Path("/work/shared/data/kodak")
RUNS = Path("runs/v2")
OUT = Path(__file__).with_suffix(".md")
STEPS = (160, 112, 80, 56, 40, 28, 20)
HEADER = 40  # bytes allowed for the container header per file
ANCHORS = {
    "JPEG": ("JPEG", (2, 5, 10, 20, 30, 50, 70, 85, 92), lambda q: {"quality": q, "subsampling": 2, "optimize": True}),
    "WebP": ("WEBP", (0, 5, 15, 30, 50, 70, 85, 92), lambda q: {"quality": q, "method": 6}),
    "JPEG 2000": ("JPEG2000", (0.05, 0.1, 0.2, 0.35, 0.5, 0.75, 1.0, 1.5, 2.0),
                  lambda b: {"quality_mode": "rates", "quality_layers": [24 / b], "irreversible": True, "mct": 1, "no_jp2": True}),
}


def rgb_of(path, crop64=False):
    x = load_rgb(path).numpy().transpose(1, 2, 0)
    if crop64:
        H, W = x.shape[0] // 64 * 64, x.shape[1] // 64 * 64
        t, l = (x.shape[0] - H) // 2, (x.shape[1] - W) // 2
        x = x[t:t + H, l:l + W]
    return np.ascontiguousarray(x)


def psnr(a, b):
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


def load_model(name):
    state = torch.load(RUNS / f"{name}.pt", weights_only=False)
    m = WaveletCodec(mode=state["mode"])
    m.load_state_dict(state["model"])
    return m


def code(m, rgb, step):
    """Real file bytes (payloads + header allowance), PSNR, encode and decode seconds."""
    H, W, _ = rgb.shape
    t0 = time.perf_counter()
    payloads = encode_image(m, m.encode(rgb, step), H, W)
    t1 = time.perf_counter()
    x_hat = m.decode(decode_image(m, payloads, H, W), H, W, step)
    t2 = time.perf_counter()
    return sum(map(len, payloads)) + HEADER, psnr(rgb, x_hat), t1 - t0, t2 - t1


def anchors(imgs):
    out = {}
    for label, (fmt, sweep, opts) in ANCHORS.items():
        pts = []
        for s in sweep:
            bpp, ps = [], []
            for im in imgs:
                buf = io.BytesIO()
                Image.fromarray(im).save(buf, format=fmt, **opts(s))
                with Image.open(io.BytesIO(buf.getvalue())) as d:
                    ps.append(psnr(im, np.asarray(d.convert("RGB"))))
                bpp.append(len(buf.getvalue()) * 8 / im.shape[0] / im.shape[1])
            pts.append((float(np.mean(bpp)), float(np.mean(ps))))
        out[label] = pts
    return out


def bd(anchor, test):
    """BD-rate (PSNR) in %, pchip on log-rate (the bjontegaard package), monotone points only."""
    import bjontegaard
    curves = []
    for pts in (anchor, test):
        kept, best = [], -1e9
        for r, q in sorted(pts):
            if q > best:
                kept.append((r, q))
                best = q
        curves.append(np.array(kept).T)
    (ra, qa), (rt, qt) = curves
    if min(qa.max(), qt.max()) <= max(qa.min(), qt.min()):
        return None
    return float(bjontegaard.bd_rate(ra, qa, rt, qt, method="pchip", require_matching_points=False, min_overlap=0))


def probe_scalar(imgs):
    """The design probe's scalar codec (ideal KT code lengths, raster + parent contexts) on the same images."""
    import importlib.util
    spec = importlib.util.spec_from_file_location("v2_probe", Path(__file__).with_name("v2_probe.py"))
    probe = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(probe)
    variant = "+ raster + parent (the probe)"
    pts = []
    for s in STEPS:
        codes = [(im, probe.scalar_code(im, s)) for im in imgs]
        bpp = probe.measure(codes, lambda c: probe.scalar_streams(c, variant))[0][0]
        pts.append((float(bpp), float(np.mean([psnr(im, c["rec"]) for im, c in codes]))))
    return pts


def stage_fit(n_train):
    train_files, _ = split_train_val(list_images(DATA))
    rng = np.random.default_rng(0)
    train = [rgb_of(train_files[i], crop64=True) for i in sorted(rng.choice(len(train_files), n_train, replace=False))]
    RUNS.mkdir(parents=True, exist_ok=True)
    for mode, name in (("vq", "step0"), ("scalar", "step0_scalar")):
        m = WaveletCodec(mode=mode)
        t0 = time.time()
        design(m, train, STEPS, rounds=2, log=print)
        torch.save({"mode": mode, "model": m.state_dict(), "train_images": n_train, "steps": STEPS}, RUNS / f"{name}.pt")
        print(f"{name}: {time.time() - t0:.0f} s")


def stage_eval(which, n):
    if which == "val":
        imgs = [rgb_of(p, crop64=True) for p in split_train_val(list_images(DATA))[1][:n]]
    else:
        imgs = [rgb_of(p) for p in list_images(KODAK)[:n]]
    res = {"n": len(imgs), "anchors": anchors(imgs)}
    for name in ("step0", "step0_scalar"):
        m = load_model(name)
        pts, times = [], []
        for s in STEPS:
            r = [code(m, im, s) for im in imgs]
            pts.append((float(np.mean([b * 8 / im.shape[0] / im.shape[1] for (b, *_), im in zip(r, imgs)])),
                        float(np.mean([p for _, p, *_ in r]))))
            times.append((s, float(np.mean([e for *_, e, _ in r])), float(np.mean([d for *_, d in r]))))
            print(name, s, pts[-1], times[-1], flush=True)
        res[name], res[name + "_times"] = pts, times
    if which == "val":
        res["probe scalar"] = probe_scalar(imgs)
    (RUNS / f"{which}.json").write_text(json.dumps(res))


def stage_tiling(n):
    m = load_model("step0")
    imgs = [rgb_of(p) for p in list_images(KODAK)[:n]]
    rows = []
    for s in (112, 56, 28):
        tiled = whole = 0
        for im in imgs:
            H, W, _ = im.shape
            tiled += sum(map(len, encode_image(m, m.encode(im, s), H, W)))
            m.tile = 1024
            whole += sum(map(len, encode_image(m, m.encode(im, s), H, W)))
            m.tile = 256
        rows.append((s, tiled, whole))
        print(rows[-1], flush=True)
    (RUNS / "tiling.json").write_text(json.dumps({"n": n, "rows": rows}))


def stage_memory():
    """24 MP: 6000×4000, a Kodak image tiled by reflection; encode in one process, decode in another."""
    out = {}
    for direction in ("encode", "decode"):
        r = subprocess.run([sys.executable, __file__, "_mem", direction], capture_output=True, text=True)
        out[direction] = json.loads(r.stdout.strip().splitlines()[-1])
        print(direction, out[direction], flush=True)
    (RUNS / "memory.json").write_text(json.dumps(out))


def _mem(direction):
    torch.set_num_threads(1)
    m = load_model("step0")
    k = rgb_of(list_images(KODAK)[0])
    big = np.pad(k, ((0, 4000 - k.shape[0]), (0, 6000 - k.shape[1]), (0, 0)), mode="reflect")
    t0 = time.time()
    if direction == "encode":  # as codec.wavelet_api does: the analysis once, then tile by tile to bytes
        y = m.analysis(big)
        y /= 40
        Hp, Wp = y.shape[1:]
        payloads = []
        for tile in m.tiles(4000, 6000):
            bands = tile_bands(tile[2], tile[3])
            t = m.encode_tile([y[:, r, c] for r, c in m.band_slices(Hp, Wp, tile)], bands)
            payloads.append(subband_tiles.encode_tile(t, bands, m.priors(), m.cmag.numpy()))
        (RUNS / "big.bin").write_bytes(b"".join(len(p).to_bytes(4, "little") + p for p in payloads))
    else:
        data, payloads, i = (RUNS / "big.bin").read_bytes(), [], 0
        while i < len(data):
            n = int.from_bytes(data[i:i + 4], "little")
            payloads.append(data[i + 4:i + 4 + n])
            i += 4 + n
        m.decode(decode_image(m, payloads, 4000, 6000), 4000, 6000, 40)
    print(json.dumps({"seconds": time.time() - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def stage_speed(n):
    """Seconds per Kodak image, one thread, the minimum of 3 runs (the machine is shared: minima are the
    least noisy), with the load average next to them."""
    m = load_model("step0")
    imgs = [rgb_of(p) for p in list_images(KODAK)[:n]]
    rows, load0 = [], os.getloadavg()[0]
    for s in (160, 56, 20):
        enc, dec = [], []
        for im in imgs:
            H, W, _ = im.shape
            runs = []
            for _ in range(3):
                t0 = time.perf_counter()
                payloads = encode_image(m, m.encode(im, s), H, W)
                t1 = time.perf_counter()
                m.decode(decode_image(m, payloads, H, W), H, W, s)
                runs.append((t1 - t0, time.perf_counter() - t1))
            enc.append(min(e for e, _ in runs))
            dec.append(min(d for _, d in runs))
        rows.append((s, float(np.mean(enc)), float(np.max(enc)), float(np.mean(dec)), float(np.max(dec))))
        print(rows[-1], flush=True)
    (RUNS / "speed.json").write_text(json.dumps({"n": n, "rows": rows, "load": [load0, os.getloadavg()[0]]}))


if __name__ == "__main__":
    torch.set_num_threads(1)
    stage = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2].isdigit() else 0
    if stage == "fit":
        stage_fit(n or 16)
    elif stage in ("val", "kodak"):
        stage_eval(stage, n or (30 if stage == "val" else 24))
    elif stage == "tiling":
        stage_tiling(n or 6)
    elif stage == "memory":
        stage_memory()
    elif stage == "speed":
        stage_speed(n or 6)
    elif stage == "_mem":
        _mem(sys.argv[2])
    elif stage == "report":
        from v2_step0_report import write_report  # noqa: E402  (bench/ is on sys.path when run as a script)
        write_report(RUNS, OUT, bd, STEPS)
