"""The post-filter's learning curve from a run's log (codec.training.postfilter): the gain in PSNR on the
BSDS500 validation crops at each quantiser step, against training CPU-hours, step 0 (the identity, or the
warm start) included.

    .venv/bin/python bench/postfilter_curve.py runs/postfilter --md bench/postfilter_curve.md

Runs are given in warm-start order. A run starts at the CPU-hours of the checkpoint it was started from:
the previous run's offset plus the difference of their recorded warm-start seconds (a checkpoint's
`inherited_seconds`), or, for runs written before that was recorded, the previous run's end.
"""
import argparse
import json
from pathlib import Path

import torch


def inherited(run: Path) -> float | None:
    """The CPU seconds of the warm start the run began from, if its checkpoint records them."""
    state = torch.load(run / "checkpoint.pt", map_location="cpu", weights_only=False)
    return state.get("inherited_seconds")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+", help="run folders, in training order (a warm-started run after its start)")
    ap.add_argument("--md", help="write the table here too")
    ap.add_argument("--every", type=int, default=1000, help="a row every this many steps (and the last)")
    args = ap.parse_args()
    lines, offset, head = [], 0.0, []
    previous = None  # (offset, inherited seconds, seconds trained) of the run before
    for run in args.runs:
        records = [json.loads(x) for x in (Path(run) / "log.jsonl").read_text().splitlines() if x]
        inh = inherited(Path(run))
        if previous:
            offset = previous[0] + ((inh - previous[1]) / 3600 if inh is not None and previous[1] is not None
                                    else previous[2])
        vals = [r for r in records if "val" in r]
        keep = [r for r in vals if r["step"] % args.every == 0] + ([vals[-1]] if vals[-1]["step"] % args.every else [])
        steps = list(vals[0]["val"])
        if not lines:
            lines = [f"| run | step | CPU-h | " + " | ".join(f"gain @ step {s} (dB)" for s in steps) + " |",
                     "|---|---:|---:|" + "---:|" * len(steps)]
        for r in keep:
            lines.append(f"| {Path(run).name} | {r['step']} | {offset + r.get('cpu_s', 0) / 3600:.2f} | "
                         + " | ".join(f"{r['val'][s]['gain']:+.3f}" for s in steps) + " |")
        previous = (offset, inh, max(r.get("cpu_s", 0) for r in records) / 3600)
        head.append(f"{Path(run).name}: validation PSNR of the decodes without a filter, "
                    + ", ".join(f"step {s}: {vals[0]['val'][s]['psnr']:.2f} dB" for s in steps) + ".")
    head.append("")
    print("\n".join(head + lines))
    if args.md:
        Path(args.md).write_text("\n".join(["# The post-filter's learning curve", "",
                                            f"`python bench/postfilter_curve.py {' '.join(args.runs)}`", ""] + head + lines) + "\n")


if __name__ == "__main__":
    main()
