"""A tune's own post-filter (format version 5): the encoder names it in the file, the decoder renders
through it, a model without it falls back to its own filter, and the trainer warm-starts from an installed
filter's ONNX graph."""
import json
import shutil

import numpy as np
import pytest
import torch

from ibc.codec import postfilter as runtime
from ibc.codec import weights
from ibc.codec.api import compress, decompress, read_header
from ibc.codec.errors import CodecError
from ibc.codec.step_code import step_from_code
from ibc.codec.training import postfilter as trainer
from ibc.codec.tune import TUNE_FORMAT, tune_file
from ibc.codec.weights import load_model

from conftest import natural_like
from test_postfilter import SHIPPED, _copy, _run_folder, fresh_cache  # noqa: F401 (a fixture)

MS = (150, 170, 160, 144, 128, 90)


def _install(pt, with_filter: bool):
    """Beside the copy `pt` of a shipped model: a random psnr filter, an ms-ssim tune, and (`with_filter`)
    that tune's own (other random) filter."""
    sha = load_model(str(SHIPPED)).sha256
    folder = pt.parent
    trainer.export(_run_folder(folder / "run0", sha, seed=0), runtime.filter_dir(pt))
    tune_file(pt).write_text(json.dumps({"format": TUNE_FORMAT, "base": {"name": "shannon-v2", "sha256": sha},
                                         "tunes": {"ms-ssim": list(MS)}}))
    if with_filter:
        dest = trainer.export(_run_folder(folder / "run1", sha, seed=1), runtime.filter_dir(pt, "ms-ssim"))
        info = json.loads((dest / "postfilter.json").read_text())
        (dest / "postfilter.json").write_text(json.dumps({**info, "tune": "ms-ssim"}))
    return load_model(str(pt))


@pytest.mark.usefixtures("fresh_cache")
def test_a_tune_with_its_filter_names_it_and_decodes_through_it(tmp_path):
    lm = _install(_copy(tmp_path / "w"), with_filter=True)
    img = natural_like(96, 128, seed=4)
    data = compress(img, lm, quality=40, tune="ms-ssim")
    header = read_header(data)
    assert data[4] == 5 and header.filter == "ms-ssim" and header.step_weights == MS
    plain, step = decompress(data, lm, postfilter=False), step_from_code(header.step_code)
    shown = decompress(data, lm)
    assert np.array_equal(shown, lm.tune_filters["ms-ssim"](plain, step))
    assert not np.array_equal(shown, lm.postfilter(plain, step))
    psnr_file = compress(img, lm, quality=40)
    assert psnr_file[4] == 4 and read_header(psnr_file).filter == "psnr"
    assert np.array_equal(decompress(psnr_file, lm), lm.postfilter(decompress(psnr_file, lm, postfilter=False), step))


@pytest.mark.usefixtures("fresh_cache")
def test_a_model_without_the_tunes_filter_writes_its_own_and_reads_the_others_through_it(tmp_path):
    with_it = _install(_copy(tmp_path / "a"), with_filter=True)
    without = _install(_copy(tmp_path / "b"), with_filter=False)
    assert without.tune_filters is None
    img = natural_like(96, 128, seed=5)
    own = compress(img, without, quality=40, tune="ms-ssim")
    assert own[4] == 4 and read_header(own).filter == "psnr" and read_header(own).step_weights == MS
    named = compress(img, with_it, quality=40, tune="ms-ssim")  # same weights, so `without` reads its indices
    plain = decompress(named, without, postfilter=False)
    step = step_from_code(read_header(named).step_code)
    assert np.array_equal(decompress(named, without), without.postfilter(plain, step))


@pytest.mark.usefixtures("fresh_cache")
def test_a_filter_for_another_tune_is_refused(tmp_path):
    pt = _copy(tmp_path / "w")
    _install(pt, with_filter=False)
    shutil.copytree(runtime.filter_dir(pt), runtime.filter_dir(pt, "ms-ssim"))  # the psnr filter, misplaced
    weights._load.cache_clear()
    with pytest.raises(CodecError, match="trained for the psnr tune, not ms-ssim"):
        load_model(str(pt))


def test_the_trainer_starts_from_an_installed_filters_graph(tmp_path):
    sha = load_model(str(SHIPPED)).sha256
    folder = trainer.export(_run_folder(tmp_path / "run", sha, seed=2), tmp_path / "f")
    f, seconds = trainer._start(str(folder))
    want = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    ref = trainer.PostFilter(**want["f_config"])
    ref.load_state_dict(want["f"])
    x, s = torch.rand(1, 3, 24, 32), torch.tensor([0.6])
    with torch.no_grad():
        assert torch.allclose(f(x, s), ref(x, s), atol=1e-6) and not torch.equal(f(x, s), x)
    assert seconds == 0.0 and f.config() == ref.config()
