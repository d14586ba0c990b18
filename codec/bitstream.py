"""The .ibc container: a fixed header, then length-prefixed, CRC-checked chunks (one per tile).

    header  magic "IBC\\x1a" | version u8 | mode u8 | level u8 | flags u8 | width u32 | height u32
            | seed u32 | tile u16 | step code u16 (version 3 on) | step weights 6 × u8 (version 4 on)
            | model-name length u8 + UTF-8 name
            | weights hash 8 bytes | chunk count u32 | file id 8 bytes | CRC-32 of all the above u32
    chunk i payload length u32 | payload | CRC-32 of (header CRC | i u32 | payload) u32

A file has level 0 and its quantiser step's code (1..65535; decoders take the codes an encoder writes:
codec.step_code), in mode shannon or, marked for a generative decoder (gc-v4), gc. The block models,
retired in 0.2.0, wrote a quality level (1..) and step code 0 instead; version 3 added the step code, and
version 2 files (all of block models, no step code) still read, as step code 0: their headers parse (`ibc
info`), and decoding refuses them naming the last ibc that can (codec.retired). All integers
little-endian. The parser checks every field against limits before it allocates and refuses trailing
bytes.

Flags: bit 0 marks a greyscale image, whose tiles code one channel (the luma) instead of three; bits 1–2
(version 5) name the post-filter; the other bits must be 0. A colour file's flags are 0, as they were before the bit existed.

A chunk's CRC binds it to its place and its file: a chunk moved to another place, or taken from another
file, fails its CRC like a damaged one. The file id (the first 8 bytes of the sha256 of the chunks)
tells apart files whose other header fields agree (same model, size, level and seed), and the header
CRC covers it.

Version 4 adds the step weights (codec.step_code): one u8 code per level (LL, level 5 … level 1), the
band's step being the file's step over its weight. The encoder chooses them (`--tune`); files of earlier
versions read with uniform weights, which is what they were coded with.

Version 5 adds flags bits 1–2: the post-filter the decoder renders through, by the tune it was trained for
(0: the model's own, trained for squared error; 1: its ms-ssim filter, codec.postfilter). The encoder
chooses it. A file that uses none of version 5 is written as version 4 (the lowest version that holds
it), so ibc releases that read version 4 still decode it.
"""
import hashlib
import struct
import zlib
from dataclasses import dataclass

from .errors import CodecError, CorruptData
from .step_code import N_WEIGHTS, UNIFORM

MAGIC = b"IBC\x1a"
VERSION = 5  # 2: chunk CRCs cover the header CRC and the chunk index; 3: a u16 step code after the tile;
             # 4: the step weights after the step code; 5: the post-filter in flags bits 1-2
READS = (2, 3, 4, 5)
MODES = ("shannon", "gc")
MAX_SIDE = 1 << 16
MAX_PIXELS = 100_000_000  # also the largest image `ibc compress` reads: decoding stays within memory
MAX_CHUNK = 1 << 28
_FIXED = struct.Struct("<4sBBBBIIIH")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
GREY = 1  # flags bit 0: one channel (greyscale)
FILTER_SHIFT, FILTERS = 1, ("psnr", "ms-ssim")  # flags bits 1-2 (version 5): the post-filter, by its tune


@dataclass(frozen=True)
class Header:
    mode: str
    level: int
    width: int
    height: int
    seed: int
    tile: int            # tile side in pixels (a retired block model's: in latent positions)
    model: str           # the model's name, for messages
    weights_hash: bytes  # first 8 bytes of the weights file's sha256: which model decodes this
    chunks: int
    step_code: int = 0   # the quantiser step's code (1..65535, codec.step_code); a retired block model's files: 0
    grey: bool = False   # one channel (the luma) coded: a greyscale image (flags bit 0)
    step_weights: tuple = UNIFORM  # the bands' step weight codes (codec.step_code); before version 4: uniform
    filter: str = "psnr"  # the post-filter the decoder renders through, by its tune (FILTERS); before version 5: psnr

    @property
    def version(self) -> int:
        """The lowest format version that holds this header: what `serialise` writes."""
        return VERSION if self.filter != "psnr" else 4


def _crc(data: bytes) -> bytes:
    return _U32.pack(zlib.crc32(data))


def _chunk_crc(header_crc: bytes, i: int, payload: bytes) -> bytes:
    return _crc(header_crc + _U32.pack(i) + payload)


