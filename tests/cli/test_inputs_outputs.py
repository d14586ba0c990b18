"""What goes in and what comes out: output modes follow the umask, a decoded file never lands on its
photo, opaque alpha is no alpha, and a PNG whose data stops short is refused, not zero-filled."""
import os
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from ibc.codec.image_io import read_image

from conftest import natural_like, one_line_error, run


@pytest.fixture
def umask_022():
    before = os.umask(0o022)
    yield
    os.umask(before)


def test_outputs_respect_the_umask(tmp_path, tiny_wavelet_weights, umask_022, one_thread):
    photo = tmp_path / "photo.png"
    Image.fromarray(natural_like(72, 88)).save(photo)
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--quiet") == 0
    assert run("decompress", tmp_path / "photo.ibc", "--model", tiny_wavelet_weights, "--quiet") == 0
    assert run("eval", tmp_path, "--codec", "jpeg", "-o", tmp_path / "r.json", "--quiet") == 0
    for name in ("photo.ibc", "photo.ibc.png", "r.json", "r.csv"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o644, name


def test_decompress_never_lands_on_the_photo(tmp_path, tiny_wavelet_weights, capsys):
    photo = tmp_path / "photo.png"
    Image.fromarray(natural_like(24, 40)).save(photo)
    before = photo.read_bytes()
    assert run("compress", photo, "--model", tiny_wavelet_weights, "--quiet") == 0
    assert run("decompress", tmp_path / "photo.ibc", "--model", tiny_wavelet_weights, "--force", "--quiet") == 0
    assert photo.read_bytes() == before and (tmp_path / "photo.ibc.png").is_file()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        run("decompress", "--help")
    assert "never collides" in capsys.readouterr().out


def test_opaque_alpha_is_dropped_silently(tmp_path):
    rgb = natural_like(24, 40)
    path = tmp_path / "opaque.png"
    Image.fromarray(np.dstack([rgb, np.full((24, 40), 255, np.uint8)]), "RGBA").save(path)
    assert np.array_equal(read_image(path), rgb)
    gray = rgb[..., 0]
    Image.fromarray(np.dstack([gray, np.full((24, 40), 255, np.uint8)]), "LA").save(path)
    assert np.array_equal(read_image(path), np.repeat(gray[..., None], 3, axis=2))


def short_png(width: int, height: int) -> bytes:
    """A well-formed PNG whose zlib stream ends, on a row boundary, long before its pixels do."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"\0" * (1 + 3 * width) * 2
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))


def test_a_png_that_stops_short_is_refused(tmp_path, tiny_wavelet_weights, capsys):
    path = tmp_path / "short.png"
    path.write_bytes(short_png(600, 400))  # at 9000×9000, Pillow's zero-filled pixels took minutes to encode
    assert len(path.read_bytes()) < 200
    assert run("compress", path, "--model", tiny_wavelet_weights) == 2
    assert "short.png" in one_line_error(capsys) and not (tmp_path / "short.ibc").exists()
