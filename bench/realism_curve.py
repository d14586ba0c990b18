"""The realism curve of gc models from an `ibc eval` report (realism sweep at one q): per model and realism A,
bpp, PSNR, SWD and the calibrated C2ST, plain and conditional, as a Markdown table.

    ibc eval ../shared/data/kodak --codec ibc:gc-v5 --codec ibc:gc-v4 --levels 22 --realism 0 0.25 0.5 0.75 1 \
        -o bench/kodak_gc-v5_realism.json
    python bench/realism_curve.py bench/kodak_gc-v5_realism.json -o bench/kodak_gc-v5_realism.md
"""
import argparse
import json
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("report")
    p.add_argument("-o", "--output", required=True)
    args = p.parse_args(argv)
    report = json.loads(Path(args.report).read_text())
    lines = [f"`ibc eval` realism sweep ({len(report['images'])} images; `python bench/realism_curve.py {args.report}`). "
             "C2ST: accuracy of the calibrated classifier two-sample test (0.5: cannot tell; its 95 % null threshold "
             "in brackets).", "",
             "| model | q | realism A | bpp | PSNR dB | SWD | C2ST | C2ST cond. |", "|---|---|---|---|---|---|---|---|"]
    for r in report["results"]:
        lines.append(f"| {r['label']} | {r['setting']:g} | {r['realism']:g} | {r['bpp']:.3f} | {r['psnr']:.2f} | "
                     f"{r['swd']:.4f} | {r['c2st']:.3f} ({r['c2st_threshold']:.3f}) | {r['c2st_cond']:.3f} |")
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"{args.output}: written")


if __name__ == "__main__":
    main()
