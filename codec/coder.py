"""Symbols ⇄ bytes with constriction's range coder; the only module that imports constriction.

Every probability comes from an integer frequency table, so the coder sees the same numbers on every
machine. `perfect=False` is passed explicitly (constriction 0.5 still defaults to True).
"""
import constriction
import numpy as np

from .errors import CodecError

_FAMILY = constriction.stream.model.Categorical(perfect=False)
_CHUNK = 1 << 15  # symbols per call: bounds the (n,K) float64 probability array


def _probabilities(freqs: np.ndarray) -> np.ndarray:
    """constriction takes float64 rows; integer frequencies convert exactly."""
    return np.ascontiguousarray(freqs, dtype=np.float64)


class Encoder:
    """Accumulates symbols, each with its own row of integer frequencies."""

    def __init__(self):
        self._coder = constriction.stream.queue.RangeEncoder()

    def encode(self, symbols: np.ndarray, freqs: np.ndarray) -> None:
        """symbols (n,) int in [0,K); freqs (n,K) positive integers (one table per symbol)."""
        symbols = np.asarray(symbols)
        if symbols.ndim != 1 or freqs.shape != (symbols.size, freqs.shape[-1]):
            raise ValueError("symbols must be (n,) and freqs (n,K)")
        if symbols.size and (symbols.min() < 0 or symbols.max() >= freqs.shape[1]):
            raise ValueError("symbol out of range")
        for i in range(0, symbols.size, _CHUNK):
            self._coder.encode(symbols[i:i + _CHUNK].astype(np.int32), _FAMILY,
                               _probabilities(freqs[i:i + _CHUNK]))

    def to_bytes(self) -> bytes:
        """The payload: 32-bit words, little-endian."""
        return self._coder.get_compressed().astype("<u4").tobytes()


class Decoder:
    """Decodes exactly the symbols the caller asks for; `finish()` treats leftover data as corruption."""

    def __init__(self, payload: bytes):
        if len(payload) % 4:
            raise CodecError("corrupt payload (length is not a whole number of words)")
        words = np.frombuffer(payload, dtype="<u4").astype(np.uint32)
        self._coder = constriction.stream.queue.RangeDecoder(words)

    def decode(self, freqs: np.ndarray) -> np.ndarray:
        """freqs (n,K) → symbols (n,) int64."""
        out = [self._coder.decode(_FAMILY, _probabilities(freqs[i:i + _CHUNK]))
               for i in range(0, freqs.shape[0], _CHUNK)]
        return np.concatenate(out).astype(np.int64) if out else np.zeros(0, np.int64)

    def finish(self) -> None:
        if not self._coder.maybe_exhausted():
            raise CodecError("corrupt payload (data left over after the last symbol)")
