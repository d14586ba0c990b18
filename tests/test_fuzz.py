"""Hostile .ibc files: mutated, truncated, spliced, chunk-swapped, foreign-chunk and random bytes must
always be reported (CodecError), never crash, hang or decode silently to garbage.

The normal suite runs 150 cases per test; `make fuzz` runs the `fuzz` profile (10,000 per test). Each
case runs under a real time limit (Hypothesis's deadline is only measured once a case has finished)."""
import faulthandler
import os
import signal
import time
from contextlib import contextmanager

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ibc.codec.api import compress, decode, read_header
from ibc.codec.errors import CodecError

from conftest import natural_like, split_chunks

settings.register_profile("default", max_examples=150, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=10_000, deadline=None,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("IBC_FUZZ_PROFILE", "default"))

CASE_SECONDS = 10  # each case decodes a file of a few tiles: milliseconds, so only a hang comes near this


class Hang(AssertionError):
    pass


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


@pytest.fixture(scope="module")
def original(tiny):
    return compress(natural_like(40, 300, seed=11), tiny, level=2)  # 2 tiles


@pytest.fixture(scope="module")
def pair(tiny):
    """Two files of one model, size and level (3 tiles of 5×32 latent positions each): headers that differ
    only in the file id, and chunks of the same shape that would decode in each other's place."""
    return tuple(compress(natural_like(40, 768, seed=s), tiny, level=2) for s in (12, 13))


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
def test_flipped_bytes(tiny, original, flips):
    data = bytearray(original)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    must_be_reported(bytes(data), tiny, original)


@given(st.integers(0, 10 ** 6))
def test_truncated(tiny, original, cut):
    must_be_reported(original[: cut % len(original)], tiny, original)


@given(st.integers(0, 10 ** 6), st.binary(min_size=1, max_size=64))
def test_inserted_bytes(tiny, original, pos, extra):
    pos %= len(original) + 1
    must_be_reported(original[:pos] + extra + original[pos:], tiny, original)


@given(st.binary(max_size=4096))
def test_random_bytes(tiny, original, data):
    must_be_reported(data, tiny, original)


@given(st.binary(max_size=512))
def test_random_bytes_behind_a_valid_magic(tiny, original, data):
    must_be_reported(original[:4] + data, tiny, original)


CUTS = st.one_of(st.integers(0, 10 ** 6), st.integers(-4, -1))  # a byte position, or -1 - k: before chunk k


def cut_at(data: bytes, cut: int) -> int:
    if cut >= 0:
        return cut % (len(data) + 1)
    head, chunks = split_chunks(data)
    return len(head) + sum(map(len, chunks[:-1 - cut]))


@given(CUTS, CUTS)
def test_spliced_files(tiny, pair, cut_a, cut_b):
    """The start of one file and the end of another, cut anywhere or between chunks."""
    a, b = pair
    must_be_reported(a[:cut_at(a, cut_a)] + b[cut_at(b, cut_b):], tiny, a, b)


@given(st.permutations(range(3)))
def test_swapped_chunks(tiny, pair, order):
    head, chunks = split_chunks(pair[0])
    must_be_reported(head + b"".join(chunks[k] for k in order), tiny, pair[0])


@given(st.integers(0, 2), st.integers(0, 2))
def test_a_chunk_from_another_file(tiny, pair, here, there):
    head, chunks = split_chunks(pair[0])
    chunks[here] = split_chunks(pair[1])[1][there]
    must_be_reported(head + b"".join(chunks), tiny, pair[0])
