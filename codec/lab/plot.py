"""The lab's figures from `ibc lab eval`'s results (RESULTS.json and RESULTS.npz beside it):

- plane.png: rate (bits per patch) against PSNR; PSNR against perception, the C2ST accuracy of the
  reconstructions (0.5 = indistinguishable) and SWD as a second opinion; and the latent marginals of the
  presets with a continuous z against p(z) = N(0, 1) (all coordinates pooled);
- grid.png: one row per preset, GRID held-out reconstructions then GRID samples g(z), z ~ p(z), under a
  row of the originals;
- results.md: the table of presets, their terms and weights, and the figures.
"""
from pathlib import Path

import json
import numpy as np

MARKERS = "osD^v<>ph*Xd"


def _load(results: Path) -> tuple[dict, dict]:
    report = json.loads(Path(results).read_text())
    with np.load(Path(results).with_suffix(".npz")) as z:
        arrays = {k: z[k] for k in z.files}
    return report, arrays


def plane(report: dict, arrays: dict, out: Path) -> Path:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = report["presets"]
    fig, ((ax_rd, ax_dp), (ax_swd, ax_z)) = plt.subplots(2, 2, figsize=(13, 10))
    for k, (name, r) in enumerate(rows.items()):
        style = {"marker": MARKERS[k % len(MARKERS)], "s": 60, "color": f"C{k % 10}", "label": name}
        if r["rate_bits"] is not None:
            ax_rd.scatter(r["rate_bits"], r["psnr"], **style)
        ax_dp.scatter(r["psnr"], r["c2st"]["accuracy"], **style)
        ax_swd.scatter(r["psnr"], r["swd"], **style)
        if f"{name}/z" in arrays:
            z = arrays[f"{name}/z"].astype(np.float32).ravel()
            ax_z.hist(np.clip(z, -5, 5), bins=80, range=(-5, 5), density=True, histtype="step", color=f"C{k % 10}",
                      label=f"{name} (MMD² {r['latent_mmd']:.3f})")
    no_rate = [n for n, r in rows.items() if r["rate_bits"] is None]
    ax_rd.set(xlabel="rate: bits per 32×32 patch ((A)/ln 2, or H(Ẑ))", ylabel="PSNR (dB)",
              title="rate–distortion" + (f"\n(no rate: {', '.join(no_rate)}: deterministic continuous z)" if no_rate else ""))
    null = next(iter(rows.values()))["c2st"]["null_95"]
    ax_dp.axhline(0.5, color="grey", lw=0.8)
    ax_dp.axhline(null, color="grey", lw=0.8, ls="--", label=f"95 % null ({null:.2f})")
    if "c2st_calibration" in report:
        ax_dp.axhline(report["c2st_calibration"]["accuracy"], color="k", lw=0.8, ls=":",
                      label=f"real vs real ({report['c2st_calibration']['accuracy']:.2f})")
    ax_dp.set(xlabel="PSNR (dB)", ylabel="C2ST accuracy, reconstructions (0.5: real)",
              title="distortion–perception (C2ST)")
    ax_swd.set(xlabel="PSNR (dB)", ylabel="SWD of Laplacian-pyramid patches (0: real)",
               title="distortion–perception (SWD, second opinion)")
    grid = np.linspace(-5, 5, 201)
    ax_z.plot(grid, np.exp(-grid ** 2 / 2) / np.sqrt(2 * np.pi), "k--", lw=1, label="p(z) = N(0, 1)")
    ax_z.set(xlabel="z (every coordinate)", ylabel="density", title="latent marginal q(z) against p(z)")
    for ax in (ax_rd, ax_dp, ax_swd, ax_z):
        ax.grid(alpha=0.3)
    ax_dp.legend(fontsize=8, loc="best")
    ax_z.legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    path = out / "plane.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def grid(report: dict, arrays: dict, out: Path, upscale: int = 2) -> Path:
    from PIL import Image, ImageDraw

    names = ["originals"] + list(report["presets"])
    side, gap, label_w = 32 * upscale, 4, 80
    n = len(arrays["originals"])
    W = label_w + 2 * n * (side + 1) + 3 * gap
    H = len(names) * (side + gap) + 18
    canvas = Image.new("RGB", (W, H), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((label_w, 2), "reconstructions of held-out patches", fill="black")
    draw.text((label_w + n * (side + 1) + 3 * gap, 2), "samples g(z), z ~ p(z)", fill="black")
    for r, name in enumerate(names):
        y = 18 + r * (side + gap)
        draw.text((2, y + side // 2 - 6), name, fill="black")
        rec = arrays["originals"] if name == "originals" else arrays[f"{name}/recon"]
        smp = [] if name == "originals" else arrays[f"{name}/samples"]
        for c, im in enumerate(rec):
            canvas.paste(Image.fromarray(im).resize((side, side), Image.NEAREST), (label_w + c * (side + 1), y))
        for c, im in enumerate(smp):
            canvas.paste(Image.fromarray(im).resize((side, side), Image.NEAREST),
                         (label_w + n * (side + 1) + 3 * gap + c * (side + 1), y))
    path = out / "grid.png"
    canvas.save(path)
    return path


def _f(v, fmt="{:.2f}") -> str:
    return "–" if v is None else fmt.format(v)


def table(report: dict) -> str:
    """The presets, their Lagrangians and the figures, as markdown."""
    rows = report["presets"]
    lines = ["| preset | system (paper) | L as trained | encoder | B / D estimator | steps (CPU s) | rate (bits/patch) | "
             "MSE | PSNR (dB) | C2ST recon | C2ST samples | SWD recon | SWD samples | latent MMD² |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        est = " / ".join(x for x in (r["b_estimator"] and f"B: {r['b_estimator']}",
                                     r["d_form"] and f"D: {r['d_form']}") if x) or "–"
        lines.append(f"| {name} | {r['system']}, {r['equation']} | {r['formula']} | {r['encoder']} | {est} | "
                     f"{r['steps']} ({r['train_cpu_seconds']:.0f}) | {_f(r['rate_bits'], '{:.1f}')} | {_f(r['mse'], '{:.1f}')} | {r['psnr']:.2f} | "
                     f"{r['c2st']['accuracy']:.3f} | {r['c2st_samples']['accuracy']:.3f} | {r['swd']:.3f} | "
                     f"{r['swd_samples']:.3f} | {_f(r.get('latent_mmd'), '{:.4f}')} |")
    first = next(iter(rows.values()))
    lines.append("")
    lines.append(f"C2ST: held-out accuracy of a small CNN on {first['c2st']['test']} patches; 95 % null threshold "
                 f"{first['c2st']['null_95']:.3f}" + (f"; real against real: {report['c2st_calibration']['accuracy']:.3f}"
                                                      if "c2st_calibration" in report else "") + ".")
    for name, r in rows.items():
        if "novelty" in r:
            nv = r["novelty"]
            kinds = list(next(iter(nv["auroc"].values())))
            lines += ["", f"Novelty ({name}): AUROC, {nv['inliers']} held-out photo crops against {nv['per_kind']} "
                          "of each outlier kind (higher: outliers score as more novel)", "",
                      "| score | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
            labels = {"D": "D: −r(x), the image discriminator", "C": "C: ‖x − g(f(x))‖₁",
                      "z": "−log p(z): ½‖f(x)‖²", "ibc score": "`ibc score` (64-px crops, the codec)"}
            for score, per in nv["auroc"].items():
                lines.append(f"| {labels.get(score, score)} | " + " | ".join(f"{per[k]:.3f}" for k in kinds) + " |")
    return "\n".join(lines) + "\n"


def plot_all(results: Path, out: Path | None = None) -> list[Path]:
    report, arrays = _load(results)
    out = Path(out) if out else Path(results).parent
    out.mkdir(parents=True, exist_ok=True)
    md = out / "results.md"
    md.write_text(table(report))
    return [plane(report, arrays, out), grid(report, arrays, out), md]
