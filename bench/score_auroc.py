"""How well `ibc score` (the paper's §4.3 novelty score) tells natural photos from what they are not: AUROC of
the novelty, and of each of its two features alone, on two tasks.

    python bench/score_auroc.py -o bench/score_auroc.md

Inliers: the 24 Kodak photos (never seen in training). Outliers: (a) 24 rendered screens (text, charts and
flat colour: bench/domain_pages.page, seeds 0–23), (b) the Kodak photos with Gaussian noise of σ = 12 levels.
Scorers: the current default (the gc model's discriminator, `ibc score`) and the retired gc-v2 one.
AUROC = P(an outlier scores above an inlier), ties counting half (Mann–Whitney).
"""
import argparse
from pathlib import Path

import numpy as np

from ibc.codec.image_io import read_image
from ibc.codec.score import SCORE_DIR, Scorer, default_score_dir

from domain_pages import page


def auroc(inliers: list[float], outliers: list[float]) -> float:
    a, b = np.asarray(inliers)[:, None], np.asarray(outliers)[None, :]
    return float(((b > a).sum() + 0.5 * (b == a).sum()) / (a.size * b.size))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--kodak", default="../shared/data/kodak")
    p.add_argument("-o", "--output", default="bench/score_auroc.md")
    args = p.parse_args(argv)
    photos = [read_image(f) for f in sorted(Path(args.kodak).glob("*.png"))]
    rng = np.random.default_rng(0)
    sets = {"screens": [np.asarray(page(np.random.default_rng(k)).convert("RGB")) for k in range(len(photos))],
            "noisy photos (σ 12)": [np.clip(x + rng.normal(0, 12, x.shape), 0, 255).astype(np.uint8) for x in photos]}
    lines = ["# `ibc score`: natural photos against screens and noisy photos (AUROC)", "",
             "`python bench/score_auroc.py`: inliers the 24 Kodak photos; outliers 24 rendered screens "
             "(bench/domain_pages.py) and the Kodak photos with Gaussian noise σ 12. AUROC 0.5 is chance, 1 a "
             "perfect ranking (outliers above inliers).", "",
             "| scorer | task | novelty | z_rate alone | z_d alone |", "|---|---|---|---|---|"]
    for label, folder in (("current (" + default_score_dir().name + ")", default_score_dir()), ("gc-v2-score", SCORE_DIR)):
        scorer = Scorer(folder)
        inl = [scorer.score(x) for x in photos]
        for task, images in sets.items():
            out = [scorer.score(x) for x in images]
            row = [auroc([s.novelty for s in inl], [s.novelty for s in out]),
                   auroc([abs(s.z_rate) for s in inl], [abs(s.z_rate) for s in out]),
                   auroc([abs(s.z_d) for s in inl], [abs(s.z_d) for s in out])]
            lines.append(f"| {label} | {task} | " + " | ".join(f"{v:.3f}" for v in row) + " |")
            print(lines[-1], flush=True)
    Path(args.output).write_text("\n".join(lines) + "\n")
    print(f"{args.output}: written")


if __name__ == "__main__":
    main()
