"""The generative head (models.generative) on ONNX Runtime: the trained part of a gc model's randomized
decoder, run on the coding path without torch.

    x̂ (H,W,3) uint8   the Shannon-AE rendering (post-filtered)
    d (H,W,3) int16   the noise fill's detail at realism 1 (codec.noise_fill), from the seed
    u (H,W)           seeded noise: uniform_noise(seed, U_KEY, H·W), the decoder's U
      ─ head.onnx (x, d, u, s) → y, in stripes overlapping by its margin ─► x̂ + α·y, rounded to 8 bits

The graph is stored inside the gc model's .npz (codec.noise_model), so the model's sha256 covers it. One
thread, so the sums are the same on every run of a machine; across CPUs a pixel may differ by one level.
"""
import numpy as np

from .noise_fill import uniform_noise
from .postfilter import one_thread_session, step_feature, stripes

U_KEY = 1 << 40  # the Philox key word of the head's noise: apart from every tile index


class HeadRunner:
    """One ONNX session over the graph's bytes, opened on first use."""

    def __init__(self, graph: bytes, margin: int):
        self.graph, self.margin = graph, int(margin)
        self._opened = None

    @property
    def _session(self):
        if self._opened is None:
            self._opened = one_thread_session(self.graph)
        return self._opened

    def __call__(self, x_hat: np.ndarray, detail: np.ndarray, step: float, seed: int, realism: float) -> np.ndarray:
        """x̂ (H,W,3) uint8 and the fill's detail d (H,W,3) int → x̂ + α·y as (H,W,3) uint8."""
        H, W, _ = x_hat.shape
        u = uniform_noise(seed, U_KEY, H * W).astype(np.float32).reshape(1, 1, H, W)
        s = np.array([step_feature(step)], np.float32)
        out = np.empty((H, W, 3), np.uint8)
        for r0, r1, a, b in stripes(H, self.margin):
            x = (x_hat[a:b].astype(np.float32) / 255).transpose(2, 0, 1)[None]
            d = (detail[a:b].astype(np.float32) / 255).transpose(2, 0, 1)[None]
            (y,) = self._session.run(None, {"x": x, "d": d, "u": u[:, :, a:b], "s": s})
            z = x[0, :, r0 - a:r1 - a] + realism * y[0, :, r0 - a:r1 - a]
            out[r0:r1] = np.clip(np.round(z * 255), 0, 255).astype(np.uint8).transpose(1, 2, 0)
        return out
