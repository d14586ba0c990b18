"""Quality per training time: compare a peer run's validation points with an ibc run's at the same budget.

    python bench/learning_curves.py runs/main runs/peer

For each validation point of the peer run (bpp, PSNR after t hours of training), the ibc run's PSNR at the
same bpp (interpolated in log-rate over its quality levels) at its validation point nearest in training
time. Training time is summed from the JSONL log's timestamps, leaving out gaps over a minute (restarts).
Both runs validate on the same crops (BSDS500 val), never Kodak.
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np

GAP = 60.0  # seconds between log lines beyond which the run was stopped and later resumed


def val_points(run: Path) -> list[dict]:
    """[(hours, step, val dict)] from run/log.jsonl, with hours of training time."""
    seconds, last, points = 0.0, None, []
    for line in open(run / "log.jsonl"):
        r = json.loads(line)
        if "time" in r:
            if last is not None and 0 < r["time"] - last < GAP:
                seconds += r["time"] - last
            last = r["time"]
        if "val" in r:
            points.append({"hours": seconds / 3600, "step": r["step"], "val": r["val"]})
    return points


def psnr_at(val: dict, bpp: float) -> float | None:
    """PSNR at `bpp` from a multi-level validation record (bpp1, psnr1, …), interpolated in log-rate."""
    levels = sorted(int(k[3:]) for k in val if k.startswith("bpp") and k[3:].isdigit())
    rates = np.array([val[f"bpp{L}"] for L in levels])
    psnrs = np.array([val[f"psnr{L}"] for L in levels])
    if not rates.min() <= bpp <= rates.max():
        return None
    return float(np.interp(math.log(bpp), np.log(rates), psnrs))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("ibc_run", type=Path)
    p.add_argument("peer_run", type=Path)
    args = p.parse_args()
    ours = val_points(args.ibc_run)
    print("| peer step | training h | peer bpp | peer PSNR | ibc step (nearest h) | ibc PSNR at that bpp | Δ |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for pt in val_points(args.peer_run):
        near = min(ours, key=lambda o: abs(o["hours"] - pt["hours"]))
        bpp, psnr = pt["val"]["bpp"], pt["val"]["psnr"]
        at = psnr_at(near["val"], bpp)
        delta = "n/a" if at is None else f"{at - psnr:+.2f}"
        at = "n/a" if at is None else f"{at:.2f}"
        print(f"| {pt['step']} | {pt['hours']:.2f} | {bpp:.3f} | {psnr:.2f} | {near['step']} ({near['hours']:.2f} h) "
              f"| {at} | {delta} |")


if __name__ == "__main__":
    main()
