"""The generative stage of `ibc train --mode gc`: a randomized decoder (codec.noise_fill) on a Shannon-AE
model's fixed bitstream, in closed form (no SGD):

    1. σ[class, ctx]: root mean square of the coefficients the encoder sent as zero, on training crops at
       the low-rate steps of the model's range;
    2. the filled levels and the amplitude α (σ shipped = α·σ_fit) from the distortion–realism curve on
       validation crops: the most realistic setting (lowest SWD) whose MSE stays within MSE_BOUND× the
       Shannon-AE decoder's on the same files, at an amplitude of at most MAX_AMPLITUDE.
"""
import numpy as np
from PIL import Image

from ..metrics import SlicedWasserstein
from ..noise_fill import NoiseFill, fit

LEVEL_SETS = ((1, 2), (1, 2, 3))  # the fine scales only: coarse ones are kept as sent (noise there draws streaks)
AMPLITUDES = (0.85, 1.0, 1.2, 1.4)
# Above this the curve still gains SWD within the MSE bound, but out-of-focus areas grow streaks and flat
# ones grain (looked at in crops of BSDS500 validation photos, BENCHMARKS.md): α stays at or below it.
MAX_AMPLITUDE = 1.4
MSE_BOUND = 1.8


def crop(path, side: int = 256) -> np.ndarray:
    """A centre crop side × 1.5·side (smaller images whole), (H,W,3) uint8."""
    with Image.open(path) as im:
        rgb = np.asarray(im.convert("RGB"))
    H, W = rgb.shape[:2]
    r0, c0 = (H - min(H, side)) // 2, (W - min(W, side * 3 // 2)) // 2
    return rgb[r0:r0 + side, c0:c0 + side * 3 // 2]


def near_sent_luma(sigma: np.ndarray) -> np.ndarray:
    """σ where the noise goes: luma only (chroma grain reads as coloured speckle; classes: even luma, odd
    chroma), and only next to something sent (context 0: no sent ancestor and no sent neighbour), so
    texture goes on and flat areas stay flat."""
    out = sigma.copy()
    out[1::2] = 0
    out[:, 0] = 0
    return out


def _mse(a, b) -> float:
    return float(np.mean((a.astype(np.float64) - b) ** 2))


def design_noise(coder, train: list, val: list, fit_steps: list, val_steps: list, say=None) -> tuple[NoiseFill, dict]:
    """The randomized decoder of `coder` (a WaveletCoder) from training and validation crops (H,W,3)
    uint8; returns it and a record of the choice (the curve, for the manifest)."""
    if say:
        say(f"gc: fitting the noise amplitudes on {len(train)} crops × {len(fit_steps)} steps")
    sigma, _ = fit(coder, train, fit_steps, (1, 2, 3, 4, 5))
    sigma = near_sent_luma(sigma)
    swd = SlicedWasserstein(val, patches=1024)
    curve = {}  # (levels, amplitude) → [(mse ratio, swd) per validation step]
    for step in val_steps:
        files = [coder.encode(rgb, step) for rgb in val]
        plain = [coder.decode(t, *rgb.shape[:2], step) for t, rgb in zip(files, val)]
        m0 = np.mean([_mse(rgb, x) for rgb, x in zip(val, plain)])
        for levels in LEVEL_SETS:
            noise = NoiseFill(sigma, levels)
            for a in AMPLITUDES:
                out = [coder.decode(t, *rgb.shape[:2], step, fill=noise.filler(0, a)) for t, rgb in zip(files, val)]
                ratio = np.mean([_mse(rgb, x) for rgb, x in zip(val, out)]) / m0
                curve.setdefault((levels, a), []).append((float(ratio), float(swd.distance(out)[0])))
        if say:
            say(f"gc: validation step {step:.1f} done")
    ok = [s for s, rows in curve.items() if s[1] <= MAX_AMPLITUDE and all(r <= MSE_BOUND for r, _ in rows)]
    levels, amplitude = min(ok, key=lambda s: np.mean([d for _, d in curve[s]])) if ok else (LEVEL_SETS[0], AMPLITUDES[0])
    record = {"levels": list(levels), "amplitude": amplitude, "fit_crops": len(train), "val_crops": len(val),
              "fit_steps": [round(s, 2) for s in fit_steps], "val_steps": [round(s, 2) for s in val_steps],
              "how": f"closed form: σ = RMS of the coefficients sent as zero, per codebook class and context; "
                     f"noise on luma next to sent coefficients; levels and amplitude the lowest SWD on validation "
                     f"crops with MSE ≤ {MSE_BOUND}× the Shannon-AE decoder's, amplitude ≤ {MAX_AMPLITUDE}"}
    return NoiseFill(sigma * amplitude, levels), record
