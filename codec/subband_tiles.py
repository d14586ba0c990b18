"""The indices of one wavelet tile ⇄ its payload bytes, in the decode order of codec.subband_context.

Both directions run the same walk over the tile's passes; a pass either writes its symbols (`TileWriter`,
which the encoder drives as it chooses them: codec.engine, one walk per tile) or reads them, and then
both sides add the same symbols to the same integer counts. Scalars (LL
residuals, escaped blocks) are a magnitude symbol 0..16 or 17 = escape, then for escapes an
Exp-Golomb exponent (0..MAX_EXP, flat row) and its bits, then signs, bits on a flat row. A tile ends
with a 16-bit mark: the range decoder reads foreign or truncated data without complaint, the mark then
fails (2 bytes per tile, against 2^-16 odds that a damaged payload decodes).
"""
import numpy as np

from .coder import Decoder, Encoder
from .errors import CodecError, CorruptData
from .subband_context import ESC, MAX_EXP, TileIndices, ll_from_residual, ll_residual, tile_bands, walk
from .subband_vq import NC

_BIT = np.ones((1, 2))
_EXP = np.ones((1, MAX_EXP + 1))
_MARK = (0xA5C3 >> np.arange(15, -1, -1)) & 1


class _Writer:
    def __init__(self):
        self.enc = Encoder()

    def code(self, symbols, rows, table):
        self.enc.encode(symbols, rows, table)
        return symbols


class _Reader:
    def __init__(self, payload: bytes):
        self.dec = Decoder(payload)

    def code(self, symbols, rows, table):
        return self.dec.decode(rows, table)


def _scalars(io, values, rows, counts, which: str) -> np.ndarray:
    """Signed integers (n,) (None when reading) with magnitude rows (n,) of counts[which]."""
    table, local = counts.rows(which, rows)
    m = io.code(None if values is None else np.minimum(np.abs(values), ESC), local, table)
    esc = np.flatnonzero(m == ESC)
    if esc.size:
        e1 = None if values is None else np.abs(values[esc]) - ESC + 1
        if e1 is not None and e1.max() >= 2 << MAX_EXP:
            raise CodecError("coefficient out of range (step too small)")
        exp = io.code(None if e1 is None else np.floor(np.log2(e1)).astype(np.int64), np.zeros(esc.size, np.int64), _EXP)
        owner = np.repeat(np.arange(esc.size), exp)
        shift = (np.concatenate([np.arange(k)[::-1] for k in exp]) if owner.size else np.zeros(0, np.int64))
        bits = io.code(None if e1 is None else (e1[owner] >> shift) & 1, np.zeros(owner.size, np.int64), _BIT)
        low = np.zeros(esc.size, np.int64)
        np.add.at(low, owner, bits.astype(np.int64) << shift)
        m = m.copy()
        m[esc] = ESC - 1 + (np.int64(1) << exp) + low
    nz = np.flatnonzero(m)
    neg = io.code(None if values is None else (values[nz] < 0).astype(np.int64), np.zeros(nz.size, np.int64), _BIT)
    out = m.astype(np.int64)
    out[nz[neg == 1]] *= -1
    return out


class TileWriter:
    """The writing side of one tile's walk: each part is coded as soon as its symbols are known, under the
    counts the walk holds at that moment (the encoder's RD choice sees the same counts), so an encoder
    chooses and writes in one pass."""

    def __init__(self):
        self.io = _Writer()

    def ll(self, ll: np.ndarray, counts) -> None:
        """The LL indices (C,h,w), first in a tile, as plane-prediction residuals."""
        rows = np.repeat(np.arange(len(ll)), ll[0].size)
        r = _scalars(self.io, ll_residual(ll).ravel(), rows, counts, "ll")
        counts.add("ll", rows, np.minimum(np.abs(r), ESC))

    def part(self, idx: np.ndarray, escq: np.ndarray, rows: np.ndarray, counts) -> None:
        """One pass's vector indices (n,) and escaped blocks (n,4), before the walk adds them to the counts."""
        table, local = counts.rows("vec", rows)
        self.io.code(idx, local, table)
        esc = idx == NC
        if esc.any():
            _scalars(self.io, escq[esc].ravel(), np.repeat(rows[esc], 4), counts, "mag")

    def payload(self) -> bytes:
        self.io.code(_MARK, np.zeros(_MARK.size, np.int64), _BIT)
        return self.io.enc.to_bytes()


