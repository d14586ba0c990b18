"""A guard against unintended change of the format or the shipped default model.

tests/data/sample.ibc is tests/data/sample.png compressed by the shipped default model (shannon-v4, format
version 4) at its default quality; tests/data/sample-shannon-v4-format3.ibc is the same file as format
version 3 wrote it (the same indices, no step weights), sample-ms-ssim.ibc the sample by the default model's
`--tune ms-ssim` (the step weights of weights/shannon-v4-tune.json; format version 5: it names the tune's own
post-filter), sample-ms-ssim-format4.ibc the same indices as format 4 wrote them before that filter existed,
sample-shannon-v5-ms-ssim.ibc shannon-v5's `--tune ms-ssim`, and sample-shannon-v3.ibc and sample-shannon-v2.ibc
the same image by the previous defaults, shannon-v3 (context version 2, 256-pixel tiles) and shannon-v2 (context
version 1): all must still decode to their recorded pixels (through the post-filters now shipped, which
change the pixels of old files as of new ones, never their bits). (The block models' files, format
version 2 among them, are refused since 0.2.0: tests/codec/test_retired.py.) A change to the container, the coder,
the entropy tables, the networks or the window layout, even one that keeps files readable, breaks these
tests. A deliberate change (a new format version, a new default model) regenerates the file and the
figures below on purpose:

    ibc compress tests/data/sample.png -o tests/data/sample.ibc --force --verbose
"""
import hashlib

import numpy as np
import pytest

from ibc.codec.api import compress, decompress, read_header
from ibc.codec.image_io import read_image
from ibc.codec.metrics import psnr
from ibc.codec.weights import load_model

from conftest import DATA

GOLDEN_PIXELS_SHA256 = "edb8e0767a84067a75bb86a7fe6c2537bddf17207179eafc1a3cde5eaeeebe2a"
PREVIOUS_DEFAULTS = [("sample-shannon-v4-format3.ibc", "shannon-v4", GOLDEN_PIXELS_SHA256),
                     ("sample-shannon-v3.ibc", "shannon-v3", "9d301e33c776931ae6a7216d174d9b643d8b99df77b87e0c8f748cf40e179abb"),
                     ("sample-shannon-v2.ibc", "shannon-v2", "cc8214ec8cbd1743fdfbfe9a938a5c573cc4c72d779d1a83918a2e8644697fdd")]
# The default model on the sample: 0.3220 bpp (format 3: 0.3215), 32.77 dB with its post-filter, 32.23 dB without (shannon-v3:
# 0.3219 bpp, 32.67 dB with its post-filter; shannon-v2: 0.3251 bpp, 32.58 dB with its post-filter, 32.18 dB
# without).
MAX_BPP, MIN_PSNR = 0.325, 32.5


@pytest.fixture(scope="module")
def golden() -> bytes:
    return (DATA / "sample.ibc").read_bytes()


def test_the_golden_file_decodes_to_the_recorded_pixels(golden):
    header = read_header(golden)
    assert (header.model, header.width, header.height, golden[4]) == ("shannon-v4", 384, 256, 4)
    assert hashlib.sha256(decompress(golden).tobytes()).hexdigest() == GOLDEN_PIXELS_SHA256


@pytest.mark.parametrize("file, model, recorded", PREVIOUS_DEFAULTS)
def test_a_file_of_a_previous_default_model_still_decodes_to_its_recorded_pixels(file, model, recorded):
    old = (DATA / file).read_bytes()
    assert (read_header(old).model, old[4]) == (model, 3)
    assert hashlib.sha256(decompress(old).tobytes()).hexdigest() == recorded


def test_compressing_the_sample_gives_the_golden_file_byte_for_byte(golden):
    """Byte-exact on any CPU and thread count: the encode path of the shipped model is deterministic there.
    Its analysis is float64 lifting made of element-wise operations (no sums whose order a thread split
    could change, no learned convolutions), run on one thread; everything after it (the VQ choice under
    integer counts, the contexts, the coder) is integer or exact. An encoder with float convolutions may
    flip near-ties on another CPU, and is not held to bytes (the codec promises bit-exact decoding)."""
    assert load_model().name == read_header(golden).model
    assert compress(read_image(DATA / "sample.png")) == golden


def test_the_default_model_codes_the_sample_at_its_measured_level(golden):
    rgb = read_image(DATA / "sample.png")
    assert len(golden) * 8 / (rgb.shape[0] * rgb.shape[1]) < MAX_BPP
    assert psnr(rgb, decompress(golden)) > MIN_PSNR


