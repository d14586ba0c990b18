"""Writes bench/v2_step0.md from the cached results of bench/v2_step0.py (runs/v2/*.json)."""
import json

MARKER = "<!-- everything below is written by bench/v2_step0.py report -->"


def _fmt(v):
    return "n/a" if v is None else f"{v:+.1f} %"


def _table(res, bd, extra_refs=()):
    curves = dict(res["anchors"])
    curves["v2 step 0, ECVQ (real files)"] = res["step0"]
    curves["v2 step 0, scalar quantiser (real files)"] = res["step0_scalar"]
    if "probe scalar" in res:
        curves["probe scalar (ideal KT code lengths)"] = res["probe scalar"]
    refs = ["JPEG", "WebP", "JPEG 2000", "v2 step 0, scalar quantiser (real files)"] + list(extra_refs)
    L = ["| codec | bpp / PSNR per setting | " + " | ".join(f"BD vs {r}" for r in refs) + " |",
         "|---|---|" + "---:|" * len(refs)]
    for name, pts in curves.items():
        L.append(f"| {name} | " + " ".join(f"{b:.3f}/{p:.2f}" for b, p in pts) + " | "
                 + " | ".join(_fmt(bd(curves[r], pts)) for r in refs) + " |")
    return L


def write_report(runs, out, bd, steps):
    L = [MARKER, ""]
    for which, title in (("val", "BSDS500 validation"), ("kodak", "Kodak (24 images, evaluation only)")):
        p = runs / f"{which}.json"
        if not p.exists():
            continue
        res = json.loads(p.read_text())
        L += [f"### {title}: {res['n']} images, steps {', '.join(map(str, steps))}", ""]
        L += _table(res, bd, ("probe scalar (ideal KT code lengths)",) if "probe scalar" in res else ())
        L += [""]
        if which == "kodak":
            L += ["One-thread seconds per Kodak image (encode = analysis + RD choice + range coding; decode = range "
                  "decoding + synthesis):", "", "| step | ECVQ encode | ECVQ decode | scalar encode | scalar decode |",
                  "|---:|---:|---:|---:|---:|"]
            for (s, e, d), (_, e2, d2) in zip(res["step0_times"], res["step0_scalar_times"]):
                L.append(f"| {s} | {e:.2f} | {d:.2f} | {e2:.2f} | {d2:.2f} |")
            L += [""]
    p = runs / "tiling.json"
    if p.exists():
        t = json.loads(p.read_text())
        L += [f"### Tiling cost ({t['n']} Kodak images): bytes with 256-pixel tiles vs one whole-image tile", "",
              "| step | 256 tiles | whole image | cost of tiling |", "|---:|---:|---:|---:|"]
        for s, tiled, whole in t["rows"]:
            L.append(f"| {s} | {tiled} | {whole} | {100 * (tiled / whole - 1):+.2f} % |")
        L += [""]
    p = runs / "memory.json"
    if p.exists():
        mem = json.loads(p.read_text())
        L += ["### 24 megapixels (6000×4000, step 40, one thread)", "", "| direction | seconds | peak RSS |", "|---|---:|---:|"]
        for d, r in mem.items():
            L.append(f"| {d} | {r['seconds']:.1f} | {r['peak_rss_mb']:.0f} MB |")
        L += [""]
    p = runs / "speed.json"
    if p.exists():
        sp = json.loads(p.read_text())
        L += [f"### Speed ({sp['n']} Kodak images, one thread, min of 3 runs per image; load average "
              f"{sp['load'][0]:.1f} → {sp['load'][1]:.1f} on 2 cores)", "",
              "| step | encode mean | encode max | decode mean | decode max |", "|---:|---:|---:|---:|---:|"]
        for s, e, emax, d, dmax in sp["rows"]:
            L.append(f"| {s} | {e:.2f} s | {emax:.2f} s | {d:.2f} s | {dmax:.2f} s |")
        L += [""]
    head = out.read_text().split(MARKER)[0] if out.exists() else ""
    out.write_text(head + "\n".join(L) + "\n")