def _read(io, bands, priors, cmag, context: int, channels: int = 3) -> TileIndices:
    # narrow integers (indices ≤ NC, escapes < 2^26): a 24-MP image's indices in 0.3 GB, not 0.7
    t = TileIndices(np.zeros((channels,) + bands[0].shape, np.int64),
                    [np.zeros((channels, b.shape[0] // 2, b.shape[1] // 2), np.int16) for b in bands[1:]],
                    [np.zeros((channels, b.shape[0] // 2, b.shape[1] // 2, 4), np.int32) for b in bands[1:]])

    def visit_ll(counts):
        rows = np.repeat(np.arange(channels), t.ll[0].size)
        r = _scalars(io, None, rows, counts, "ll")
        counts.add("ll", rows, np.minimum(np.abs(r), ESC))
        t.ll[:] = ll_from_residual(r.reshape(t.ll.shape))

    def visit_pass(b, ch, part, rows, counts):
        table, local = counts.rows("vec", rows)
        idx = io.code(None, local, table)
        esc = idx == NC
        escq = np.zeros((idx.size, 4), np.int64)
        if esc.any():
            escq[esc] = _scalars(io, None, np.repeat(rows[esc], 4), counts, "mag").reshape(-1, 4)
        t.idx[b - 1][ch][part], t.escq[b - 1][ch][part] = idx, escq
        return idx, escq

    walk(bands, priors, cmag, visit_ll, visit_pass, context, channels)
    mark = io.code(None, np.zeros(_MARK.size, np.int64), _BIT)
    if not np.array_equal(mark, _MARK):
        raise CorruptData("corrupt payload (end mark missing)")
    return t


def encode_tile(t: TileIndices, bands: list, priors: dict, cmag: np.ndarray, context: int = 1) -> bytes:
    """TileIndices of a tile with bands `bands` (codec.subband_context.tile_bands) → payload bytes, under
    the model's context version. A greyscale tile's (one channel) codes the luma only."""
    writer = TileWriter()

    def visit_pass(b, ch, part, rows, counts):
        idx, escq = t.idx[b - 1][ch][part], t.escq[b - 1][ch][part]
        writer.part(idx, escq, rows, counts)
        return idx, escq

    walk(bands, priors, cmag, lambda counts: writer.ll(t.ll, counts), visit_pass, context, len(t.ll))
    return writer.payload()


def decode_tile(payload: bytes, bands: list, priors: dict, cmag: np.ndarray, context: int = 1,
                channels: int = 3) -> TileIndices:
    """payload → TileIndices of `channels` (1: greyscale); raises CodecError on a payload that is not
    exactly one tile's symbols."""
    io = _Reader(payload)
    try:
        t = _read(io, bands, priors, cmag, context, channels)
    except CodecError:
        raise
    except Exception as e:  # the range decoder on foreign data
        raise CorruptData(f"corrupt payload ({type(e).__name__})") from None
    io.dec.finish()
    return t


def encode_image(model, tiles: list, H: int, W: int) -> list[bytes]:
    """One payload per tile of model.tiles(H, W)."""
    priors, cmag = model.priors(), np.asarray(model.cmag)
    return [encode_tile(t, tile_bands(tl[2], tl[3]), priors, cmag, model.context) for t, tl in zip(tiles, model.tiles(H, W))]


def decode_image(model, payloads: list, H: int, W: int) -> list:
    layout = model.tiles(H, W)
    if len(payloads) != len(layout):
        raise CodecError(f"expected {len(layout)} tiles, got {len(payloads)}")
    priors, cmag = model.priors(), np.asarray(model.cmag)
    return [decode_tile(p, tile_bands(tl[2], tl[3]), priors, cmag, model.context) for p, tl in zip(payloads, layout)]
