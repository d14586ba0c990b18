"""Learning curve of a Shannon-AE v2 run (`ibc train --arch wavelet`): validation PSNR at fixed bpp
against CPU-hours of training, step 0 (the closed-form start) included.

    python bench/v2_learning_curve.py runs/v2-train [--md bench/v2_learning_curve.md]

Training time is the run's log time (bench/learning_curves.py: gaps over a minute, restarts and the
validations themselves, left out) plus each re-fit of the tables; × the run's threads. Every figure is
from real tile payloads of BSDS500 validation crops (never Kodak) coded by the real coder.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from learning_curves import val_points  # noqa: E402

TARGETS = ("0.25", "0.5", "1.0")


def curve(run: Path, threads: int = 1) -> list[dict]:
    """One row per validation: step, CPU-hours, PSNR at each target bpp, the measured (bpp, PSNR) points."""
    rows, refits = [], 0.0
    for pt in val_points(run):
        v = pt["val"]
        refits += v.get("refit_seconds", 0.0)
        steps = sorted((int(k[5:]) for k in v if k.startswith("bpp_s")), reverse=True)
        rows.append({"step": pt["step"], "cpu_hours": (pt["hours"] + refits / 3600) * threads,
                     **{b: v.get(f"psnr@{b}") for b in TARGETS},
                     "points": [(s, v[f"bpp_s{s}"], v[f"psnr_s{s}"]) for s in steps]})
    return rows


def table(rows: list[dict]) -> str:
    head = ("| step | CPU-h | " + " | ".join(f"PSNR @ {b} bpp" for b in TARGETS) + " | "
            + " | ".join(f"Δ @ {b}" for b in TARGETS) + " | step: bpp / PSNR |")
    lines = [head, "|" + "---:|" * (2 + 2 * len(TARGETS)) + "---|"]
    first = rows[0] if rows else {}
    for r in rows:
        psnr = [f"{r[b]:.2f}" if r[b] is not None else "n/a" for b in TARGETS]
        delta = [f"{r[b] - first[b]:+.2f}" if r[b] is not None and first.get(b) is not None else "n/a"
                 for b in TARGETS]
        pts = " ".join(f"{s}: {b:.3f}/{p:.2f}" for s, b, p in r["points"])
        lines.append(f"| {r['step']} | {r['cpu_hours']:.2f} | " + " | ".join(psnr + delta) + f" | {pts} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run", type=Path)
    p.add_argument("--threads", type=int, default=1, help="the run's --threads (default: 1)")
    p.add_argument("--md", type=Path, help="also write the table, with a heading, to this Markdown file")
    args = p.parse_args()
    text = table(curve(args.run, args.threads))
    print(text)
    if args.md:
        args.md.write_text(f"# Shannon-AE v2: learning curve of `{args.run}`\n\n{__doc__.splitlines()[0]}\n"
                           "Written by `bench/v2_learning_curve.py`; Δ against step 0.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
