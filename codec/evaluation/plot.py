"""`ibc plot`: rate–distortion–realism curves from `ibc eval` results, and BD-rates against an anchor codec."""
import json
from pathlib import Path

import numpy as np

from ..errors import CodecError
from ..metrics import bd_rate

# One colour and marker per codec, the same in every panel and every figure.
STYLES = {"jpeg": ("tab:blue", "s"), "webp": ("tab:green", "^"), "avif": ("tab:purple", "D"),
          "jpeg2000": ("tab:brown", "v")}
OTHERS = [("tab:red", "o"), ("tab:orange", "P"), ("black", "X"), ("tab:pink", "*"), ("tab:cyan", "h"),
          ("tab:olive", "<"), ("tab:gray", ">")]


def load_curves(paths: list[Path]) -> list[dict]:
    """Result files → one curve per codec, points sorted by bpp; a gc model gives one curve per decoder
    realism A (its id "CODEC A=0.5", its `coder` the codec, its `realism` A). A codec found in several files
    keeps each curve, named after its file."""
    curves, seen = [], set()
    for path in map(Path, paths):
        if not path.is_file():
            raise CodecError(f"{path}: no such file")
        by_codec = {}
        try:
            for r in json.loads(path.read_text())["results"]:
                realism = r.get("realism")  # absent before gc models, and for codecs with one decoder
                name = r["codec"] if realism is None else f"{r['codec']} A={realism:g}"
                curve = by_codec.setdefault(name, {"codec": name, "label": r["label"], "coder": r["codec"],
                                                   "realism": realism, "points": []})
                curve["points"].append(r)
        except (ValueError, KeyError, TypeError):
            raise CodecError(f"{path}: not an `ibc eval` results file") from None
        for curve in by_codec.values():
            if curve["codec"] in seen:
                curve["codec"] += f"@{path.stem}"
                curve["coder"] += f"@{path.stem}"
                curve["label"] += f" [{path.stem}]"
            seen.add(curve["codec"])
            curve["points"].sort(key=lambda r: r["bpp"])
            curves.append(curve)
    return curves


