import numpy as np
import pytest
from PIL import Image

from ibc.codec.errors import CodecError
from ibc.codec.image_io import read_image, write_atomic, write_image

from conftest import natural_like


def save(tmp_path, name, im, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


def test_rgb_round_trip(tmp_path):
    rgb = natural_like(20, 30)
    path = tmp_path / "a.png"
    write_image(path, rgb)
    assert np.array_equal(read_image(path), rgb)


def test_grayscale_and_palette_become_rgb(tmp_path):
    gray = Image.fromarray(natural_like(10, 12)[..., 0])
    out = read_image(save(tmp_path, "g.png", gray))
    assert out.shape == (10, 12, 3) and np.array_equal(out[..., 0], out[..., 2])
    pal = Image.fromarray(natural_like(10, 12)).convert("P")
    assert read_image(save(tmp_path, "p.png", pal)).shape == (10, 12, 3)


def test_alpha_is_refused_unless_dropped(tmp_path):
    rgba = Image.fromarray(np.dstack([natural_like(8, 8), np.full((8, 8), 128, np.uint8)]))
    path = save(tmp_path, "a.png", rgba)
    with pytest.raises(CodecError, match="alpha"):
        read_image(path)
    assert np.array_equal(read_image(path, drop_alpha=True), natural_like(8, 8))


def test_sixteen_bit_is_reduced_to_eight(tmp_path):
    a = (np.arange(64, dtype=np.uint16).reshape(8, 8) * 1000)
    path = save(tmp_path, "16.png", Image.fromarray(a))
    out = read_image(path)
    assert out.dtype == np.uint8 and out.shape == (8, 8, 3)
    assert np.array_equal(out[..., 0], np.round(a / 257).astype(np.uint8))


@pytest.mark.parametrize("orientation,turns", [(3, 2), (6, -1), (8, 1)])  # 180°, 90° clockwise, anticlockwise
def test_exif_orientation_is_applied(tmp_path, orientation, turns):
    exif = Image.Exif()
    exif[0x0112] = orientation
    img = natural_like(10, 20)
    path = save(tmp_path, f"r{orientation}.png", Image.fromarray(img), exif=exif)  # lossless, to compare pixels
    assert np.array_equal(read_image(path), np.rot90(img, turns))


def test_cmyk_is_converted(tmp_path):
    path = save(tmp_path, "c.jpg", Image.fromarray(natural_like(8, 8)).convert("CMYK"))
    assert read_image(path).shape == (8, 8, 3)


@pytest.mark.parametrize("content,message", [
    (b"", "not an image"), (b"hello, world", "not an image"),
])
def test_not_an_image(tmp_path, content, message):
    path = tmp_path / "x.png"
    path.write_bytes(content)
    with pytest.raises(CodecError, match=message):
        read_image(path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image(tmp_path, fmt):
    path = save(tmp_path, "t." + fmt.lower(), Image.fromarray(natural_like(64, 64)), format=fmt)
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(CodecError):
        read_image(path)


def test_missing_file(tmp_path):
    with pytest.raises(CodecError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_pixel_limit(tmp_path):
    path = save(tmp_path, "big.png", Image.fromarray(natural_like(40, 40)))
    with pytest.raises(CodecError, match="limit"):
        read_image(path, max_pixels=1000)


def test_write_never_clobbers_without_force(tmp_path):
    path = tmp_path / "out.bin"
    path.write_bytes(b"keep")
    with pytest.raises(CodecError, match="exists"):
        write_atomic(path, b"new")
    assert path.read_bytes() == b"keep"
    write_atomic(path, b"new", force=True)
    assert path.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]  # no temporary left behind
