"""bench/discriminator_v2.md: the gc-v2 discriminator's training curve and validation figures (from the
run's log.jsonl), and `ibc score` on a photo, noise, a flat image, BSDS500 validation photos and 3 Kodak
images (Kodak for illustration only: nothing is trained or tuned on it).

    .venv/bin/python bench/discriminator_v2_curve.py [--run runs/disc-v2b] [--pilot runs/disc-v2] [-o bench/discriminator_v2.md]

--pilot adds the validation curve of an earlier run (trained against an earlier gc-v2) for comparison.
"""
import argparse
import json
from pathlib import Path

import numpy as np

from ibc.codec.image_io import read_image
from ibc.codec.score import SCORE_DIR, Scorer
from ibc.codec.training.discriminator import split

BIN = 250  # training steps averaged per row of the loss table


def curve(log: list[dict]) -> tuple[list[str], list[str]]:
    train = [r for r in log if "hinge" in r]
    rows = ["| steps | hinge (train) | D(real) | D(fake) | R1 | CPU-min |", "|---|---|---|---|---|---|"]
    for lo in range(0, train[-1]["step"], BIN):
        part = [r for r in train if lo < r["step"] <= lo + BIN]
        if not part:
            continue
        r1 = [r["r1"] for r in part if np.isfinite(r.get("r1", np.nan))]
        rows.append(f"| {lo + 1}–{part[-1]['step']} | {np.mean([r['hinge'] for r in part]):.3f} | "
                    f"{np.mean([r['d_real'] for r in part]):+.3f} | {np.mean([r['d_fake'] for r in part]):+.3f} | "
                    f"{f'{np.mean(r1):.4f}' if r1 else '–'} | {part[-1]['cpu_s'] / 60:.1f} |")
    val = ["| step | hinge | accuracy | pair accuracy | logit gap | D(real) | D(fake) |", "|---|---|---|---|---|---|---|"]
    for r in log:
        if "val" in r:
            v = r["val"]
            val.append(f"| {r['step']} | {v['hinge']:.3f} | {v['acc']:.3f} | {v['pair_acc']:.3f} | {v['gap']:.3f} | "
                       f"{v['d_real']:+.3f} | {v['d_fake']:+.3f} |")
    return rows, val


def final_r1(run: Path) -> float:
    """R1's E‖∇ₓD‖² of the run's last checkpoint on the validation pool's real crops."""
    import torch

    from ibc.codec.training.discriminator import _tensor, load_discriminator
    from ibc.models.discriminator_v2 import r1_penalty
    torch.set_num_threads(1)
    d, _ = load_discriminator(run / "checkpoint.pt")
    values = []
    for p in sorted((run / "pool").glob("val-*.npz")):
        with np.load(p) as z:
            for k in range(0, len(z["x"]), 50):
                values.append(float(r1_penalty(d, _tensor(z["x"][k:k + 50]), _tensor(z["c"][k:k + 50]))[0].detach()))
    return float(np.mean(values))


