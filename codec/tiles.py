"""The indices of one tile ⇄ its payload bytes, in the decode order the entropy model defines.

Passes: stage 1 anchors, stage 1 non-anchors, then stages 2..L. Each pass reads its contexts from
integers decoded in earlier passes only (models.entropy), and integer frequency rows from the
frozen tables, so the decoder rebuilds exactly the tables the encoder used.
"""
import numpy as np
import torch

from ..models.entropy import anchor_mask, neighbour_context

from .coder import Decoder, Encoder


def _passes(L: int, G: int, h: int, w: int):
    """Yield (stage, (G,h,w) bool selection, anchors first?) in decode order."""
    anchors = np.broadcast_to(anchor_mask(h, w).numpy(), (G, h, w))
    yield 0, anchors, True
    yield 0, ~anchors, False
    everything = np.ones((G, h, w), dtype=bool)
    for s in range(1, L):
        yield s, everything, False


def _contexts(stage: int, anchors: bool, idx: np.ndarray, bins: torch.Tensor, buckets: int) -> np.ndarray:
    """(G,h,w) contexts of `stage` from the already-known indices idx (L,G,h,w); anchors have context 0."""
    if anchors:
        return np.zeros(idx.shape[1:], dtype=np.int64)
    if stage == 0:
        return neighbour_context(torch.from_numpy(idx[0])[None], bins, buckets)[0].numpy()
    return idx[stage - 1]


def _rows(freqs: np.ndarray, stage: int, ctx: np.ndarray, sel: np.ndarray) -> np.ndarray:
    """Row ids into freqs.reshape(-1, K) of every selected symbol: row (stage, group, context)."""
    _, G, Kc, _ = freqs.shape
    g = np.broadcast_to(np.arange(G).reshape(-1, 1, 1), ctx.shape)
    return ((stage * G + g[sel]) * Kc + ctx[sel]).astype(np.int64)


def _table(freqs: np.ndarray) -> np.ndarray:
    """(S,G,Kc,K) integer frequencies → (S·G·Kc, K) exact float64 rows, the coder's table."""
    return np.ascontiguousarray(freqs.reshape(-1, freqs.shape[-1]), dtype=np.float64)


def encode_tile(idx: np.ndarray, freqs: np.ndarray, bins: torch.Tensor, buckets: int) -> bytes:
    """idx (L,G,h,w) int64 in [0,K) → payload bytes."""
    enc, table = Encoder(), _table(freqs)
    for stage, sel, anchors in _passes(*idx.shape):
        ctx = _contexts(stage, anchors, idx, bins, buckets)
        enc.encode(idx[stage][sel], _rows(freqs, stage, ctx, sel), table)
    return enc.to_bytes()


def decode_tile(payload: bytes, shape: tuple, freqs: np.ndarray, bins: torch.Tensor, buckets: int) -> np.ndarray:
    """payload → idx of `shape` (L,G,h,w); raises CodecError on data left over."""
    idx = np.zeros(shape, dtype=np.int64)
    dec, table = Decoder(payload), _table(freqs)
    for stage, sel, anchors in _passes(*shape):
        ctx = _contexts(stage, anchors, idx, bins, buckets)
        idx[stage][sel] = dec.decode(_rows(freqs, stage, ctx, sel), table)
    dec.finish()
    return idx
