"""Greyscale stays grey: a greyscale image is coded as one channel (its luma), flagged in the header, and
decodes to R = G = B (a mode-L PNG from `ibc decompress`), in fewer bytes than the same pixels as RGB."""
import json
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ibc.codec import wavelet_api
from ibc.codec.api import compress, decompress, read_header
from ibc.codec.bitstream import Header, parse_header, serialise
from ibc.codec.errors import CodecError
from ibc.codec.metrics import psnr
from ibc.codec.weights import load_model

from conftest import natural_like, run


def grey_photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h,w) uint8: smooth gradients, an edge, a patch of texture and mild noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    g = 0.45 + 0.25 * np.sin(5 * xx + 2 * yy) + 0.15 * (yy > 0.45) + 0.1 * np.cos(40 * xx) * (xx > 0.6)
    g += rng.normal(0, 0.015, (h, w))
    return (np.clip(g, 0, 1) * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def lm():
    return load_model()


def rgb_of(g: np.ndarray) -> np.ndarray:
    return np.repeat(g[..., None], 3, 2)


@pytest.mark.parametrize("shape", [(192, 256), (150, 230)])  # the second is not a multiple of 64
def test_cli_round_trip_gives_a_mode_L_png_and_info_says_so(tmp_path, capsys, shape):
    g = grey_photo(*shape)
    src, ibc, out = tmp_path / "g.png", tmp_path / "g.ibc", tmp_path / "back.png"
    Image.fromarray(g).save(src)
    assert run("compress", src, "-o", ibc, "--quiet") == 0
    assert run("decompress", ibc, "-o", out, "--quiet") == 0
    back = Image.open(out)
    assert back.mode == "L" and back.size == (shape[1], shape[0])
    assert psnr(rgb_of(g), rgb_of(np.asarray(back))) > 30
    capsys.readouterr()
    assert run("info", ibc, "--json") == 0
    info = json.loads(capsys.readouterr().out)
    assert info["channels"] == 1 and info["grey"] is True
    assert run("info", ibc) == 0
    assert "\nchannels      1 (greyscale)\n" in capsys.readouterr().out


def test_grey_costs_fewer_bytes_than_the_same_pixels_as_rgb(lm, monkeypatch):
    """The comparison is the same pixels with only the detection turned off: the RGB path of before."""
    rgb = rgb_of(grey_photo(192, 256))
    for q in (25, 50):
        grey = compress(rgb, lm, quality=q)
        with monkeypatch.context() as m:
            m.setattr(wavelet_api, "is_grey", lambda x: False)
            colour = compress(rgb, lm, quality=q)
        assert read_header(grey).grey and not read_header(colour).grey
        assert len(grey) < len(colour)
        back = decompress(grey, lm)
        assert psnr(rgb, back) >= psnr(rgb, decompress(colour, lm)) - 0.05  # the luma is coded the same


def test_decodes_exactly_grey_by_every_route(lm):
    rgb = rgb_of(grey_photo(150, 230, seed=1))
    data = compress(rgb, lm)
    for kwargs in ({}, {"postfilter": False}, {"realism": 1.0, "seed": 3}):
        x = decompress(data, lm, **kwargs)
        assert x.shape == rgb.shape and (x == x[..., :1]).all(), kwargs


@pytest.mark.parametrize("mode", ["L", "LA", "I;16", "I", "RGB"])
def test_greyscale_inputs_are_detected(lm, mode):
    g = grey_photo(64, 96)
    im = {"L": lambda: Image.fromarray(g),
          "LA": lambda: Image.fromarray(np.dstack([g, np.full_like(g, 255)]), "LA"),
          "I;16": lambda: Image.fromarray(g.astype(np.uint16) * 257),
          "I": lambda: Image.fromarray(g.astype(np.int32) * 257).convert("I"),
          "RGB": lambda: Image.fromarray(rgb_of(g))}[mode]()
    assert im.mode == mode
    data = compress(im, lm, quality=40)
    assert read_header(data).grey
    assert psnr(rgb_of(g), decompress(data, lm)) > 30


def test_colour_and_nearly_grey_images_stay_colour(lm):
    colour = natural_like(64, 96)
    assert not read_header(compress(colour, lm)).grey
    nearly = rgb_of(grey_photo(64, 96))
    nearly[10, 20, 2] += 1  # one channel of one pixel off by one: not greyscale
    assert not read_header(compress(nearly, lm)).grey
    assert read_header(compress(nearly[..., 0], lm)).grey  # an (H,W) array is greyscale


def _with_flags(data: bytes, flags: int) -> bytes:
    """`data` with the header's flags byte set and its header CRC made good again."""
    _, offset = parse_header(data)
    head = bytearray(data[:offset - 4])
    head[7] = flags
    return bytes(head) + struct.pack("<I", zlib.crc32(head)) + data[offset:]


def test_header_flag_round_trips_and_unknown_bits_are_refused():
    h = Header("shannon", 0, 64, 48, 0, 512, "m", bytes(8), 1, 900, grey=True)
    data = serialise(h, [b"x"])
    assert data[7] == 1 and parse_header(data)[0] == h
    plain = serialise(Header("shannon", 0, 64, 48, 0, 512, "m", bytes(8), 1, 900), [b"x"])
    assert plain[7] == 0 and not parse_header(plain)[0].grey
    assert parse_header(_with_flags(plain, 1))[0].grey
    for flags in (2, 3, 0x80):
        with pytest.raises(CodecError, match="unknown mode or flags"):
            parse_header(_with_flags(data, flags))


def test_size_and_target_bpp_work_on_grey(tmp_path):
    src, ibc = tmp_path / "g.png", tmp_path / "g.ibc"
    Image.fromarray(grey_photo(150, 230)).save(src)
    for budget in (1500, 4000):
        assert run("compress", src, "-o", ibc, "--size", budget, "-f", "--quiet") == 0
        assert 0.9 * budget <= ibc.stat().st_size <= budget and read_header(ibc.read_bytes()).grey
    assert run("compress", src, "-o", ibc, "--target-bpp", "0.4", "-f", "--quiet") == 0
    assert ibc.stat().st_size * 8 / (150 * 230) <= 0.4 and read_header(ibc.read_bytes()).grey