def serialise(header: Header, payloads: list[bytes]) -> bytes:
    name = header.model.encode("utf-8")
    if (len(name) > 255 or len(header.weights_hash) != 8 or len(payloads) != header.chunks
            or len(header.step_weights) != N_WEIGHTS or not all(0 <= c <= 255 for c in header.step_weights)
            or header.filter not in FILTERS):
        raise ValueError("invalid header")
    flags = GREY * header.grey | FILTERS.index(header.filter) << FILTER_SHIFT
    head = (_FIXED.pack(MAGIC, header.version, MODES.index(header.mode), header.level, flags, header.width,
                        header.height, header.seed, header.tile) + _U16.pack(header.step_code) + bytes(header.step_weights)
            + bytes([len(name)]) + name + header.weights_hash + _U32.pack(header.chunks))
    head += hashlib.sha256(b"".join(_U32.pack(len(p)) + p for p in payloads)).digest()[:8]  # the file id
    head_crc = _crc(head)
    parts = [head, head_crc]
    for i, p in enumerate(payloads):
        parts += [_U32.pack(len(p)), p, _chunk_crc(head_crc, i, p)]
    return b"".join(parts)


class _Reader:
    def __init__(self, data: bytes):
        self.data, self.pos = data, 0

    def take(self, n: int, what: str) -> bytes:
        if n > len(self.data) - self.pos:
            raise CorruptData(f"truncated file (ends inside the {what})")
        out = self.data[self.pos:self.pos + n]
        self.pos += n
        return out


def parse_header(data: bytes) -> tuple[Header, int]:
    """→ (header, offset of the first chunk). Checks magic, version, CRC and every field's range."""
    r = _Reader(data)
    magic = r.take(4, "header")
    if magic != MAGIC:
        raise CorruptData("not an .ibc file (wrong magic)")
    r.pos = 0
    magic, version, mode, level, flags, width, height, seed, tile = _FIXED.unpack(r.take(_FIXED.size, "header"))
    if version not in READS:
        raise CodecError(f"unsupported .ibc format version {version} (this ibc reads versions "
                         f"{', '.join(map(str, READS))})")
    (step_code,) = _U16.unpack(r.take(2, "header")) if version >= 3 else (0,)
    step_weights = tuple(r.take(N_WEIGHTS, "header")) if version >= 4 else UNIFORM
    name_len = r.take(1, "header")[0]
    name_bytes = r.take(name_len, "header")
    weights_hash = r.take(8, "header")
    (chunks,) = _U32.unpack(r.take(4, "header"))
    r.take(8, "header")  # the file id: read only through the header CRC, which the chunk CRCs cover
    if r.take(4, "header") != _crc(data[:r.pos - 4]):
        raise CorruptData("corrupt header (CRC mismatch)")
    known = GREY | (0b11 << FILTER_SHIFT if version >= 5 else 0)
    if mode >= len(MODES) or flags & ~known or flags >> FILTER_SHIFT >= len(FILTERS):
        raise CorruptData("corrupt header (unknown mode or flags)")
    if not (1 <= width <= MAX_SIDE and 1 <= height <= MAX_SIDE) or width * height > MAX_PIXELS:
        raise CorruptData(f"corrupt header (absurd dimensions {width}×{height})")
    if tile < 1 or (level == 0) == (step_code == 0):
        raise CorruptData("corrupt header (tile zero, or not exactly one of level and step code set)")
    try:
        name = name_bytes.decode("utf-8")
    except UnicodeDecodeError:
        raise CorruptData("corrupt header (model name is not UTF-8)") from None
    header = Header(MODES[mode], level, width, height, seed, tile, name, weights_hash, chunks, step_code,
                    bool(flags & GREY), step_weights, FILTERS[flags >> FILTER_SHIFT])
    return header, r.pos


def parse_chunks(data: bytes, offset: int, expected: int, salvage: bool = False) -> list[bytes | None]:
    """The chunk payloads; `expected` comes from the header's dimensions (checked before reading), `offset`
    from `parse_header` (the header's CRC ends there).

    A chunk whose CRC fails (damaged, moved or from another file) is returned as None so that callers can
    report it (or salvage the rest). Data that ends early is an error, or with `salvage` gives the chunks
    it holds whole and no more (a list shorter than `expected`): a file cut short keeps its first tiles.
    """
    r = _Reader(data)
    r.pos = offset
    header_crc = data[offset - 4:offset]
    payloads = []
    for i in range(expected):
        if salvage and len(data) - r.pos < 4:
            return payloads
        (n,) = _U32.unpack(r.take(4, f"length of chunk {i}"))
        if n > MAX_CHUNK:
            raise CorruptData(f"corrupt chunk {i} (length {n} is above the limit)")
        if salvage and len(data) - r.pos < n + 4:
            return payloads
        payload = r.take(n, f"chunk {i}")
        crc = r.take(4, f"CRC of chunk {i}")
        payloads.append(payload if crc == _chunk_crc(header_crc, i, payload) else None)
    if r.pos != len(data):
        raise CorruptData(f"corrupt file ({len(data) - r.pos} bytes after the last chunk)")
    return payloads
