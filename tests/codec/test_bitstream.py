import dataclasses
import struct

import pytest

from ibc.codec.bitstream import MAGIC, Header, parse_chunks, parse_header, serialise
from ibc.codec.errors import CodecError

from conftest import older_file, split_chunks

HEADER = Header("shannon", 2, 640, 480, 7, 32, "demo-model", bytes(range(8)), 3)
PAYLOADS = [b"\x01\x02\x03\x04", b"", b"x" * 400]


def test_round_trip():
    data = serialise(HEADER, PAYLOADS)
    header, offset = parse_header(data)
    assert header == HEADER
    assert parse_chunks(data, offset, 3) == PAYLOADS
    assert data.startswith(MAGIC)


def test_wrong_magic():
    data = serialise(HEADER, PAYLOADS)
    with pytest.raises(CodecError, match="magic"):
        parse_header(b"PNG\x00" + data[4:])


@pytest.mark.parametrize("version", [1, 99])
def test_other_versions_are_refused_by_number(version):
    """Version 1 chunks carried a CRC of their payload alone; such files are refused, not misread."""
    data = bytearray(serialise(HEADER, PAYLOADS))
    data[4] = version
    with pytest.raises(CodecError, match=f"format version {version} "):
        parse_header(bytes(data))


@pytest.mark.parametrize("position", [6, 10, 20, 30])
def test_flipped_header_byte_fails_crc(position):
    data = bytearray(serialise(HEADER, PAYLOADS))
    data[position] ^= 0x10
    with pytest.raises(CodecError, match="CRC mismatch"):
        parse_header(bytes(data))


def test_flipped_payload_byte_marks_that_chunk_only():
    data = serialise(HEADER, PAYLOADS)
    _, offset = parse_header(data)
    broken = bytearray(data)
    broken[offset + 4 + 1] ^= 0xFF  # inside the first payload
    chunks = parse_chunks(bytes(broken), offset, 3)
    assert chunks[0] is None and chunks[1:] == PAYLOADS[1:]


def test_a_chunk_in_another_place_fails_its_crc():
    equal = [b"abcd", b"efgh", b"ijkl"]
    head, chunks = split_chunks(serialise(HEADER, equal))
    swapped = head + chunks[2] + chunks[1] + chunks[0]
    assert parse_chunks(swapped, len(head), 3) == [None, b"efgh", None]


def test_a_chunk_from_another_file_fails_its_crc():
    """Files alike in every header field but their payloads get different file ids, so their chunks
    do not fit each other."""
    other = [PAYLOADS[0], b"y" * 400, PAYLOADS[2]]
    head, chunks = split_chunks(serialise(HEADER, PAYLOADS))
    other_head, other_chunks = split_chunks(serialise(HEADER, other))
    assert parse_header(other_head)[0] == HEADER and other_head != head
    assert parse_chunks(head + chunks[0] + other_chunks[0] + chunks[2], len(head), 3) == \
        [PAYLOADS[0], None, PAYLOADS[2]]
    assert parse_chunks(head + chunks[0] + chunks[1] + other_chunks[2], len(head), 3) == [*PAYLOADS[:2], None]


@pytest.mark.parametrize("cut", [3, 12, 30, -1, -5])
def test_truncated_file(cut):
    data = serialise(HEADER, PAYLOADS)[:cut]
    with pytest.raises(CodecError, match="truncated|magic|CRC"):
        header, offset = parse_header(data)
        parse_chunks(data, offset, header.chunks)


def test_trailing_bytes_are_refused():
    data = serialise(HEADER, PAYLOADS) + b"\x00"
    header, offset = parse_header(data)
    with pytest.raises(CodecError, match="after the last chunk"):
        parse_chunks(data, offset, header.chunks)


def test_absurd_dimensions_refused_before_allocating():
    huge = Header("shannon", 1, 70000, 70000, 0, 32, "m", bytes(8), 0)
    data = serialise(huge, [])
    with pytest.raises(CodecError, match="dimensions"):
        parse_header(data)