def _series(curve: dict, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(bpp, field) of the points where the field is defined."""
    pts = [(p["bpp"], p[field]) for p in curve["points"] if p.get(field) is not None]
    return np.array([p[0] for p in pts], dtype=float), np.array([p[1] for p in pts], dtype=float)


def bd_table(curves: list[dict], anchor: str) -> str:
    """A markdown table: every codec's BD-rate against the anchor, on PSNR and on MS-SSIM (dB)."""
    ref = next((c for c in curves if c["codec"] == anchor), None)
    if ref is None:
        raise CodecError(f"anchor {anchor!r} is not in the results (have: {', '.join(c['codec'] for c in curves)})")
    fmt = lambda v: "n/a" if v is None else f"{v:+.1f} %"  # noqa: E731
    lines = [f"BD-rate against {ref['label']} (negative: fewer bits for the same quality)", "",
             "| codec | points | bpp range | BD-rate (PSNR) | BD-rate (MS-SSIM dB) |",
             "|---|---:|---|---:|---:|"]
    for c in curves:
        rates = [p["bpp"] for p in c["points"]]
        cells = [fmt(bd_rate(*_series(ref, f), *_series(c, f))) for f in ("psnr", "ms_ssim_db")]
        lines.append(f"| {c['label']} | {len(rates)} | {min(rates):.3f}–{max(rates):.3f} | {cells[0]} | {cells[1]} |")
    if any(c.get("realism") is not None for c in curves):
        lines += ["", "A: the generative decoder's realism (0: its Shannon-AE reconstruction, 1: fully generative); "
                  "one row per A, all from the same files, so at the same rates."]
    return "\n".join(lines) + "\n"


def value_at(curve: dict, field: str, bpp: float, log: bool = False) -> float | None:
    """The curve's `field` at `bpp`, interpolated linearly in log-rate (and in log-value with `log`, for
    SWD); None outside its measured range."""
    rates, values = _series(curve, field)
    if len(rates) == 0 or not rates.min() <= bpp <= rates.max():
        return None
    if log:
        return float(np.exp(np.interp(np.log(bpp), np.log(rates), np.log(values))))
    return float(np.interp(np.log(bpp), np.log(rates), values))


def anchor_psnr_at(anchor: dict, bpp: float) -> float | None:
    """The anchor's PSNR at `bpp`, interpolated linearly in log-rate; None outside its measured range."""
    return value_at(anchor, "psnr", bpp)


def sweeps(curves: list[dict], level: int | None = None) -> list[dict]:
    """Each gc model evaluated at two or more realisms A: its points at one quality level (default: its
    lowest), sorted by A. The file of a level does not depend on A, so they share one rate."""
    by_coder = {}
    for c in curves:
        if c.get("realism") is not None:
            by_coder.setdefault(c["coder"], []).append(c)
    found = []
    for coder, series in by_coder.items():
        if len({c["realism"] for c in series}) < 2:
            continue
        L = level if level is not None else min(p["setting"] for c in series for p in c["points"])
        points = sorted(((c["realism"], p) for c in series for p in c["points"] if p["setting"] == L),
                        key=lambda ap: ap[0])
        if len(points) >= 2:
            found.append({"coder": coder, "label": series[0]["label"].rsplit(" A=", 1)[0], "level": L,
                          "bpp": float(np.mean([p["bpp"] for _, p in points])), "points": points})
    if level is not None and not found:
        raise CodecError(f"no realism sweep at level {level} in the results")
    return found


def points_table(curves: list[dict], anchor: str) -> str:
    """A markdown table of every point of the learned codecs' curves (ibc and CompressAI peers), with the
    anchor's PSNR at the same rate."""
    ref = next(c for c in curves if c["codec"] == anchor)
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    lines = []
    learned = ("ibc", "compressai")
    for c in (c for c in curves if c["codec"].startswith(learned) and c is not ref):  # gc: one table per A
        lines += ["", f"{c['label']}, every quality level (means over the images):", "",
                  f"| level | bpp | PSNR (dB) | {ref['label']} PSNR at that bpp | Δ PSNR | MS-SSIM (dB) | SWD |"
                  " C2ST | C2ST cond. | encode (s) | decode (s) |", "|---:" * 11 + "|"]
        for p in c["points"]:
            at = anchor_psnr_at(ref, p["bpp"])
            delta = None if at is None else p["psnr"] - at
            lines.append(f"| {p['setting']} | {p['bpp']:.3f} | {p['psnr']:.2f} | {fmt(at, '.2f')} | "
                         f"{fmt(delta, '+.2f')} | {fmt(p.get('ms_ssim_db'), '.2f')} | {fmt(p.get('swd'), '.3f')} | "
                         f"{fmt(p.get('c2st'), '.3f')} | {fmt(p.get('c2st_cond'), '.3f')} | "
                         f"{p['encode_s']:.2f} | {p['decode_s']:.2f} |")
    thresholds = [p["c2st_threshold"] for c in curves for p in c["points"] if p.get("c2st_threshold") is not None]
    if lines and thresholds:
        lines += ["", f"C2ST: the judge's accuracy at telling held-out 64-px patches of the reconstructions from the "
                  f"originals' (0.5: it cannot; conditional: it also sees the original's low-pass); above "
                  f"{max(thresholds):.3f} it can, at the 5 % level."]
    return "\n".join(lines) + "\n" if lines else ""


REALISM_LABEL = {"c2st": "C2ST accuracy ↓ (0.5: indistinguishable)", "swd": "SWD, Laplacian patches ↓ (log)"}


def _judge(curves: list[dict], judge: str | None) -> str:
    """The realism measure to plot: as asked, else the C2ST where any point has it, else SWD."""
    has_c2st = any(p.get("c2st") is not None for c in curves for p in c["points"])
    if judge is None:
        return "c2st" if has_c2st else "swd"
    if judge not in REALISM_LABEL:
        raise CodecError(f"unknown realism measure {judge!r} (choose from {', '.join(REALISM_LABEL)})")
    if judge == "c2st" and not has_c2st:
        raise CodecError("the results have no C2ST (they were made with `ibc eval --no-c2st`)")
    return judge


def _style(curve: dict, others) -> tuple:
    """A fixed colour per classical codec; a gc series coloured by its realism A; the rest in turn."""
    if curve.get("realism") is not None:
        import matplotlib
        return matplotlib.colormaps["viridis"](0.9 * curve["realism"]), "o"
    return STYLES.get(curve["codec"]) or next(others)


def _plot_sweep(ax, curves: list[dict], sweep: dict, styles: dict, judge: str = "swd") -> None:
    """The distortion–realism plane at the sweep's rate: the realism sweep as a connected curve annotated
    with A, and every other codec at that rate (interpolated in log-rate, where it reaches it)."""
    rate = sweep["bpp"]
    for c in curves:
        if c.get("coder") == sweep["coder"]:
            continue
        psnr, realism = value_at(c, "psnr", rate), value_at(c, judge, rate, log=judge == "swd")
        if psnr is not None and realism is not None:
            colour, marker = styles[c["codec"]]
            ax.plot(realism, psnr, color=colour, marker=marker, markersize=8, linestyle="none", label=c["label"])
    points = [(A, p) for A, p in sweep["points"] if p.get(judge) is not None]
    xs, ys = [p[judge] for _, p in points], [p["psnr"] for _, p in points]
    ax.plot(xs, ys, color="0.3", linewidth=1.5, label=f"{sweep['label']} level {sweep['level']}, A = 0…1")
    for A, p in points:
        ax.plot(p[judge], p["psnr"], marker="o", markersize=7, color=_style({"realism": A}, None)[0])
        ax.annotate(f"A={A:g}", (p[judge], p["psnr"]), textcoords="offset points", xytext=(5, 5), fontsize=8)
    if judge == "swd":
        ax.set_xscale("log")
    ax.set(title=f"Distortion–realism at {rate:.3f} bpp\n(other codecs interpolated in log-rate)",
           xlabel=REALISM_LABEL[judge], ylabel="PSNR (dB) ↑")
    ax.grid(True, which="major", alpha=0.4)
    ax.legend(fontsize=8)


def plot(curves: list[dict], out: Path, title: str | None = None, sweep_level: int | None = None,
         judge: str | None = None) -> None:
    """One figure, four panels: PSNR, MS-SSIM (dB) and realism against bpp, and the distortion–realism plane;
    with a gc model's realism sweep, a fifth: the distortion–realism plane at the sweep's rate (level
    `sweep_level`, default its lowest). Realism is `judge`: "c2st" (the plain C2ST; the realism–rate panel
    also draws the conditional one, dashed, and the 95 % null threshold) or "swd"; default: the C2ST where
    the results have it, else SWD."""
    judge = _judge(curves, judge)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    if not out.parent.is_dir():
        raise CodecError(f"{out.parent}: no such folder")
    if out.suffix.lower().lstrip(".") not in plt.figure().canvas.get_supported_filetypes():
        plt.close("all")
        raise CodecError(f"{out}: unknown figure format (use .png, .pdf or .svg)")
    plt.close("all")
    found = sweeps(curves, sweep_level)
    mosaic = [[0, 1, "sweep"], [2, 3, "sweep"]] if found else [[0, 1], [2, 3]]
    fig, axd = plt.subplot_mosaic(mosaic, figsize=(18 if found else 12, 9), layout="constrained")
    rate_title = "Realism–rate (dashed: conditional)" if judge == "c2st" else "Realism–rate"
    panels = [("bpp", "psnr", "PSNR–rate", "bits per pixel", "PSNR (dB, RGB) ↑"),
              ("bpp", "ms_ssim_db", "MS-SSIM–rate", "bits per pixel", "MS-SSIM (dB) ↑"),
              ("bpp", judge, rate_title, "bits per pixel", REALISM_LABEL[judge]),
              (judge, "psnr", "Distortion–realism", REALISM_LABEL[judge], "PSNR (dB) ↑")]
    others = iter(OTHERS * 10)
    styles = {c["codec"]: _style(c, others) for c in curves}
    for ax, (xf, yf, name, xlabel, ylabel) in zip((axd[i] for i in range(4)), panels):
        for c in curves:
            pts = [(p[xf], p[yf]) for p in c["points"] if p.get(xf) is not None and p.get(yf) is not None]
            if pts:
                colour, marker = styles[c["codec"]]
                ax.plot(*zip(*pts), color=colour, marker=marker, markersize=5, linewidth=1.5, label=c["label"])
            cond = [(p[xf], p["c2st_cond"]) for p in c["points"] if p.get("c2st_cond") is not None]
            if yf == "c2st" and cond:
                ax.plot(*zip(*cond), color=colour, marker=marker, markersize=3, linewidth=1, linestyle="--")
        thresholds = [p["c2st_threshold"] for c in curves for p in c["points"] if p.get("c2st_threshold") is not None]
        if yf == "c2st" and thresholds:
            ax.axhline(max(thresholds), color="0.5", linestyle=":", label="95 % null threshold")
        if "swd" in (xf, yf):
            (ax.set_xscale if xf == "swd" else ax.set_yscale)("log")
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
        ax.grid(True, which="major", alpha=0.4)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if found:
        _plot_sweep(axd["sweep"], curves, found[0], styles, judge)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=120)
    plt.close(fig)