# The wavelet models' files of the sample at q 0, 25, … 100: the sha256 of each, chained in that order.
V2_SHA256 = "c4205a6778522a1ab71867c40348406fffbd495f34a253532c5d007011c79d58"
V3_SHA256 = "a48eed1096020dbba09852695fb9144db8cb79513f6511f8c0c94b26670d7f31"
V4_SHA256 = "f8a94f399a841fde8ab911c2072c69373159c98b54c0fa7558aa620640a985d5"
V5_SHA256 = "9734d8f69afd024aeb763b5921546f0dcc183e6f4113fd3193a7b1b7f407af8c"  # context version 4


@pytest.mark.parametrize("backend", ["auto", "torch"])
@pytest.mark.parametrize("name, recorded", [("shannon-v2", V2_SHA256), ("shannon-v3", V3_SHA256),
                                            ("shannon-v4", V4_SHA256), ("shannon-v5", V5_SHA256)])
def test_the_wavelet_models_code_the_sample_as_recorded(name, recorded, backend, one_thread):
    """On either backend: the .pt files (torch) and their ONNX bundles (auto) give the same files."""
    rgb = read_image(DATA / "sample.png")
    lm = load_model(name, backend=backend)
    digests = [hashlib.sha256(compress(rgb, lm, quality=q)).hexdigest() for q in (0, 25, 50, 75, 100)]
    assert hashlib.sha256("".join(digests).encode()).hexdigest() == recorded


# The indices (every tile's LL, vector indices and escapes, as int64, in that order) the golden files decode to.
GOLDEN_INDICES_SHA256 = {"sample.ibc": "a387ceb269b96f417f582a79911a6da510cdd3bf9d2771cacd0b5976658baeaa",
                         "sample-ms-ssim.ibc": "42ade014ae82c5181497e0b131ab3adb448cc39cb572c6f5fa741e141f0bd72f",
                         "sample-ms-ssim-format4.ibc": "42ade014ae82c5181497e0b131ab3adb448cc39cb572c6f5fa741e141f0bd72f",
                         "sample-shannon-v4-format3.ibc": "a387ceb269b96f417f582a79911a6da510cdd3bf9d2771cacd0b5976658baeaa",
                         "sample-shannon-v5-ms-ssim.ibc": "6a91baedde8e81d39d3b244851da367d7e16ffce6dc2afbb84621bfd040791a3"}


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("file", sorted(GOLDEN_INDICES_SHA256))
def test_a_golden_file_decodes_to_its_recorded_indices(file, threads):
    """The decode side is integer from the bytes to the indices (integer counts, the range coder): the same
    indices under any thread count (here torch's; the suite itself runs under OMP_NUM_THREADS 1 and 2)."""
    import torch
    from ibc.codec.api import read_indices
    data = (DATA / file).read_bytes()
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        tiles = read_indices(data, load_model(read_header(data).model)).indices
    finally:
        torch.set_num_threads(before)
    h = hashlib.sha256()
    for t in tiles:
        for a in [t.ll, *t.idx, *t.escq]:
            h.update(np.ascontiguousarray(a, dtype=np.int64).tobytes())
    assert h.hexdigest() == GOLDEN_INDICES_SHA256[file]


TUNED_PIXELS_SHA256 = "418b7afe570507894c9835c3628971cb119676af74a31e5a53e6b88b514c6dc9"  # 0.3569 bpp, 32.57 dB


def test_a_format_4_tuned_file_still_decodes_to_its_recorded_pixels(golden):
    """Written before the tune had its own post-filter: it carries the step weights (format version 4) and
    names no filter, so it renders through the model's own; a decoder that ignored the weights breaks this."""
    tuned = (DATA / "sample-ms-ssim-format4.ibc").read_bytes()
    weights = read_header(tuned).step_weights
    assert tuned[4] == 4 and weights == load_model().step_weights("ms-ssim") != read_header(golden).step_weights
    assert hashlib.sha256(decompress(tuned).tobytes()).hexdigest() == TUNED_PIXELS_SHA256


@pytest.mark.parametrize("file, model", [("sample-ms-ssim.ibc", None), ("sample-shannon-v5-ms-ssim.ibc", "shannon-v5")])
def test_a_tune_with_its_own_filter_writes_format_5_naming_it(file, model):
    """The default's and shannon-v5's ms-ssim tunes have their own post-filters: the file names it (format
    version 5), the encoder writes these bytes again (a refit of the tune breaks this on purpose), and the
    decoder renders through that filter, not the model's."""
    from ibc.codec.step_code import step_from_code
    lm = load_model(model)
    data = (DATA / file).read_bytes()
    header = read_header(data)
    assert data[4] == 5 and header.filter == "ms-ssim" and header.step_weights == lm.step_weights("ms-ssim")
    assert compress(read_image(DATA / "sample.png"), lm, tune="ms-ssim") == data
    plain, step = decompress(data, lm, postfilter=False), step_from_code(header.step_code)
    assert np.array_equal(decompress(data, lm), lm.tune_filters["ms-ssim"](plain, step))
