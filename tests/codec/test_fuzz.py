"""Hostile .ibc files: mutated, truncated, spliced, chunk-swapped, foreign-chunk and random bytes must
always be reported (CodecError), never crash, hang or decode silently to garbage. Below the CRCs, changed
payloads (re-sealed with valid CRCs, or handed to a tile's decoder directly) must decode or raise a
CodecError of the decoder's own, never another exception.

The normal suite runs 150 cases per test; `make fuzz` runs the `fuzz` profile (10,000 per test). Each
case runs under a real time limit (Hypothesis's deadline is only measured once a case has finished)."""
import dataclasses
import faulthandler
import os
import signal
import time
import tracemalloc
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ibc.codec.api import compress, decode, read_header
from ibc.codec.bitstream import serialise
from ibc.codec.errors import CodecError
from ibc.codec.step_code import COARSEST_CODE, FINEST_CODE
from ibc.codec.subband_context import tile_bands
from ibc.codec.subband_tiles import decode_tile

from conftest import natural_like, payloads, split_chunks

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("IBC_FUZZ_PROFILE", "default"))

CASE_SECONDS = 10  # each case decodes a file of a few tiles: milliseconds, so only a hang comes near this


class Hang(BaseException):
    """Not an Exception, so that no `except Exception` in the decoder can turn it into a CodecError."""


@contextmanager
def time_limit(seconds: float):
    """Fail the case if it runs past `seconds`. SIGALRM interrupts Python code; were the time spent in
    native code that never returns to Python, faulthandler prints every thread's stack and ends the
    process a few seconds later, so a hang always ends the run."""
    def stop(*_):
        raise Hang(f"a case ran past {seconds} s: the decoder hangs")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    faulthandler.dump_traceback_later(seconds + 5, exit=True)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        faulthandler.cancel_dump_traceback_later()
        signal.signal(signal.SIGALRM, previous)


# (original, pair) image sizes: 2 and 3 tiles of the tiny wavelet model (128 pixels)
SIZES = ((100, 200), (100, 300))


@pytest.fixture(scope="module")
def lm(tiny_wavelet):
    return tiny_wavelet


def shot(lm, size: tuple, seed: int) -> bytes:
    """A file of a generated image at q 50."""
    return compress(natural_like(*size, seed=seed), lm, quality=50)


@pytest.fixture(scope="module")
def original(lm):
    return shot(lm, SIZES[0], 11)


@pytest.fixture(scope="module")
def pair(lm):
    """Two files of one model, size and setting (3 tiles each, the last half as wide): headers that
    differ only in the file id, and chunks that would decode in each other's place."""
    return tuple(shot(lm, SIZES[1], s) for s in (12, 13))


def must_be_reported(data: bytes, lm, *valid: bytes) -> None:
    """`data` decodes only if it is one of the `valid` files; anything else is a CodecError, in time."""
    try:
        with time_limit(CASE_SECONDS):
            decoded = decode(data, lm)
    except CodecError:
        return
    assert data in valid, "a changed file decoded without any error"
    header = read_header(data)
    assert decoded.image.shape == (header.height, header.width, 3)


def test_the_time_limit_stops_a_hang():
    started = time.monotonic()
    with pytest.raises(Hang):
        with time_limit(0.2):
            time.sleep(5)
    assert time.monotonic() - started < 5


@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=8))
def test_flipped_bytes(lm, original, flips):
    data = bytearray(original)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    must_be_reported(bytes(data), lm, original)


@given(st.integers(0, 10 ** 6))
def test_truncated(lm, original, cut):
    must_be_reported(original[: cut % len(original)], lm, original)


@given(st.integers(0, 10 ** 6), st.binary(min_size=1, max_size=64))
def test_inserted_bytes(lm, original, pos, extra):
    pos %= len(original) + 1
    must_be_reported(original[:pos] + extra + original[pos:], lm, original)


@given(st.binary(max_size=4096))
def test_random_bytes(lm, original, data):
    must_be_reported(data, lm, original)


@given(st.binary(max_size=512))
def test_random_bytes_behind_a_valid_magic(lm, original, data):
    must_be_reported(original[:4] + data, lm, original)


CUTS = st.one_of(st.integers(0, 10 ** 6), st.integers(-4, -1))  # a byte position, or -1 - k: before chunk k


def cut_at(data: bytes, cut: int) -> int:
    if cut >= 0:
        return cut % (len(data) + 1)
    head, chunks = split_chunks(data)
    return len(head) + sum(map(len, chunks[:-1 - cut]))


@given(CUTS, CUTS)
def test_spliced_files(lm, pair, cut_a, cut_b):
    """The start of one file and the end of another, cut anywhere or between chunks."""
    a, b = pair
    must_be_reported(a[:cut_at(a, cut_a)] + b[cut_at(b, cut_b):], lm, a, b)


