import numpy as np
import pytest

from ibc.codec.coder import Decoder, Encoder
from ibc.codec.errors import CodecError


def random_stream(n, K, R=5, seed=0):
    """n symbols drawn from R random frequency rows; each symbol names its row."""
    rng = np.random.default_rng(seed)
    table = rng.integers(1, 1000, size=(R, K)).astype(np.float64)
    rows = rng.integers(0, R, size=n)
    symbols = np.array([rng.choice(K, p=table[r] / table[r].sum()) for r in rows], dtype=np.int64)
    return symbols, rows, table


@pytest.mark.parametrize("n", [0, 1, 17, 40000])
def test_symbols_round_trip_exactly(n):
    symbols, rows, table = random_stream(n, 8)
    enc = Encoder()
    enc.encode(symbols, rows, table)
    dec = Decoder(enc.to_bytes())
    assert np.array_equal(dec.decode(rows, table), symbols)
    dec.finish()


def test_several_calls_decode_in_the_same_order():
    parts = [random_stream(n, 6, seed=n) for n in (5, 300, 1)]
    enc = Encoder()
    for symbols, rows, table in parts:
        enc.encode(symbols, rows, table)
    dec = Decoder(enc.to_bytes())
    for symbols, rows, table in parts:
        assert np.array_equal(dec.decode(rows, table), symbols)
    dec.finish()


def test_skewed_tables_cost_fewer_bits_than_uniform():
    n, K = 5000, 16
    symbols, rows = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    skewed = np.ones((1, K)); skewed[0, 0] = 10000
    sizes = []
    for table in (skewed, np.ones((1, K))):
        enc = Encoder()
        enc.encode(symbols, rows, table)
        sizes.append(len(enc.to_bytes()))
    assert sizes[0] * 10 < sizes[1]


def test_leftover_data_is_corruption():
    symbols, rows, table = random_stream(100, 8)
    enc = Encoder()
    enc.encode(symbols, rows, table)
    dec = Decoder(enc.to_bytes())
    dec.decode(rows[:50], table)
    with pytest.raises(CodecError):
        dec.finish()


@pytest.mark.parametrize("symbols,rows", [([8], [0]), ([0], [3]), ([0, 1], [0])])
def test_bad_arguments_are_refused(symbols, rows):
    with pytest.raises(ValueError):
        Encoder().encode(np.array(symbols), np.array(rows), np.ones((2, 8)))


def test_payload_must_be_whole_words():
    with pytest.raises(CodecError):
        Decoder(b"abc")