def score_rows(scorer: Scorer, images: list[tuple[str, np.ndarray]]) -> list[str]:
    rows = ["| image | size | bpp (q %g) | D | z_rate | z_D | novelty |" % scorer.quality, "|---|---|---|---|---|---|---|"]
    for name, rgb in images:
        s = scorer.score(rgb, name)
        rows.append(f"| {name} | {s.width}×{s.height} | {s.bpp:.4f} | {s.d:+.3f} | {s.z_rate:+.2f} | {s.z_d:+.2f} | "
                    f"{s.novelty:.2f} |")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--run", default="runs/disc-v2b")
    ap.add_argument("--pilot", help="an earlier run folder whose validation curve is shown too")
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--kodak", default="../shared/data/kodak")
    ap.add_argument("--val", type=int, default=24, help="BSDS500 validation photos scored")
    ap.add_argument("-o", "--output", default="bench/discriminator_v2.md")
    args = ap.parse_args()
    run = Path(args.run)
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    info = json.loads((SCORE_DIR / "score.json").read_text())
    pool = sorted((run / "pool").glob("train-*.npz"))
    crops = sum(len(np.load(p)["q"]) for p in pool)
    val_crops = sum(len(np.load(p)["q"]) for p in (run / "pool").glob("val-*.npz"))
    loss, val = curve(log)
    last = [r for r in log if "val" in r][-1]
    train_end = [r for r in log if "hinge" in r][-BIN // 10:]

    scorer = Scorer()
    rng = np.random.default_rng(0)
    sample = read_image(Path("tests/data/sample.png"))
    fixed = [("tests/data/sample.png (photo)", sample),
             ("uniform noise", rng.integers(0, 256, sample.shape, dtype=np.uint8)),
             ("flat grey", np.full(sample.shape, 128, np.uint8))]
    kodak = [(f"kodak/{n} (illustration)", read_image(Path(args.kodak) / n)) for n in ("kodim04.png", "kodim13.png", "kodim23.png")
             if (Path(args.kodak) / n).exists()]
    val_files = sorted(Path(args.data).glob("bsds_val_*"))[:args.val]
    val_scores = [scorer.score(read_image(p), p.name) for p in val_files]
    nov = np.array([s.novelty for s in val_scores])

    pilot = ""
    if args.pilot:
        plog = [json.loads(line) for line in (Path(args.pilot) / "log.jsonl").read_text().splitlines()]
        pmeta = json.loads((Path(args.pilot) / "pool" / "models.json").read_text())
        pval = [r for r in plog if "val" in r]
        pend = [r for r in plog if "cpu_s" in r][-1]
        rows = curve(plog)[1]
        pilot = (f"\n## Pilot run ({args.pilot}), against an earlier gc-v2 `{pmeta['gc']['sha256'][:16]}` (noise on all "
                 f"channels, everywhere)\n\nSame recipe, from scratch: {pend['step']} steps, {pend['cpu_s'] / 60:.1f} CPU-min. "
                 "Validation every 800 steps:\n\n" + "\n".join(rows[:2] + [r for r, v in zip(rows[2:], pval)
                                                                 if v["step"] % 800 == 0 or v is pval[-1]]) + "\n")
    trained = info["discriminator"].get("trained_against", {"gc": info["gc"]})
    same = trained["gc"]["sha256"] == info["gc"]["sha256"]
    r1_end = final_r1(run)
    st = info["stats"]
    text = f"""# gc-v2 discriminator (issue 15, item 2) and the novelty score (item 4)

Made by `python bench/discriminator_v2_curve.py` from `{run}/log.jsonl` and `weights/gc-v2-score/`.

Trained with `python -m ibc.codec.training.discriminator train --data ../shared/data/train --out {run}
--minutes 35 --val-every 200` (one thread, nice 5, in the background; resumable), exported with
`python -m ibc.codec.training.discriminator export --out {run}`.

- Discriminator: conditional multi-scale PatchGAN (models/discriminator_v2.py), width {info['discriminator']['config']['width']},
  3 heads (full, ½, ¼), {info['discriminator']['recipe']}.
- Real pairs: (original crop, its Shannon-AE v2 reconstruction); fake pairs: (gc-v2 reconstruction at realism 1,
  2 random seeds per crop, the same v2 reconstruction). Pool: {crops} training crops from
  {len(split(Path(args.data))[0])} photos (bsds_train, bsds_test, ImageNet), {val_crops} validation crops from the 100 bsds_val photos
  (one q each, one seed). Trained against gc-v2 `{trained['gc']['sha256'][:16]}` on shannon-v2
  `{info['base']['sha256'][:16]}`{"" if same else f"; the statistics below are of gc-v2 `{info['gc']['sha256'][:16]}`"}.
- The generator is fixed (closed form, no gradient step), so the two-time-scale rule does not apply yet: there
  is no generator learning rate for the discriminator's to exceed. When gc-v2 is trained (item 1 beyond the
  closed form), the discriminator should take the larger rate (TTUR, Heusel et al. 2017).
- Steps: {info['discriminator']['steps']}, training CPU time {info['discriminator']['train_cpu_seconds'] / 60:.1f} min
  (one thread; the pool's coding not counted).

## Training loss (hinge; 2.0 is chance)

Mean over bins of {BIN} steps (logged every 10 steps, batch 16 real + 16 fake; R1 every 4th step).
Over the last {len(train_end) * 10} steps the training hinge loss averages {np.mean([r['hinge'] for r in train_end]):.3f}.
E‖∇ₓD‖² of the last checkpoint on the validation real crops: {r1_end:.4f} (the loss adds γ/2 times it; this
run's log predates the R1 column, which shows – where no value was logged).

{chr(10).join(loss)}

## Validation (bsds_val crops, fixed)

Accuracy: the sign of each crop's mean logit (real above 0, fake below), averaged over both classes;
pair accuracy: the real crop's mean logit above its own fake's; logit gap: mean real − mean fake.
At the last step: hinge {last['val']['hinge']:.3f}, accuracy {last['val']['acc']:.3f}, pair accuracy
{last['val']['pair_acc']:.3f}, logit gap {last['val']['gap']:.3f}.

{chr(10).join(val)}

## `ibc score`

Features at q {info['quality']:g}: log2 of the bpp of the image's own shannon-v2 file, and the discriminator's
mean logit on its gc-v2 reconstruction (seed {info['seed']}) given the v2 one; statistics over {st['photos']}
training photos: log2 bpp {st['log2_bpp']['mean']:.3f} ± {st['log2_bpp']['std']:.3f}
(bpp {2 ** st['log2_bpp']['mean']:.3f}), D {st['d']['mean']:+.3f} ± {st['d']['std']:.3f}.
Novelty = √(z_rate² + z_D²).

{chr(10).join(score_rows(scorer, fixed + kodak))}

BSDS500 validation photos (held out of training), first {len(val_scores)}: novelty median {np.median(nov):.2f},
mean {nov.mean():.2f}, 90th percentile {np.percentile(nov, 90):.2f}, max {nov.max():.2f}
(z_rate mean {np.mean([s.z_rate for s in val_scores]):+.2f}, z_D mean {np.mean([s.z_d for s in val_scores]):+.2f}).
{pilot}"""
    Path(args.output).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
