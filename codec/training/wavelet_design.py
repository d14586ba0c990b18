"""Design of a WaveletCodec on training images: entropy-constrained k-means with the real contexts.

    round 0: scalar choices (the grid) through the real passes ─► counts ─► first priors
    round r: RD choices under the current priors ─► codewords ← centroids, counts ─► priors (freeze)

Every round counts the symbols of every row exactly as the coder will see them, pooled over a set of
steps, so one table set serves every rate. Training images only.
"""
import numpy as np
import torch

from ..subband_context import ESC, K_MAG, N_ROWS, ll_residual, tile_bands
from ..subband_vq import NC, N_CLASSES, vq_class


def _count(model, images, steps, update_codebooks: bool, tick=None) -> None:
    vec, mag, ll = np.zeros((N_ROWS, NC + 1)), np.zeros((N_ROWS, K_MAG)), np.zeros((3, K_MAG))
    sums, counts = np.zeros((N_CLASSES, NC, 4)), np.zeros((N_CLASSES, NC))
    state = {}

    def collect(b, ch, u, idx, rows, escq):
        np.add.at(vec, (rows, idx), 1)
        esc = idx == NC
        np.add.at(mag, (np.repeat(rows[esc], 4), np.minimum(np.abs(escq[esc]), ESC).ravel()), 1)
        band = state["bands"][b]
        cls = vq_class(band.level, band.orientation, ch)
        np.add.at(sums[cls], idx[~esc], u[~esc])
        np.add.at(counts[cls], idx[~esc], 1)

    for rgb in images:
        for step in steps:
            y = model.analysis(rgb) / step
            Hp, Wp = y.shape[1:]
            for tile in model.tiles(*rgb.shape[:2]):
                state["bands"] = tile_bands(tile[2], tile[3])
                t = model.encode_tile([y[:, r, c] for r, c in model.band_slices(Hp, Wp, tile)], state["bands"], collect)
                r = np.minimum(np.abs(ll_residual(t.ll)), ESC)
                for ch in range(3):
                    ll[ch] += np.bincount(r[ch].ravel(), minlength=K_MAG)
            if tick:
                tick()
    if update_codebooks:
        model.vq.update(sums, counts)
    model.stat_vec.copy_(torch.from_numpy(vec))
    model.stat_mag.copy_(torch.from_numpy(mag))
    model.stat_ll.copy_(torch.from_numpy(ll))
    model.freeze()


def design(model, images: list, steps: tuple, rounds: int = 3, log=None, warm: bool = False,
           progress=None) -> None:
    """Fit codebooks (mode "vq") and priors of `model` on training images (H,W,3) uint8, in place.
    `warm` starts from the model's own codebooks and priors instead of the scalar round: a re-fit that
    follows a transform moved by training. `progress(done, total)` counts the images coded at each step
    over all rounds (a design on 30 photos takes minutes)."""
    mode = model.mode
    total = len(images) * len(steps) * ((not warm) + (rounds + 1 if mode == "vq" else 0))
    done = [0]

    def tick():
        done[0] += 1
        if progress:
            progress(done[0], total)

    if not warm:
        model.mode = "scalar"
        _count(model, images, steps, update_codebooks=False, tick=tick)
        model.mode = mode
    if mode == "vq":
        for r in range(rounds):
            _count(model, images, steps, update_codebooks=True, tick=tick)
            if log:
                log(f"design round {r + 1}/{rounds}")
        _count(model, images, steps, update_codebooks=False, tick=tick)
