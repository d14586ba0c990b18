import numpy as np
import pytest

from ibc.codec.coder import Decoder, Encoder
from ibc.codec.errors import CodecError


def random_stream(n, K, seed=0):
    rng = np.random.default_rng(seed)
    freqs = rng.integers(1, 1000, size=(n, K))
    symbols = np.array([rng.choice(K, p=f / f.sum()) for f in freqs])
    return symbols, freqs


@pytest.mark.parametrize("n", [0, 1, 17, 40000])
def test_symbols_round_trip_exactly(n):
    symbols, freqs = random_stream(n, 8)
    enc = Encoder()
    enc.encode(symbols, freqs)
    dec = Decoder(enc.to_bytes())
    assert np.array_equal(dec.decode(freqs), symbols)
    dec.finish()


def test_skewed_tables_cost_fewer_bits_than_uniform():
    n, K = 5000, 16
    symbols = np.zeros(n, dtype=np.int64)
    skewed = np.ones((n, K)); skewed[:, 0] = 10000
    uniform = np.ones((n, K))
    sizes = []
    for f in (skewed, uniform):
        enc = Encoder()
        enc.encode(symbols, f)
        sizes.append(len(enc.to_bytes()))
    assert sizes[0] * 10 < sizes[1]


def test_leftover_data_is_corruption():
    symbols, freqs = random_stream(100, 8)
    enc = Encoder()
    enc.encode(symbols, freqs)
    dec = Decoder(enc.to_bytes())
    dec.decode(freqs[:50])
    with pytest.raises(CodecError):
        dec.finish()


def test_out_of_range_symbol_is_refused():
    with pytest.raises(ValueError):
        Encoder().encode(np.array([8]), np.ones((1, 8)))


def test_payload_must_be_whole_words():
    with pytest.raises(CodecError):
        Decoder(b"abc")
