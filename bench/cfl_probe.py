"""Probe: chroma-from-luma (CfL) prediction in the wavelet domain, measured with real files before anyone
builds it. In every detail band of every tile, each chroma channel c (Co, Cg) codes the residual
u_c' = u_c − α·ŷ_Y, ŷ_Y the band's decoded (dequantised) luma, which the decoder has before the band's
chroma; it adds α·ŷ_Y back after dequantising. α per (tile, band, chroma channel) is the encoder's least-
squares fit, quantised to steps of 1/16 in [−2, 2 − 1/16] (A_BITS = 6 bits each, counted as side
information). The LL band is left as it is (its chroma is a few scalar residuals; no α is sent for it).

Sizes are real: the plain file is `compress(rgb, lm, quality=q)`, and the CfL file the same container
with each tile's payload range-coded by the model's own coder (TileWriter) from the modified chroma, plus
the α bits. Images are decoded as the normal decoder does (uniform step weights, tune psnr, the model's
post-filter), and also without the post-filter. "free α" is the same CfL files without the side bits:
the most any cheaper α code could win. Chroma share: the chroma detail passes' ideal bits (the encoder's
`bits=`) over all of a tile's ideal bits, plain codec. Energy: Σu² of the chroma detail coefficients
(step units) before and after the prediction.

    OMP_NUM_THREADS=1 .venv/bin/python bench/cfl_probe.py --md bench/cfl_probe.md

The last 12 BSDS500 validation photos (never Kodak).
"""
import argparse
import time
from pathlib import Path

import numpy as np

from ibc.codec.api import compress, decompress
from ibc.codec.image_io import read_image
from ibc.codec.metrics import bd_rate, psnr
from ibc.codec.step_code import code_of_quality, step_from_code
from ibc.codec.subband_context import tile_bands
from ibc.codec.subband_tiles import TileWriter
from ibc.codec.training.dataset import list_images, split_train_val
from ibc.codec.weights import load_model

QUALITIES = (20, 35, 50, 65)
A_UNIT, A_BITS = 1 / 16, 6                  # α = k/16, k in −32 … 31: 64 values, 6 bits
A_LO, A_HI = -(1 << (A_BITS - 1)), (1 << (A_BITS - 1)) - 1


def photos(data: str, n: int) -> list:
    """The last n photos of the validation split (never Kodak)."""
    _, val = split_train_val(list_images(Path(data)))
    return val[-n:]


def fit_alpha(u: np.ndarray, luma: np.ndarray) -> float:
    """Least-squares α of chroma u on decoded luma, quantised as the file would carry it."""
    den = float((luma ** 2).sum())
    k = 0 if den == 0 else round(float((u * luma).sum()) / den / A_UNIT)
    return min(max(k, A_LO), A_HI) * A_UNIT


def code_tile(model, u_bands: list, bands: list) -> tuple:
    """One tile's real payload → (TileIndices, payload, chroma detail ideal bits, all ideal bits)."""
    writer, bits, chans = TileWriter(), [], []
    t = model.encode_tile(u_bands, bands, bits=bits, writer=writer,
                          collect=lambda b, ch, *_: chans.append(ch))
    chroma = sum(x for x, ch in zip(bits, chans) if ch > 0)
    return t, writer.payload(), chroma, sum(bits)


def predict(u_bands: list, luma_hat: list) -> tuple[list, np.ndarray]:
    """Chroma detail bands minus α·ŷ_Y → (new bands, α (bands−1, 2))."""
    out, alphas = [u_bands[0]], []
    for u, y in zip(u_bands[1:], luma_hat[1:]):
        a = [fit_alpha(u[ch], y) for ch in (1, 2)]
        out.append(np.stack([u[0], u[1] - a[0] * y, u[2] - a[1] * y]))
        alphas.append(a)
    return out, np.array(alphas)


def code_image(lm, rgb: np.ndarray, q: float) -> dict:
    """Plain and CfL files of one photo at quality q → sizes, PSNRs, bits and energies."""
    model, (H, W, _) = lm.coder, rgb.shape
    step = step_from_code(code_of_quality(q))
    pf = lm.postfilter_for(lm.filter_of("psnr"))
    data = compress(rgb, lm, quality=q)
    y = model.analysis(rgb) / step
    Hp, Wp = y.shape[1:]
    y_plain, y_cfl = np.zeros_like(y), np.zeros_like(y)
    r = dict(plain_bytes=len(data), cfl_bytes=len(data), side_bits=0, chroma_bits=0, total_bits=0,
             cfl_chroma_bits=0, e_before=0.0, e_after=0.0, alphas=[])
    for tile in model.tiles(H, W):
        bands, sl = tile_bands(tile[2], tile[3]), model.band_slices(Hp, Wp, tile)
        u_bands = [y[:, rr, cc] for rr, cc in sl]
        t, p_plain, chroma, total = code_tile(model, u_bands, bands)
        rec = model.dequantise_tile(t, bands)
        u_cfl, alphas = predict(u_bands, [b[0] for b in rec])
        t2, p_cfl, chroma2, _ = code_tile(model, u_cfl, bands)
        assert all(np.array_equal(a[0], b[0]) for a, b in zip(t.idx, t2.idx)), "luma indices changed"
        rec2 = model.dequantise_tile(t2, bands)
        for b in range(1, len(bands)):
            rec2[b][1:] += alphas[b - 1][:, None, None] * rec2[b][0]
        for (rr, cc), a, c in zip(sl, rec, rec2):
            y_plain[:, rr, cc], y_cfl[:, rr, cc] = a, c
        r["cfl_bytes"] += len(p_cfl) - len(p_plain)
        r["side_bits"] += alphas.size * A_BITS
        r["chroma_bits"] += chroma
        r["cfl_chroma_bits"] += chroma2
        r["total_bits"] += total
        r["e_before"] += sum(float((u[1:] ** 2).sum()) for u in u_bands[1:])
        r["e_after"] += sum(float((u[1:] ** 2).sum()) for u in u_cfl[1:])
        r["alphas"].append(alphas)
    plain = model.synthesis(y_plain * step, H, W)
    assert np.array_equal(pf(plain, step), decompress(data, lm)), "plain decode differs from the decoder's"
    cfl = model.synthesis(y_cfl * step, H, W)
    r.update(plain_psnr=psnr(rgb, pf(plain, step)), cfl_psnr=psnr(rgb, pf(cfl, step)),
             plain_psnr_nf=psnr(rgb, plain), cfl_psnr_nf=psnr(rgb, cfl))
    return r


