"""Entropy-constrained VQ of 2×2 blocks of wavelet coefficients, in units of the step, with an escape.

Each subband class (level, orientation, luma/chroma) has NC = 81 codewords, started at every product of
the dead-zone scalar quantiser's reconstructions {-0.9, 0, 0.9}⁴, plus one escape index NC that sends
the block through the scalar quantiser instead. Before design the VQ therefore *is* the scalar
quantiser; entropy-constrained k-means (Chou, Lookabaugh & Gray 1989) then moves the codewords.
"""
import numpy as np

DZ, BIAS = 0.2, 0.1  # dead zone of the scalar quantiser, reconstruction bias towards zero
NC = 81              # codewords per class; index NC is the escape
LEVELS = 5
ORIENTATIONS = ("HL", "LH", "HH")
N_CLASSES = 2 * 3 * LEVELS


def quant(u: np.ndarray) -> np.ndarray:
    """Dead-zone scalar quantiser, u in step units → int64."""
    return (np.sign(u) * np.floor(np.abs(u) + 0.5 - DZ)).astype(np.int64)


def dequant(q: np.ndarray) -> np.ndarray:
    return np.sign(q) * np.maximum(np.abs(q) - BIAS, 0.0)


def blocks(a: np.ndarray) -> np.ndarray:
    """(..., h, w) → (..., h/2, w/2, 4): the 2×2 vectors of a subband."""
    *lead, h, w = a.shape
    return a.reshape(*lead, h // 2, 2, w // 2, 2).swapaxes(-3, -2).reshape(*lead, h // 2, w // 2, 4)


def unblocks(v: np.ndarray) -> np.ndarray:
    """(..., h, w, 4) → (..., 2h, 2w), the inverse of `blocks`."""
    *lead, h, w, _ = v.shape
    return v.reshape(*lead, h, w, 2, 2).swapaxes(-3, -2).reshape(*lead, 2 * h, 2 * w)


def vq_class(level: int, orientation: str, channel: int) -> int:
    """Codebook of a subband: (level 1..5, orientation, luma or chroma) → 0..N_CLASSES-1."""
    return ((level - 1) * 3 + ORIENTATIONS.index(orientation)) * 2 + min(channel, 1)


def grid_codebook() -> np.ndarray:
    """(NC,4): every product of the scalar reconstructions {-(1-BIAS), 0, 1-BIAS}; codeword k has the
    base-3 digits (q+1) of its four scalar indices, most significant first."""
    r = [-(1 - BIAS), 0.0, 1 - BIAS]
    return np.array(np.meshgrid(r, r, r, r, indexing="ij")).reshape(4, -1).T.copy()


def grid_index(q: np.ndarray) -> np.ndarray:
    """Scalar indices (...,4) with |q| ≤ 1 everywhere → their grid codeword; NC where any |q| > 1."""
    inside = (np.abs(q) <= 1).all(-1)
    code = ((q + 1) * 3 ** np.arange(3, -1, -1)).sum(-1)
    return np.where(inside, code, NC)


class Codebooks:
    """Codebooks (N_CLASSES, NC, 4) in step units, as a float64 array; the escape reconstructs with the
    scalar quantiser.

        u (…,4) block in step units ─ argmin_k ‖u − c_k‖² + λ·bits(k | context) ─► index k ∈ 0..NC
           k < NC: û = c_k          k = NC: q = quant(u), û = dequant(q)  (4 scalar indices sent too)

    The RD choice itself lives with the context model (the bits depend on the decode order); this holds
    the lookup and the distances. numpy only: the coding path runs without torch.
    """

    def __init__(self, books: np.ndarray):
        self.books = books

    def lookup(self, cls: int, idx: np.ndarray, escq: np.ndarray) -> np.ndarray:
        """indices (...) and escape scalars (...,4) → û (...,4): the codeword, or dequant(q) on escape."""
        book = self.books[cls]
        return np.where((idx == NC)[..., None], dequant(escq), book[np.minimum(idx, NC - 1)])

    def distortions(self, cls: int, u: np.ndarray) -> np.ndarray:
        """u (n,4) → (n,NC) squared distances to every codeword of class cls."""
        book = self.books[cls]
        return ((u ** 2).sum(-1, keepdims=True) - 2 * u @ book.T + (book ** 2).sum(-1)).clip(min=0)

    def requantise(self, cls: int, v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Nearest-neighbour index of reconstructed blocks v (n,4) (λ = 0; a codeword wins its ties):
        re-quantising lookup(indices) must give the indices back."""
        q = quant(v)
        d_esc = ((v - dequant(q)) ** 2).sum(-1)
        d = self.distortions(cls, v)
        idx = np.where(d_esc < d.min(-1), NC, d.argmin(-1))
        return idx, np.where((idx == NC)[..., None], q, 0)
