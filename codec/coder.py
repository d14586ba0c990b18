"""Symbols ⇄ bytes with constriction's range coder; the only module that imports constriction.

Every probability comes from a row of an integer frequency table (held as exact float64), so the coder
sees the same numbers on every machine. `perfect=False` is passed explicitly (constriction 0.5 still
defaults to True). Symbols that share a row are coded together with one model, in the order of a stable
sort by row, which the decoder reproduces from the same row ids: one model per row, not per symbol.
"""
import constriction
import numpy as np

from .errors import CorruptData


def _runs(rows: np.ndarray):
    """Stable order of the symbols by row, and (row, start, count) of each run of equal rows."""
    order = np.argsort(rows, kind="stable")
    if rows.size == 0:
        return order, []
    counts = np.bincount(rows)  # rows are ids into a table: a short range
    used = np.flatnonzero(counts)
    ends = np.cumsum(counts)[used]
    return order, zip(used.tolist(), (ends - counts[used]).tolist(), counts[used].tolist())


def _model(table: np.ndarray, row: int):
    return constriction.stream.model.Categorical(table[row], perfect=False)


def _check(rows: np.ndarray, table: np.ndarray) -> None:
    if rows.ndim != 1 or table.ndim != 2 or table.dtype != np.float64:
        raise ValueError("rows must be (n,) and table (R,K) float64")
    if rows.size and (rows.min() < 0 or rows.max() >= table.shape[0]):
        raise ValueError("row id out of range")


class Encoder:
    """Accumulates symbols, each coded with the frequencies of its own table row."""

    def __init__(self):
        self._coder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, rows: np.ndarray, table: np.ndarray) -> None:
        """symbols (n,) int in [0,K); rows (n,) int row ids into table (R,K) of positive frequencies."""
        symbols, rows = np.asarray(symbols), np.asarray(rows)
        _check(rows, table)
        if symbols.shape != rows.shape:
            raise ValueError("symbols and rows must have the same shape")
        if symbols.size and (symbols.min() < 0 or symbols.max() >= table.shape[1]):
            raise ValueError("symbol out of range")
        order, runs = _runs(rows)
        ordered = symbols[order].astype(np.int32)
        for row, start, count in runs:
            self._coder.encode(ordered[start:start + count], _model(table, row))

    def to_bytes(self) -> bytes:
        """The payload: 32-bit words, little-endian."""
        return self._coder.get_compressed().astype("<u4").tobytes()


class Decoder:
    """Decodes exactly the symbols the caller asks for; `finish()` treats leftover data as corruption."""

    def __init__(self, payload: bytes):
        if len(payload) % 4:
            raise CorruptData("corrupt payload (length is not a whole number of words)")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._coder = constriction.stream.queue.RangeDecoder(words)

    def decode(self, rows: np.ndarray, table: np.ndarray) -> np.ndarray:
        """rows (n,) row ids into table (R,K) → symbols (n,) int64."""
        rows = np.asarray(rows)
        _check(rows, table)
        out = np.empty(rows.size, dtype=np.int64)
        order, runs = _runs(rows)
        try:
            for row, start, count in runs:
                out[order[start:start + count]] = self._coder.decode(_model(table, row), count)
            return out
        except AssertionError:  # constriction's word for data that no symbols of these models encode to
            pass
        raise CorruptData("corrupt payload (not decodable with the model's tables)")  # chains no exception

    def finish(self) -> None:
        if not self._coder.maybe_exhausted():
            raise CorruptData("corrupt payload (data left over after the last symbol)")