@given(st.permutations(range(3)))
def test_swapped_chunks(lm, pair, order):
    head, chunks = split_chunks(pair[0])
    must_be_reported(head + b"".join(chunks[k] for k in order), lm, pair[0])


@given(st.integers(0, 2), st.integers(0, 2))
def test_a_chunk_from_another_file(lm, pair, here, there):
    head, chunks = split_chunks(pair[0])
    chunks[here] = split_chunks(pair[1])[1][there]
    must_be_reported(head + b"".join(chunks), lm, pair[0])


@pytest.mark.parametrize("change", [dict(width=65_536, height=1_525), dict(width=1_525, height=65_536),
                                    dict(width=65_537), dict(step_code=0), dict(step_code=1),
                                    dict(step_code=FINEST_CODE - 1), dict(step_code=COARSEST_CODE + 1),
                                    dict(step_code=65_535)])
def test_a_wavelet_header_claiming_absurd_sizes_or_steps(tiny_wavelet, original, change):
    """Dimensions near or past the limits (1,525 × 65,536 is 100 megapixels: 6,144 tiles), or a step code
    no encoder writes (0; steps of 0.25 or 10^307), sealed with valid CRCs: refused before anything of the
    image's size is allocated."""
    header = dataclasses.replace(read_header(original), **change)
    data = serialise(header, payloads(original))
    tracemalloc.start()
    try:
        with pytest.raises(CodecError, match="corrupt|truncated"):
            decode(data, tiny_wavelet)
        assert tracemalloc.get_traced_memory()[1] < 4 << 20
    finally:
        tracemalloc.stop()


# -- below the CRCs ------------------------------------------------------------------------------------

def decodes_or_refuses(run) -> None:
    """`run()` on data that passed its CRCs returns or raises a CodecError, in time. The CodecError must be
    the decoder's own: one raised while another exception was being handled stands in for a crash
    (IndexError, OverflowError, MemoryError …) that a catch-all turned into an error message."""
    try:
        with time_limit(CASE_SECONDS):
            run()
    except CodecError as e:
        assert e.__context__ is None, f"the decoder crashed: {e.__context__!r}"


def flip(data: bytes, flips) -> bytes:
    data = bytearray(data)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    return bytes(data)


FLIPS = st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=8)


@given(st.integers(0, 2), FLIPS)
def test_resealed_flipped_payloads(lm, pair, k, flips):
    """A payload changed and sealed again with valid CRCs: the payload decoder meets it."""
    header, chunks = read_header(pair[0]), payloads(pair[0])
    chunks[k] = flip(chunks[k], flips)
    data = serialise(header, chunks)

    def run():
        assert decode(data, lm).image.shape == (header.height, header.width, 3)
    decodes_or_refuses(run)


@pytest.fixture(scope="module")
def wavelet_tiles(tiny_wavelet):
    """Every tile of a 3-tile wavelet file (the last one half as wide): its payload and its bands."""
    data = shot(tiny_wavelet, SIZES[1], 12)
    header = read_header(data)
    bands = [tile_bands(t[2], t[3]) for t in tiny_wavelet.model.tiles(header.height, header.width)]
    return list(zip(payloads(data), bands))


def tile_decodes_or_refuses(lm, payload: bytes, bands: list) -> None:
    priors, cmag = lm.model.priors(), lm.model.cmag.numpy()

    def run():
        t = decode_tile(payload, bands, priors, cmag)
        assert t.ll.shape == (3,) + bands[0].shape and len(t.idx) == len(bands) - 1
    decodes_or_refuses(run)


@given(st.integers(0, 2), FLIPS)
def test_wavelet_tile_flipped_bytes(tiny_wavelet, wavelet_tiles, k, flips):
    payload, bands = wavelet_tiles[k]
    tile_decodes_or_refuses(tiny_wavelet, flip(payload, flips), bands)


@given(st.integers(0, 2), st.integers(0, 10 ** 6), st.binary(max_size=64))
def test_wavelet_tile_cut_and_extended(tiny_wavelet, wavelet_tiles, k, cut, tail):
    """Cut at a word (the coder's unit), then random bytes appended."""
    payload, bands = wavelet_tiles[k]
    tile_decodes_or_refuses(tiny_wavelet, payload[:cut % (len(payload) + 1) // 4 * 4] + tail, bands)


@given(st.integers(0, 2), st.binary(max_size=4096))
def test_wavelet_tile_random_words(tiny_wavelet, wavelet_tiles, k, data):
    tile_decodes_or_refuses(tiny_wavelet, data[:len(data) // 4 * 4], wavelet_tiles[k][1])


@given(st.integers(0, 2), st.integers(0, 2))
def test_wavelet_tile_payload_of_another_tile(tiny_wavelet, wavelet_tiles, here, there):
    tile_decodes_or_refuses(tiny_wavelet, wavelet_tiles[there][0], wavelet_tiles[here][1])
