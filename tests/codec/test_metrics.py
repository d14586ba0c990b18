"""Metrics against values known in closed form, the realism distance's invariants, and BD-rate."""
import math

import numpy as np
import pytest
from PIL import Image, ImageFilter

from ibc.codec.metrics import SlicedWasserstein, bpp, db, ms_ssim, psnr, psnr_of_mse
from ibc.codec.metrics import bd_rate

from conftest import natural_like


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def originals():
    return [natural_like(168, 176, seed) for seed in range(3)]  # MS-SSIM needs a side above 160 px


@pytest.fixture(scope="module")
def realism(originals):
    return SlicedWasserstein(originals)


def blur(images, radius):
    return [np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(radius))) for im in images]


def test_identical_images():
    im = natural_like(168, 176)
    assert psnr(im, im) == math.inf
    assert ms_ssim(im, im) == pytest.approx(1.0, abs=1e-6)
    assert db(1.0) == math.inf


def test_psnr_of_a_known_error():
    im = np.full((16, 24, 3), 100, np.uint8)
    assert psnr(im, im + 5) == pytest.approx(10 * math.log10(255 ** 2 / 25))
    assert psnr(im, im + 5) == psnr_of_mse(25.0) and psnr_of_mse(0.0) == math.inf
    assert psnr_of_mse(25 / 255 ** 2, peak=1.0) == pytest.approx(psnr_of_mse(25.0))  # images in [0, 1]
    assert bpp(300, 24, 16) == pytest.approx(300 * 8 / (24 * 16))


def test_ms_ssim():
    a = natural_like(168, 176)
    worse = [ms_ssim(a, b) for b in blur([a], 1) + blur([a], 3)]
    assert 1 > worse[0] > worse[1] > 0
    assert db(0.99) == pytest.approx(20.0)
    assert ms_ssim(a[:64], a[:64]) is None  # too small for the five scales of the 11×11 window


def test_swd_is_zero_for_identical_sets_and_deterministic(originals, realism):
    swd, scales = realism.distance(originals)
    assert swd == 0 and len(scales) == realism.scales == 4  # 168 → 84 → 42 → 21 px
    blurred = blur(originals, 1)
    assert realism.distance(blurred) == SlicedWasserstein(originals).distance(blurred)


def test_swd_grows_with_blur(originals, realism):
    d = [realism.distance(blur(originals, r))[0] for r in (0.5, 1, 2)]
    assert 0 < d[0] < d[1] < d[2]


def test_swd_sees_lost_contrast(originals, realism):
    """Normalising each set by its own statistics would make a contrast-halved set look perfect."""
    flat = [((im - im.mean((0, 1))) * 0.5 + im.mean((0, 1))).round().astype(np.uint8) for im in originals]
    rng = np.random.default_rng(1)
    noisy = [np.clip(im + rng.normal(0, 2, im.shape), 0, 255).astype(np.uint8) for im in originals]
    assert realism.distance(flat)[0] > 10 * realism.distance(noisy)[0]


def test_bd_rate():
    rate = np.array([0.1, 0.25, 0.5, 1.0, 2.0])
    quality = np.array([26.0, 29.0, 32.0, 35.5, 39.0])
    assert bd_rate(rate, quality, rate, quality) == pytest.approx(0, abs=1e-9)
    assert bd_rate(rate, quality, rate / 2, quality) == pytest.approx(-50)
    assert bd_rate(rate, quality, rate * 1.25, quality) == pytest.approx(25)
    assert bd_rate(rate, quality, rate, quality + 20) is None  # no overlapping quality range
    assert bd_rate(rate, quality, rate[:1], quality[:1]) is None


def test_anchor_psnr_is_interpolated_in_log_rate():
    from ibc.codec.evaluation.plot import anchor_psnr_at, points_table
    anchor = {"codec": "jpeg", "label": "JPEG", "points": [{"bpp": 0.1, "psnr": 20.0}, {"bpp": 1.0, "psnr": 30.0}]}
    assert anchor_psnr_at(anchor, 0.1 ** 0.5) == pytest.approx(25.0)
    assert anchor_psnr_at(anchor, 2.0) is None  # outside the anchor's range: no extrapolation
    ibc = {"codec": "ibc:m", "label": "ibc (m)", "points": [
        {"setting": 1, "bpp": 0.1 ** 0.5, "psnr": 26.0, "ms_ssim_db": 9.0, "swd": 0.05, "encode_s": 0.5, "decode_s": 0.2}]}
    table = points_table([anchor, ibc], "jpeg")
    assert "| 1 | 0.316 | 26.00 | 25.00 | +1.00 |" in table