def test_absurd_chunk_length_refused():
    data = bytearray(serialise(HEADER, PAYLOADS))
    _, offset = parse_header(bytes(data))
    data[offset:offset + 4] = struct.pack("<I", 1 << 31)
    with pytest.raises(CodecError, match="limit"):
        parse_chunks(bytes(data), offset, 3)


def test_version_4_carries_the_step_code_and_the_step_weights():
    wavelet = Header("shannon", 0, 640, 480, 0, 256, "v2-model", bytes(range(8)), 3, step_code=500,
                     step_weights=(150, 140, 130, 128, 120, 90))
    data = serialise(wavelet, PAYLOADS)
    assert data[4] == 4 and parse_header(data)[0] == wavelet
    assert parse_header(serialise(HEADER, PAYLOADS))[0].step_code == 0


def test_version_3_files_read_with_uniform_step_weights():
    wavelet = Header("shannon", 0, 640, 480, 0, 256, "v2-model", bytes(range(8)), 3, step_code=500)
    data = older_file(wavelet, PAYLOADS, 3)
    header, offset = parse_header(data)
    assert data[4] == 3 and header == wavelet and header.step_weights == (128,) * 6
    assert parse_chunks(data, offset, 3) == PAYLOADS


def test_version_2_files_still_read():
    data = older_file(HEADER, PAYLOADS, 2)
    header, offset = parse_header(data)
    assert header == HEADER and parse_chunks(data, offset, 3) == PAYLOADS


@pytest.mark.parametrize("weights", [(128,) * 5, (128,) * 7, (256,) + (128,) * 5])
def test_a_header_with_unwritable_step_weights_is_refused(weights):
    with pytest.raises(ValueError):
        serialise(Header("shannon", 0, 64, 64, 0, 256, "m", bytes(8), 0, step_code=300, step_weights=weights), [])


@pytest.mark.parametrize("level, step, mode", [(0, 0, "shannon"), (2, 300, "shannon"), (2, 300, "gc"), (0, 0, "gc")])
def test_exactly_one_of_level_and_step_code(level, step, mode):
    bad = Header(mode, level, 64, 64, 0, 256, "m", bytes(8), 0, step_code=step)
    with pytest.raises(CodecError, match="level and step code"):
        parse_header(serialise(bad, []))


def test_a_wavelet_gc_file_has_a_step_code_and_no_level():
    """gc-v2 files: mode gc on the wavelet bitstream (a step code, level 0)."""
    good = Header("gc", 0, 64, 64, 9, 256, "gc-v2", bytes(8), 0, step_code=300)
    assert parse_header(serialise(good, []))[0] == good


def test_version_5_names_the_post_filter_and_a_file_without_one_stays_version_4():
    wavelet = Header("shannon", 0, 640, 480, 0, 256, "v2-model", bytes(range(8)), 3, step_code=500, grey=True,
                     step_weights=(150, 140, 130, 128, 120, 90), filter="ms-ssim")
    data = serialise(wavelet, PAYLOADS)
    assert data[4] == 5 and data[7] == 0b011 and parse_header(data)[0] == wavelet
    plain = serialise(dataclasses.replace(wavelet, filter="psnr"), PAYLOADS)
    assert plain[4] == 4 and parse_header(plain)[0].filter == "psnr"
    with pytest.raises(ValueError):
        serialise(dataclasses.replace(wavelet, filter="ssim"), PAYLOADS)


@pytest.mark.parametrize("version, flags", [(4, 0b010), (5, 0b100), (5, 0b110), (5, 0b1000)])
def test_filter_bits_outside_version_5_or_its_filters_are_corrupt(version, flags):
    import zlib
    data = bytearray(serialise(Header("shannon", 0, 64, 64, 0, 256, "m", bytes(8), 1, step_code=300), [b"x"]))
    _, offset = parse_header(bytes(data))
    data[4], data[7] = version, flags
    data[offset - 4:offset] = struct.pack("<I", zlib.crc32(bytes(data[:offset - 4])))
    with pytest.raises(CodecError, match="unknown mode or flags"):
        parse_header(bytes(data))
