"""gc-v2 against issue 15's targets on Kodak: SWD and PSNR against WebP at the same file size (WebP's curve
from `make bench`, interpolated in log-rate; below its smallest file, its smallest file), and MSE against
the Shannon-AE v2 decoder of the same files (realism 0 of the same run).

    python bench/gc_v2_targets.py bench/kodak_gc_v2.json bench/kodak.json -o bench/kodak_gc_v2_targets.md
"""
import argparse
import json
from pathlib import Path

import numpy as np

SWD_RATIO, PSNR_GAP, MSE_RATIO, LOW_RATE = 0.5, 2.0, 2.0, 0.15  # the targets


def mse(entry: dict) -> float:
    return float(np.mean([255 ** 2 * 10 ** (-im["psnr"] / 10) for im in entry["per_image"]]))


def at_rate(curve: list[dict], bpp: float, key: str) -> float:
    """The anchor's `key` at `bpp`, linear in log-rate between its points (its first point below them)."""
    xs = np.log([c["bpp"] for c in curve])
    return float(np.interp(np.log(bpp), xs, [c[key] for c in curve]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("gc_json")
    p.add_argument("anchor_json")
    p.add_argument("--anchor", default="webp")
    p.add_argument("-o", "--output", default="bench/kodak_gc_v2_targets.md")
    args = p.parse_args()
    gc = [r for r in json.loads(Path(args.gc_json).read_text())["results"] if r["codec"].startswith("ibc-gc:")]
    anchor = sorted((r for r in json.loads(Path(args.anchor_json).read_text())["results"] if r["codec"] == args.anchor),
                    key=lambda r: r["bpp"])
    plain = {r["setting"]: r for r in gc if r["realism"] == 0}
    lines = [f"# {gc[0]['codec']} on Kodak against the generative targets", "",
             f"`python bench/gc_v2_targets.py {args.gc_json} {args.anchor_json}`: {args.anchor} at the same size "
             f"(interpolated in log-rate on its sweep, whose smallest file is {anchor[0]['bpp']:.3f} bpp); MSE against "
             "realism 0 (the Shannon-AE v2 decoder) on the same files. Targets at the lowest gc setting ≤ "
             f"{LOW_RATE} bpp: SWD ≤ {SWD_RATIO}× {args.anchor}'s, PSNR ≥ {args.anchor}'s − {PSNR_GAP} dB, "
             f"MSE ≤ {MSE_RATIO}× the Shannon-AE decoder's.", "",
             f"| q | bpp | realism A | PSNR dB | − {args.anchor} dB | SWD | ÷ {args.anchor}'s SWD | MSE ÷ A=0 |",
             "|---|---|---|---|---|---|---|---|"]
    for r in sorted(gc, key=lambda r: (r["setting"], r["realism"])):
        wp, ws = at_rate(anchor, r["bpp"], "psnr"), at_rate(anchor, r["bpp"], "swd")
        lines.append(f"| {r['setting']:g} | {r['bpp']:.3f} | {r['realism']:g} | {r['psnr']:.2f} | {r['psnr'] - wp:+.2f} | "
                     f"{r['swd']:.4f} | {r['swd'] / ws:.2f} | {mse(r) / mse(plain[r['setting']]):.2f} |")
    low = [r for r in gc if r["bpp"] <= LOW_RATE and r["realism"] == 1]
    if low:
        r = min(low, key=lambda r: r["bpp"])
        wp, ws = at_rate(anchor, r["bpp"], "psnr"), at_rate(anchor, r["bpp"], "swd")
        checks = [("SWD", r["swd"] / ws <= SWD_RATIO, f"{r['swd'] / ws:.2f}×"),
                  ("PSNR", r["psnr"] - wp >= -PSNR_GAP, f"{r['psnr'] - wp:+.2f} dB"),
                  ("MSE", mse(r) / mse(plain[r["setting"]]) <= MSE_RATIO, f"{mse(r) / mse(plain[r['setting']]):.2f}×")]
        lines += ["", f"At q {r['setting']:g} ({r['bpp']:.3f} bpp), realism 1: "
                  + "; ".join(f"{name} {value}: {'met' if ok else 'missed'}" for name, ok, value in checks) + "."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