def sweep(lm, images: list, t0: float) -> dict:
    """Per quality, the sums over the photos (bits, energies) and means (PSNR)."""
    pixels = sum(rgb.shape[0] * rgb.shape[1] for rgb in images)
    out = {}
    for q in QUALITIES:
        rs = [code_image(lm, rgb, q) for rgb in images]
        s = {k: sum(r[k] for r in rs) for k in rs[0] if k != "alphas"}
        out[q] = dict(
            plain_bpp=8 * s["plain_bytes"] / pixels,
            cfl_bpp=(8 * s["cfl_bytes"] + s["side_bits"]) / pixels,
            free_bpp=8 * s["cfl_bytes"] / pixels,
            **{k: s[k] / len(rs) for k in ("plain_psnr", "cfl_psnr", "plain_psnr_nf", "cfl_psnr_nf")},
            share=s["chroma_bits"] / s["total_bits"], chroma_change=s["cfl_chroma_bits"] / s["chroma_bits"] - 1,
            side_share=s["side_bits"] / (8 * s["plain_bytes"]), energy_cut=1 - s["e_after"] / s["e_before"],
            mean_abs_alpha=float(np.mean(np.abs(np.concatenate([a for r in rs for a in r["alphas"]])))))
        m = out[q]
        print(f"q {q}: plain {m['plain_bpp']:.4f} bpp {m['plain_psnr']:.3f} dB, CfL {m['cfl_bpp']:.4f} bpp "
              f"{m['cfl_psnr']:.3f} dB, energy −{100 * m['energy_cut']:.1f} % ({time.time() - t0:.0f} s)", flush=True)
    return out


def bd(res: dict, rate: str, quality: str, plain_quality: str = "plain_psnr") -> str:
    """BD-rate (PSNR) of a CfL curve against the plain codec's, formatted."""
    col = lambda k: np.array([res[q][k] for q in QUALITIES])  # noqa: E731
    v = bd_rate(col("plain_bpp"), col(plain_quality), col(rate), col(quality))
    return "n/a" if v is None else f"{v:+.2f} %"


def report(res: dict, n: int, seconds: float, model: str) -> str:
    rows = [f"| {q} | {m['plain_bpp']:.4f} | {m['plain_psnr']:.3f} | {m['cfl_bpp']:.4f} | {m['cfl_psnr']:.3f} | "
            f"{100 * m['share']:.1f} % | {100 * m['chroma_change']:+.1f} % | {100 * m['side_share']:.2f} % | "
            f"{100 * m['energy_cut']:.1f} % | {m['mean_abs_alpha']:.3f} |" for q, m in res.items()]
    return "\n".join([
        f"# Chroma-from-luma prediction in the wavelet domain ({model}, {n} validation photos)", "",
        f"`OMP_NUM_THREADS=1 .venv/bin/python bench/cfl_probe.py --images {n} --md bench/cfl_probe.md` "
        f"({seconds:.0f} s, one core). The last {n} BSDS500 validation photos (never Kodak); uniform step "
        f"weights (tune psnr); real range-coded payloads; α per (tile, detail band, chroma channel), least "
        f"squares on the decoded luma, steps of 1/16 in [−2, 2), {A_BITS} bits each in the CfL rate; LL not "
        "predicted. PSNR after the model's post-filter (the normal decoder). Chroma share and its change: ideal "
        "bits of the chroma detail passes; energy: Σu² of chroma detail coefficients, after vs before.", "",
        "| q | plain bpp | plain PSNR | CfL bpp | CfL PSNR | chroma share of bits | chroma bits, CfL | "
        "α side bits, % of file | chroma energy cut | mean abs α |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
        f"BD-rate (PSNR) of CfL against plain: **{bd(res, 'cfl_bpp', 'cfl_psnr')}** with the α bits; "
        f"{bd(res, 'free_bpp', 'cfl_psnr')} with α free (upper bound). Without the post-filter: "
        f"{bd(res, 'cfl_bpp', 'cfl_psnr_nf', 'plain_psnr_nf')} with the α bits, "
        f"{bd(res, 'free_bpp', 'cfl_psnr_nf', 'plain_psnr_nf')} with α free.", ""])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="../shared/data/train")
    ap.add_argument("--images", type=int, default=12, help="the last N of BSDS500's val split")
    ap.add_argument("--model", default="shannon-v5")
    ap.add_argument("--md", help="also write the table here")
    args = ap.parse_args()
    t0 = time.time()
    lm = load_model(args.model)
    images = [read_image(p) for p in photos(args.data, args.images)]
    text = report(sweep(lm, images, t0), len(images), time.time() - t0, args.model)
    print(text)
    if args.md:
        Path(args.md).write_text(text)


if __name__ == "__main__":
    main()
