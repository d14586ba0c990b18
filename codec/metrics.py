"""Quality metrics shared by the CLI, evaluation and benchmarks."""
import math
import warnings

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """PSNR in dB between two 8-bit images of the same shape; inf when identical."""
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    return psnr_of_mse(float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)))


def psnr_of_mse(mse: float, peak: float = 255.0) -> float:
    """PSNR in dB of a mean squared error, for callers that sum errors themselves (by tile, by batch);
    `peak` 1 for images in [0, 1]. inf for no error."""
    return math.inf if mse == 0 else 10 * math.log10(peak ** 2 / mse)


def bpp(num_bytes: int, width: int, height: int) -> float:
    """Bits per pixel from a real file size, header included."""
    return num_bytes * 8 / (width * height)


def ms_ssim(a: np.ndarray, b: np.ndarray) -> float | None:
    """MS-SSIM (pytorch_msssim, 11×11 window, data_range 255) of two 8-bit RGB images.

    None when the shorter side is 160 px or less: the five scales of the standard window do not fit, and a
    smaller window would be a different metric under the same name."""
    import torch
    from pytorch_msssim import ms_ssim as _ms_ssim

    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} vs {b.shape}")
    if min(a.shape[:2]) <= 160:
        return None
    x, y = (torch.from_numpy(np.array(v, dtype=np.float32)).permute(2, 0, 1)[None] for v in (a, b))
    return float(_ms_ssim(x, y, data_range=255, size_average=True))


def db(similarity: float | None) -> float | None:
    """A similarity in [0,1] on a dB scale, -10·log10(1-s), which spreads out the values near 1."""
    if similarity is None:
        return None
    return math.inf if similarity >= 1 else -10 * math.log10(1 - similarity)


class SlicedWasserstein:
    """Realism without pretrained networks: the sliced Wasserstein distance between Laplacian-pyramid patch
    sets of the originals and of their reconstructions (Karras et al. 2018, ProGAN, appendix D).

    7×7 RGB patches at every pyramid scale down to 16 px, `patches` per image and scale (or every position
    where fewer exist), projected on `repeats`×`directions` random unit vectors. Both sets are normalised
    with the originals' per-channel statistics: normalising each set by its own would hide a loss of
    contrast such as blur. The reconstructions are sampled at the same positions as the originals, so
    identical sets are exactly 0 apart; positions and directions come from a fixed seed, so the distance
    is deterministic and comparable across codecs and settings. The distance is the mean over scales.
    """
    PATCH, MIN_SIDE = 7, 16

    def __init__(self, originals: list[np.ndarray], patches: int = 2048, repeats: int = 4,
                 directions: int = 128, seed: int = 0):
        import torch

        self.patches, self.repeats, self.directions, self.seed = patches, repeats, directions, seed
        shortest = min(min(im.shape[:2]) for im in originals)
        if shortest < self.PATCH:
            raise ValueError(f"images need at least {self.PATCH} px per side for patches")
        self.scales = 1 + max(0, int(math.floor(math.log2(shortest / self.MIN_SIDE))))
        self.positions = []  # per image, per scale: flat indices into the valid patch positions
        for i, im in enumerate(originals):
            per_scale = []
            for sc, band in enumerate(self._pyramid(im)):
                n = (band.shape[1] - self.PATCH + 1) * (band.shape[2] - self.PATCH + 1)
                g = torch.Generator().manual_seed(seed * 1_000_000 + 100 * i + sc)
                per_scale.append(torch.randperm(n, generator=g)[:patches])
            self.positions.append(per_scale)
        ref = self._descriptors(originals)
        self.mean = [d.mean(dim=(0, 2, 3), keepdim=True) for d in ref]
        self.std = [d.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-8) for d in ref]
        self.reference = [self._normalise(d, sc) for sc, d in enumerate(ref)]

    def _pyramid(self, rgb: np.ndarray):
        """(H,W,3) uint8 → Laplacian bands (3,h,w) float32, finest first; the last is the low-pass image."""
        import torch
        import torch.nn.functional as F

        k = torch.tensor([1.0, 4, 6, 4, 1])
        k = (k[:, None] * k[None, :] / 256).expand(3, 1, 5, 5)
        blur = lambda x: F.conv2d(F.pad(x, (2, 2, 2, 2), mode="reflect"), k, groups=3)  # noqa: E731
        g = torch.from_numpy(np.array(rgb, dtype=np.float32)).permute(2, 0, 1)[None]
        bands = []
        for _ in range(self.scales - 1):
            down = blur(g)[..., ::2, ::2]
            up = torch.zeros(1, 3, 2 * down.shape[2], 2 * down.shape[3])
            up[..., ::2, ::2] = 4 * down
            bands.append((g - blur(up)[..., :g.shape[2], :g.shape[3]])[0])
            g = down
        bands.append(g[0])
        return bands

    def _descriptors(self, images: list[np.ndarray]):
        """Per scale: the sampled patches of all images, (N,3,7,7)."""
        import torch

        per_scale = [[] for _ in range(self.scales)]
        for im, positions in zip(images, self.positions):
            for sc, (band, pos) in enumerate(zip(self._pyramid(im), positions)):
                windows = band.unfold(1, self.PATCH, 1).unfold(2, self.PATCH, 1)  # (3,h',w',7,7), a view
                w = windows.shape[2]
                per_scale[sc].append(windows[:, pos // w, pos % w].permute(1, 0, 2, 3))
        return [torch.cat(d) for d in per_scale]

    def _normalise(self, d, scale: int):
        return ((d - self.mean[scale]) / self.std[scale]).reshape(len(d), -1)

    def distance(self, reconstructions: list[np.ndarray]) -> tuple[float, list[float]]:
        """(mean over scales, per scale) for reconstructions given in the originals' order."""
        import torch

        if len(reconstructions) != len(self.positions):
            raise ValueError("one reconstruction per original is needed")
        per_scale = []
        for sc, d in enumerate(self._descriptors(reconstructions)):
            a, b = self.reference[sc], self._normalise(d, sc)
            g = torch.Generator().manual_seed(self.seed + 1000 * sc)
            dists = []
            for _ in range(self.repeats):
                dirs = torch.randn(a.shape[1], self.directions, generator=g)
                dirs /= dirs.norm(dim=0, keepdim=True)
                pa, pb = (np.sort((x @ dirs).numpy(), axis=0) for x in (a, b))  # numpy sorts 3× faster
                dists.append(np.abs(pa - pb).mean())
            per_scale.append(float(np.mean(dists)))
        return float(np.mean(per_scale)), per_scale


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
