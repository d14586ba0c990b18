"""`ibc plot`: rate–distortion–realism curves from `ibc eval` results, and BD-rates against an anchor codec."""
import json
import math
import warnings
from pathlib import Path

import numpy as np

from .errors import CodecError

# One colour and marker per codec, the same in every panel and every figure.
STYLES = {"jpeg": ("tab:blue", "s"), "webp": ("tab:green", "^"), "avif": ("tab:purple", "D"),
          "jpeg2000": ("tab:brown", "v")}
OTHERS = [("tab:red", "o"), ("tab:orange", "P"), ("black", "X"), ("tab:pink", "*"), ("tab:cyan", "h"),
          ("tab:olive", "<"), ("tab:gray", ">")]


def load_curves(paths: list[Path]) -> list[dict]:
    """Result files → one curve per codec, points sorted by bpp. A codec found in several files keeps
    each curve, named after its file."""
    curves, seen = [], set()
    for path in map(Path, paths):
        if not path.is_file():
            raise CodecError(f"{path}: no such file")
        by_codec = {}
        try:
            for r in json.loads(path.read_text())["results"]:
                curve = by_codec.setdefault(r["codec"], {"codec": r["codec"], "label": r["label"], "points": []})
                curve["points"].append(r)
        except (ValueError, KeyError, TypeError):
            raise CodecError(f"{path}: not an `ibc eval` results file") from None
        for curve in by_codec.values():
            if curve["codec"] in seen:
                curve["codec"] += f"@{path.stem}"
                curve["label"] += f" [{path.stem}]"
            seen.add(curve["codec"])
            curve["points"].sort(key=lambda r: r["bpp"])
            curves.append(curve)
    return curves


def _series(curve: dict, field: str) -> tuple[np.ndarray, np.ndarray]:
    """(bpp, field) of the points where the field is defined."""
    pts = [(p["bpp"], p[field]) for p in curve["points"] if p.get(field) is not None]
    return np.array([p[0] for p in pts], dtype=float), np.array([p[1] for p in pts], dtype=float)


def bd_rate(rate_anchor, quality_anchor, rate_test, quality_test) -> float | None:
    """Bjøntegaard delta rate in %, pchip on log-rate over the overlapping quality range (the `bjontegaard`
    package). Points that do not raise quality over a cheaper one are dropped first, since the
    interpolation needs a monotone curve. None when a curve has under two points or there is no overlap."""
    import bjontegaard

    curves = []
    for rate, quality in ((rate_anchor, quality_anchor), (rate_test, quality_test)):
        order = np.argsort(rate)
        kept, best = [], -math.inf
        for r, q in zip(np.asarray(rate, float)[order], np.asarray(quality, float)[order]):
            if q > best and math.isfinite(q):
                kept.append((r, q))
                best = q
        if len(kept) < 2:
            return None
        curves.append(np.array(kept).T)
    (ra, qa), (rt, qt) = curves
    if min(qa.max(), qt.max()) <= max(qa.min(), qt.min()):
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        value = bjontegaard.bd_rate(ra, qa, rt, qt, method="pchip", require_matching_points=False, min_overlap=0)
    return float(value) if math.isfinite(value) else None


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
    return "\n".join(lines) + "\n"


def anchor_psnr_at(anchor: dict, bpp: float) -> float | None:
    """The anchor's PSNR at `bpp`, interpolated linearly in log-rate; None outside its measured range."""
    rates, psnrs = _series(anchor, "psnr")
    if len(rates) < 2 or not rates.min() <= bpp <= rates.max():
        return None
    return float(np.interp(np.log(bpp), np.log(rates), psnrs))


def points_table(curves: list[dict], anchor: str) -> str:
    """A markdown table of every point of the ibc curves, with the anchor's PSNR at the same rate."""
    ref = next(c for c in curves if c["codec"] == anchor)
    fmt = lambda v, f: "n/a" if v is None else format(v, f)  # noqa: E731
    lines = []
    for c in (c for c in curves if c["codec"].startswith("ibc")):
        lines += ["", f"{c['label']}, every quality level (means over the images):", "",
                  f"| level | bpp | PSNR (dB) | {ref['label']} PSNR at that bpp | Δ PSNR | MS-SSIM (dB) | SWD |"
                  " encode (s) | decode (s) |", "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for p in c["points"]:
            at = anchor_psnr_at(ref, p["bpp"])
            delta = None if at is None else p["psnr"] - at
            lines.append(f"| {p['setting']} | {p['bpp']:.3f} | {p['psnr']:.2f} | {fmt(at, '.2f')} | "
                         f"{fmt(delta, '+.2f')} | {fmt(p.get('ms_ssim_db'), '.2f')} | {fmt(p.get('swd'), '.3f')} | "
                         f"{p['encode_s']:.2f} | {p['decode_s']:.2f} |")
    return "\n".join(lines) + "\n" if lines else ""


def plot(curves: list[dict], out: Path, title: str | None = None) -> None:
    """One figure, four panels: PSNR, MS-SSIM (dB) and SWD against bpp, and the distortion–realism plane."""
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
    fig, axes = plt.subplots(2, 2, figsize=(12, 9), layout="constrained")
    panels = [("bpp", "psnr", "PSNR–rate", "bits per pixel", "PSNR (dB, RGB) ↑"),
              ("bpp", "ms_ssim_db", "MS-SSIM–rate", "bits per pixel", "MS-SSIM (dB) ↑"),
              ("bpp", "swd", "Realism–rate", "bits per pixel", "SWD, Laplacian patches ↓ (log)"),
              ("swd", "psnr", "Distortion–realism", "SWD ↓ (log)", "PSNR (dB) ↑")]
    others = iter(OTHERS * 10)
    styles = {c["codec"]: STYLES.get(c["codec"]) or next(others) for c in curves}
    for ax, (xf, yf, name, xlabel, ylabel) in zip(axes.flat, panels):
        for c in curves:
            pts = [(p[xf], p[yf]) for p in c["points"] if p.get(xf) is not None and p.get(yf) is not None]
            if pts:
                colour, marker = styles[c["codec"]]
                ax.plot(*zip(*pts), color=colour, marker=marker, markersize=5, linewidth=1.5, label=c["label"])
        if "swd" in (xf, yf):
            (ax.set_xscale if xf == "swd" else ax.set_yscale)("log")
        ax.set(title=name, xlabel=xlabel, ylabel=ylabel)
        ax.grid(True, which="major", alpha=0.4)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.savefig(out, dpi=120)
    plt.close(fig)
