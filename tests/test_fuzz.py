"""Hostile .ibc files: mutated, truncated, spliced and random bytes must always be reported (CodecError),
never crash, hang or decode silently to garbage.

The normal suite runs 150 cases per test; `make fuzz` runs the `fuzz` profile (10,000 per test)."""
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from ibc.codec.api import compress, decode
from ibc.codec.errors import CodecError

from conftest import natural_like

settings.register_profile("default", max_examples=150, deadline=2000,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.register_profile("fuzz", max_examples=10_000, deadline=2000,
                          suppress_health_check=[HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("IBC_FUZZ_PROFILE", "default"))


@pytest.fixture(scope="module")
def original(tiny):
    return compress(natural_like(40, 300, seed=11), tiny, level=2)  # 2 tiles


def must_be_reported(data: bytes, original: bytes, lm) -> None:
    try:
        decoded = decode(data, lm)
    except CodecError:
        return
    assert data == original, "a changed file decoded without any error"
    assert decoded.image.shape == (40, 300, 3)


@given(st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(1, 255)), min_size=1, max_size=8))
def test_flipped_bytes(tiny, original, flips):
    data = bytearray(original)
    for pos, xor in flips:
        data[pos % len(data)] ^= xor
    must_be_reported(bytes(data), original, tiny)


@given(st.integers(0, 10 ** 6))
def test_truncated(tiny, original, cut):
    must_be_reported(original[: cut % len(original)], original, tiny)


@given(st.integers(0, 10 ** 6), st.binary(min_size=1, max_size=64))
def test_inserted_bytes(tiny, original, pos, extra):
    pos %= len(original) + 1
    must_be_reported(original[:pos] + extra + original[pos:], original, tiny)


@given(st.binary(max_size=4096))
def test_random_bytes(tiny, original, data):
    must_be_reported(data, original, tiny)


@given(st.binary(max_size=512))
def test_random_bytes_behind_a_valid_magic(tiny, original, data):
    must_be_reported(original[:4] + data, original, tiny)
