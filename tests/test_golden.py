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


# Every level of both shipped models on the sample: the sha256 of each file (gc-rvq5 with seed 42) and of
# the gc files' pixels at realism 0.5 and 1, chained in that order.
SHIPPED_SHA256 = "f905d1d7cd99ea7af0a84f5d1f63316d4a9b8b61780ebba184623d324b8a1fa2"


def test_both_shipped_models_code_and_decode_the_sample_as_recorded(one_thread):
    rgb = read_image(DATA / "sample.png")
    digests = [hashlib.sha256(compress(rgb, load_model("shannon-rvq5"), level=L)).hexdigest() for L in range(1, 6)]
    gc = load_model("gc-rvq5")
    for L in range(1, 4):
        data = compress(rgb, gc, level=L, seed=42)
        digests.append(hashlib.sha256(data).hexdigest())
        digests += [hashlib.sha256(decompress(data, gc, realism=a).tobytes()).hexdigest() for a in (0.5, 1.0)]
    assert hashlib.sha256("".join(digests).encode()).hexdigest() == SHIPPED_SHA256
