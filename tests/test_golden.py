"""A guard against unintended change of the format or the shipped default model.

tests/data/sample.ibc is tests/data/sample.png compressed by the shipped default model at its default
level. A change to the container, the coder, the entropy tables, the networks or the window layout,
even one that keeps files readable, breaks these tests. A deliberate change (a new format version, a
new default model) regenerates the file and the figures below on purpose:

    ibc compress tests/data/sample.png -o tests/data/sample.ibc --force --verbose
"""
import hashlib
from pathlib import Path

import pytest

from ibc.codec.api import compress, decompress, read_header
from ibc.codec.image_io import read_image
from ibc.codec.metrics import psnr
from ibc.codec.weights import load_model

DATA = Path(__file__).parent / "data"
GOLDEN_PIXELS_SHA256 = "dd9a4099f8ce5b8d649309838f70ba99a1e20245178541dfbbef432cd15bf259"
# The default model on the sample: 0.3398 bpp, 30.53 dB.
MAX_BPP, MIN_PSNR = 0.345, 30.4


@pytest.fixture(scope="module")
def golden() -> bytes:
    return (DATA / "sample.ibc").read_bytes()


def test_the_golden_file_decodes_to_the_recorded_pixels(golden):
    header = read_header(golden)
    assert (header.model, header.width, header.height) == ("shannon-rvq5", 384, 256)
    assert hashlib.sha256(decompress(golden).tobytes()).hexdigest() == GOLDEN_PIXELS_SHA256


def test_compressing_the_sample_gives_the_golden_file_byte_for_byte(golden):
    assert load_model().name == read_header(golden).model
    assert compress(read_image(DATA / "sample.png")) == golden


def test_the_default_model_codes_the_sample_at_its_measured_level(golden):
    rgb = read_image(DATA / "sample.png")
    assert len(golden) * 8 / (rgb.shape[0] * rgb.shape[1]) < MAX_BPP
    assert psnr(rgb, decompress(golden)) > MIN_PSNR
