"""The realism judge (C2ST) calibrated on images the test makes: a copy scores 0.5, a scene with fresh
sensor noise scores chance, a heavily degraded copy scores at least 0.9, and only the conditional form
catches texture that is realistic but not where it belongs (the same scene shifted by 24 px).

The scenes: a 1/f colour field (natural images' spectrum), hard-edged discs, two patches of grating,
Gaussian noise. A scene is drawn 24 px wider than the images cut from it, so that a shifted cut is just
as natural as the original. The budget is TEST_STEPS per fold (not the default STEPS, sized for Kodak's
larger and subtler images), to keep the file near 30 s; the default's calibration on Kodak is
bench/c2st_calibration.md."""
import numpy as np
import pytest
from PIL import Image

from ibc.codec.evaluation.c2st import C2STResult, c2st, null_threshold

pytestmark = pytest.mark.usefixtures("one_thread")

N, SIZE, SHIFT = 14, 192, 24
TEST_STEPS = 60    # per fold: the degradations here are learned in about 30
TEST_PLACES = 48   # held-out places per image: 1,344 test patches, a 95 % threshold of 0.523


def scene(h: int, w: int, seed: int) -> np.ndarray:
    """(h,w,3) float, about [0, 1], noiseless."""
    rng = np.random.default_rng(seed)
    fy, fx = np.fft.fftfreq(h)[:, None], np.fft.fftfreq(w)[None, :]
    f = np.hypot(fy, fx)
    f[0, 0] = 1
    spectrum = (rng.normal(size=(3, h, w)) + 1j * rng.normal(size=(3, h, w))) / f
    spectrum[:, 0, 0] = 0
    field = np.real(np.fft.ifft2(spectrum))
    colours = rng.normal(size=(3, 3)) * 0.08 + np.eye(3) * 0.06
    img = 0.5 + np.einsum("chw,cd->hwd", field / field.std(), colours)
    yy, xx = np.mgrid[0:h, 0:w]
    for _ in range(rng.integers(6, 12)):  # objects
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(6, 40)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        img[inside] = img[inside] * 0.3 + rng.uniform(0.1, 0.9, 3) * 0.7
    for _ in range(2):  # gratings
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(20, 60)
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
        angle, period = rng.uniform(0, np.pi), rng.uniform(3, 12)
        wave = 0.12 * np.sin(2 * np.pi * (np.cos(angle) * xx + np.sin(angle) * yy) / period)
        img[inside] += wave[inside][:, None]
    return img


def shot(img: np.ndarray, seed: int, sigma: float = 0.02) -> np.ndarray:
    """A scene photographed: Gaussian noise of `sigma`, 8 bits."""
    noise = np.random.default_rng(seed).normal(0, sigma, img.shape)
    return (np.clip(img + noise, 0, 1) * 255).round().astype(np.uint8)


def down_up(rgb: np.ndarray, factor: int = 4) -> np.ndarray:
    h, w = rgb.shape[:2]
    small = Image.fromarray(rgb).resize((w // factor, h // factor), Image.BICUBIC)
    return np.asarray(small.resize((w, h), Image.BICUBIC))


@pytest.fixture(scope="module")
def scenes():
    return [scene(SIZE, SIZE + SHIFT, seed) for seed in range(N)]


@pytest.fixture(scope="module")
def originals(scenes):
    return [shot(s[:, SHIFT:], seed) for seed, s in enumerate(scenes)]


def judge(originals, reconstructions, **kw) -> C2STResult:
    return c2st(originals, reconstructions, **{"steps": TEST_STEPS, "test_places": TEST_PLACES, **kw})


@pytest.mark.parametrize("conditional", [False, True])
def test_a_copy_scores_one_half(originals, conditional):
    # Both patches of a place are the same, so they get the same logit: exactly one of the two is right,
    # however long the network trains (it is pushed towards a logit of 0 everywhere).
    result = judge(originals, [x.copy() for x in originals], conditional=conditional, steps=20)
    assert result == C2STResult(0.5, null_threshold(2 * N * TEST_PLACES), 2 * N * TEST_PLACES, conditional)
    assert not result.distinguishable


@pytest.mark.parametrize("seed", [0, 1])
def test_fresh_noise_scores_chance(scenes, originals, seed):
    # The same scenes with other noise: a reconstruction with the originals' distribution, but not their
    # pixels. The network sees different patches and must not learn anything that carries to new images.
    resampled = [shot(s[:, SHIFT:], 1000 + i) for i, s in enumerate(scenes)]
    result = judge(originals, resampled, seed=seed)
    assert abs(result.accuracy - 0.5) <= 0.03 and result.accuracy < result.threshold95


@pytest.mark.parametrize("conditional", [False, True])
def test_a_degraded_copy_scores_at_least_0_9(originals, conditional):
    result = judge(originals, [down_up(x) for x in originals], conditional=conditional)
    assert result.accuracy >= 0.9 and result.distinguishable


def test_only_the_conditional_form_catches_misplaced_texture(scenes, originals):
    # Each reconstruction is its scene shifted by 24 px: every patch is a real one, from the wrong place.
    shifted = [shot(s[:, :-SHIFT], seed) for seed, s in enumerate(scenes)]
    plain, conditional = judge(originals, shifted), judge(originals, shifted, conditional=True)
    assert abs(plain.accuracy - 0.5) <= 0.05
    assert conditional.accuracy >= 0.9


def test_one_seed_one_result_and_images_too_small_are_left_out(originals):
    small = [x[:48, :48] for x in originals[:3]]  # no room for a 64-px patch
    images = originals[:4] + small
    recon = [down_up(x, 2) for x in images]
    a, b = (c2st(images, recon, steps=10, seed=7, conditional=True) for _ in range(2))
    assert a == b and a.n_test == 2 * 4 * 9  # the 3 × 3 grid of each 192-px image


def test_null_threshold():
    # P(X ≥ 59) = 0.044 and P(X ≥ 58) = 0.067 for X ~ Binomial(100, 1/2)
    assert null_threshold(100) == 0.59
    for n in (500, 5000):
        assert null_threshold(n) == pytest.approx(0.5 + 1.645 * 0.5 / np.sqrt(n), abs=1.5 / n)


@pytest.mark.parametrize("originals, reconstructions, words", [
    ([np.zeros((64, 64, 3), np.uint8)] * 2, [np.zeros((64, 64, 3), np.uint8)], "2 originals but 1"),
    ([np.zeros((64, 64, 3), np.uint8)] * 2, [np.zeros((64, 65, 3), np.uint8)] * 2, "shape"),
    ([np.zeros((64, 64, 3), np.uint8), np.zeros((63, 99, 3), np.uint8)] * 1,
     [np.zeros((64, 64, 3), np.uint8), np.zeros((63, 99, 3), np.uint8)], "needs two images"),
])
def test_refuses_what_it_cannot_judge(originals, reconstructions, words):
    with pytest.raises(ValueError, match=words):
        c2st(originals, reconstructions, steps=1)
