"""The lifting wavelet: exact inverse (with another colour matrix too), CDF 9/7, near-orthonormal."""
import numpy as np
import pytest
import torch

from ibc.codec.lifting import WindowedLifting, band_reader
from ibc.codec.training.wavelet_model import TorchSteps, lifting_spec
from ibc.models.wavelet import COLOR, Wavelet2d, WaveletTransform


def _perturb_colour(t: WaveletTransform, std: float) -> None:
    """Another (non-orthonormal) colour matrix: the inverse must undo whatever the matrix is."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        t.color.weight.add_(torch.randn(3, 3, generator=g, dtype=t.color.weight.dtype) * std)


def test_inverse_is_exact_with_another_colour_matrix():
    torch.manual_seed(0)
    t = WaveletTransform(levels=4).double()
    x = torch.rand(2, 3, 48, 80, dtype=torch.float64)
    y0 = t(x)
    _perturb_colour(t, 0.05)
    with torch.no_grad():
        y = t(x)
        assert (y - y0).abs().max() > 1e-2  # the matrix changes the transform …
        assert torch.allclose(t.inverse(y), x, atol=1e-10, rtol=0)  # … and it still inverts exactly


def test_inverse_is_exact_in_float32():
    t = WaveletTransform(levels=5)
    _perturb_colour(t, 0.01)
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        assert (t.inverse(t(x)) - x).abs().max() < 1e-4


def test_rejects_sizes_that_are_not_multiples():
    with pytest.raises(ValueError):
        Wavelet2d(levels=3)(torch.zeros(1, 1, 24, 20))


@pytest.mark.parametrize("levels", [1, 3])
def test_matches_pywavelets_bior44_in_the_interior(levels):
    """Each subband, divided by its gain, is PyWavelets' bior4.4 away from the boundaries
    (ours are symmetric, its `periodization` wraps around; the interior does not see the difference)."""
    pywt = pytest.importorskip("pywt")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((192, 256))
    w = Wavelet2d(levels).double()
    with torch.no_grad():
        y = w(torch.from_numpy(x)[None, None])[0, 0].numpy()
    ref = pywt.wavedec2(x, "bior4.4", mode="periodization", level=levels)
    which = {"HL": 1, "LH": 0, "HH": 2}  # pywt's details are (horizontal, vertical, diagonal)
    for level, o, rows, cols in w.subbands(*x.shape):
        ours = y[rows, cols] / w.gain(level, o)
        theirs = ref[0] if o == "LL" else ref[levels - level + 1][which[o]]
        assert ours.shape == theirs.shape
        h, wd = ours.shape
        m = 8  # the 9-tap support of one coarser level reaches at most 4 samples; 8 is safe at every level
        interior = (slice(m, h - m), slice(m, wd - m))
        np.testing.assert_allclose(ours[interior], theirs[interior], atol=1e-9)
        assert np.abs(ours - theirs).max() > 0 or level == levels  # the boundaries really are not periodic


def test_near_orthonormal():
    """One quantiser step fits every subband: unit synthesis energy per coefficient, energy kept."""
    torch.manual_seed(0)
    t = WaveletTransform(levels=5).double()
    noise = torch.randn(4, 3, 256, 256, dtype=torch.float64)
    with torch.no_grad():
        # quantisation noise in y reaches the pixels with (almost) the same energy: MSE(x) ≈ MSE(y)
        assert abs(t.inverse(noise).pow(2).sum() / noise.pow(2).sum() - 1) < 0.03
        # and the analysis keeps the energy of a signal within a few percent
        assert abs(t(noise).pow(2).sum() / noise.pow(2).sum() - 1) < 0.10
        smooth = torch.nn.functional.avg_pool2d(torch.randn(1, 3, 264, 264, dtype=torch.float64), 9, 1)[..., :256, :256]
        assert abs(t(smooth).pow(2).sum() / smooth.pow(2).sum() - 1) < 0.05
    for level in range(1, 6):
        for o in ("LL", "HL", "LH", "HH"):
            assert 0.9 < t.wavelet.gain(level, o) < 1.15


def test_the_torch_transform_and_the_numpy_drivers_state_the_same_subbands_and_gains():
    """models/ imports nothing of the codec, so each side states the Mallat layout and the gains itself."""
    t = WaveletTransform(levels=5)
    spec = lifting_spec(t)
    for H, W in ((64, 96), (512, 384)):
        assert spec.subbands(H, W) == t.wavelet.subbands(H, W)
    for level in range(1, 6):
        for o in ("LL", "HL", "LH", "HH"):
            assert spec.gain(level, o) == t.wavelet.gain(level, o)


def test_colour_transform_is_orthonormal():
    assert torch.allclose(COLOR @ COLOR.T, torch.eye(3), atol=1e-6)


def test_margin_is_the_reach_of_one_level():
    """margin() is exactly how far one input sample moves one level's outputs (in input samples, along
    the width; the height reaches less)."""
    t = WaveletTransform(levels=5).double()
    w, x = t.wavelet, torch.rand(1, 3, 192, 192, dtype=torch.float64)
    with torch.no_grad():
        i = torch.arange(192)
        place = torch.where(i < 96, 2 * i, 2 * (i - 96) + 1)  # Mallat index → input sample
        for level in (0, 3):
            reach = 0
            for p in (96, 97):  # an even (low-pass) and an odd (high-pass) sample
                x2 = x.clone()
                x2[..., p, p] += 1
                moved = (w._analysis_2d(x2, level) - w._analysis_2d(x, level)).abs().amax(1)[0] > 0
                reach = max(reach, int((place[moved.any(0)] - p).abs().max()))
            assert reach == w.margin()


@pytest.mark.parametrize("window", [32, 96])
def test_windowed_transform_equals_the_whole_image_one(window):
    """Overlap-save in windows (sizes that are not multiples of the window, another colour matrix), on
    the numpy drivers with the torch steps."""
    torch.manual_seed(0)
    t = WaveletTransform(levels=5).double()
    _perturb_colour(t, 0.05)
    lifting = WindowedLifting(lifting_spec(t), TorchSteps(t))
    atol = 1e-9
    x = np.random.default_rng(0).random((3, 160, 224)) * 255  # RGB
    with torch.no_grad():
        y = t(torch.from_numpy(x)[None])[0].numpy()
    yw = np.full_like(y, np.nan)
    lifting.forward(lambda r0, r1, c0, c1: x[:, r0:r1, c0:c1], yw, window)
    np.testing.assert_allclose(yw, y, atol=atol, rtol=0)
    xw = np.full_like(x, np.nan)

    def write(r0, r1, c0, c1, v):
        assert np.isnan(xw[:, r0:r1, c0:c1]).all()  # every output sample is written once
        xw[:, r0:r1, c0:c1] = v

    lifting.inverse(band_reader(y), y.shape, write, window)
    with torch.no_grad():
        np.testing.assert_allclose(xw, t.inverse(torch.from_numpy(y)[None])[0].numpy(), atol=atol, rtol=0)
