"""The decoder post-filter: identity at the start, ONNX equal to torch, stripes equal to one pass, the
generative detail added after it, only with the weights it was trained for, `--no-postfilter`, the
shipped models' filters, and its trainer."""
import json
import shutil
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest
import torch

from ibc.codec import postfilter as runtime
from ibc.codec import weights
from ibc.codec.api import compress, decompress, read_header
from ibc.codec.coding_bundle import bundle_dir
from ibc.codec.errors import CodecError
from ibc.codec.image_io import read_image
from ibc.codec.step_code import step_from_code
from ibc.codec.training import postfilter as trainer
from ibc.codec.weights import WEIGHTS_DIR, load_model
from ibc.models.postfilter import PostFilter

from conftest import DATA, natural_like, one_line_error, run

SAMPLE = DATA / "sample.png"
SHIPPED = WEIGHTS_DIR / "shannon-v2.pt"  # its bundle is copied; its own shipped post-filter is not


@pytest.fixture
def fresh_cache():
    weights._load.cache_clear()
    yield
    weights._load.cache_clear()


def _run_folder(folder: Path, base_sha: str, seed: int = 0) -> Path:
    """A run folder holding a checkpoint of a filter with random (non-zero) weights, as a trained one."""
    torch.manual_seed(seed)
    f = PostFilter()
    with torch.no_grad():
        f.net[-1].weight.normal_(0, 0.05)
    cfg = trainer.FilterConfig(out=str(folder), base="shannon-v2")
    (folder / "pool").mkdir(parents=True)
    (folder / "pool" / "base.json").write_text(json.dumps({"name": "shannon-v2", "sha256": base_sha}))
    (folder / "log.jsonl").write_text(json.dumps({"step": 0, "val": {"56.2": {"psnr": 28.0, "gain": 0.0}}}) + "\n")
    torch.save({"f": f.state_dict(), "f_config": f.config(), "config": asdict(cfg), "step": 0,
                "train_seconds": 0.0}, folder / "checkpoint.pt")
    return folder


def _copy(folder: Path) -> Path:
    pt = folder / SHIPPED.name
    folder.mkdir()
    shutil.copy(SHIPPED, pt)
    shutil.copytree(bundle_dir(SHIPPED), bundle_dir(pt))
    return pt


@pytest.fixture
def plain(tmp_path, fresh_cache) -> Path:
    """A copy of the shipped model without a post-filter."""
    return _copy(tmp_path / "plain")


@pytest.fixture
def filtered(tmp_path, fresh_cache) -> Path:
    """A copy of the shipped model with a (random) post-filter exported beside it."""
    pt = _copy(tmp_path / "w")
    sha = load_model(str(SHIPPED)).sha256
    trainer.export(_run_folder(tmp_path / "run", sha), runtime.filter_dir(pt))
    return pt


def test_an_untrained_filter_is_the_identity():
    x = torch.rand(2, 3, 24, 40)
    assert torch.equal(PostFilter()(x, torch.tensor([0.5, 0.9])), x)


def test_stripes_join_exactly(filtered, monkeypatch):
    lm = load_model(str(filtered))
    img = natural_like(300, 200, seed=3)
    whole = lm.postfilter(img, 40.0)
    monkeypatch.setattr(runtime, "STRIPE", 17)  # many stripes, a ragged last one
    assert np.array_equal(lm.postfilter(img, 40.0), whole)
    assert not np.array_equal(whole, img)  # a filter with weights changes the image


def test_onnx_equals_the_checkpoint(filtered, tmp_path):
    lm = load_model(str(filtered))
    state = torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)
    f = PostFilter(**state["f_config"])
    f.load_state_dict(state["f"])
    img = natural_like(64, 96, seed=1)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        want = np.clip(np.round(f(x, torch.tensor([np.log2(40.0) / 8])).numpy()[0] * 255), 0, 255)
    got = lm.postfilter(img, 40.0).transpose(2, 0, 1)
    assert np.abs(got.astype(int) - want).max() <= 1  # float32 sums in another order: a rounding tie at most


def test_decoding_filters_the_shannon_image_and_adds_the_detail_after(filtered, plain):
    lm, plain = load_model(str(filtered)), load_model(str(plain))
    assert plain.postfilter is None and lm.postfilter is not None
    img = read_image(SAMPLE)
    data = compress(img, lm, quality=30)
    assert data == compress(img, plain, quality=30)  # the filter changes no bit
    raw = decompress(data, plain)
    assert np.array_equal(decompress(data, lm, postfilter=False), raw)
    filtered_image = decompress(data, lm)
    assert np.array_equal(filtered_image, lm.postfilter(raw, step_from_code(read_header(data).step_code)))
    assert not np.array_equal(filtered_image, raw)
    gc = load_model("gc-v2")  # realism 1: filter(x̂) + (x̂₁ − x̂), the noise's detail unfiltered
    base, noisy = (decompress(data, gc, realism=a, postfilter=False).astype(int) for a in (0.0, 1.0))
    step = step_from_code(read_header(data).step_code)
    want = np.clip(gc.postfilter(base.astype(np.uint8), step) + noisy - base, 0, 255)
    assert np.array_equal(decompress(data, gc, realism=1.0), want) and not np.array_equal(want, noisy)


def test_no_postfilter_on_the_command_line(filtered, plain, tmp_path, capsys):
    ibc = tmp_path / "a.ibc"
    assert run("compress", SAMPLE, "-o", ibc, "--model", filtered, "-q", "30", "--quiet") == 0
    assert run("decompress", ibc, "-o", tmp_path / "on.png", "--model", filtered, "--quiet") == 0
    assert run("decompress", ibc, "-o", tmp_path / "off.png", "--model", filtered, "--quiet", "--no-postfilter") == 0
    on, off = read_image(tmp_path / "on.png"), read_image(tmp_path / "off.png")
    assert not np.array_equal(on, off)
    assert np.array_equal(off, decompress(ibc.read_bytes(), load_model(str(plain))))


def test_a_filter_for_other_weights_or_damaged_is_refused(filtered, tmp_path, capsys):
    folder = runtime.filter_dir(filtered)
    info = json.loads((folder / "postfilter.json").read_text())
    (folder / "postfilter.json").write_text(json.dumps({**info, "base": {**info["base"], "sha256": "0" * 64}}))
    with pytest.raises(CodecError, match="trained for other weights"):
        load_model(str(filtered))
    (folder / "postfilter.json").write_text(json.dumps(info))
    (folder / "postfilter.onnx").write_bytes((folder / "postfilter.onnx").read_bytes()[:-10])
    weights._load.cache_clear()
    with pytest.raises(CodecError, match="damaged"):
        load_model(str(filtered))
    assert run("decompress", DATA / "sample.ibc", "-o", tmp_path / "x.png", "--model", filtered) == 2
    assert "damaged" in one_line_error(capsys)
    assert not (tmp_path / "x.png").exists()


def test_training_lowers_the_error_and_resumes(tmp_path):
    """A few steps on the shipped sample photo and its flips: the validation gain rises above zero; a
    resumed run goes on from the checkpoint's step."""
    data = tmp_path / "photos"
    data.mkdir()
    from PIL import Image
    img = read_image(SAMPLE)
    for name, a in [("a.png", img), ("b.png", img[::-1]), ("bsds_val_c.png", img[:, ::-1]), ("bsds_val_d.png", img[::-1, ::-1])]:
        Image.fromarray(np.ascontiguousarray(a)).save(data / name)
    cfg = trainer.FilterConfig(data=str(data), out=str(tmp_path / "run"), steps=60, val_every=60, crops=8, lr=2e-3)
    trainer.train(cfg)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    first, last = log[0]["val"], [r for r in log if "val" in r][-1]["val"]
    assert all(v["gain"] == 0 for v in first.values())  # step 0: the identity
    assert np.mean([v["gain"] for v in last.values()]) > 0
    trainer.train(trainer.FilterConfig(**{**asdict(cfg), "steps": 70}))
    assert torch.load(tmp_path / "run" / "checkpoint.pt", weights_only=False)["step"] == 70


def test_a_grown_filter_computes_what_it_grew_from():
    torch.manual_seed(3)
    small = PostFilter()
    with torch.no_grad():
        for q in small.parameters():
            q.normal_(0, 0.2)
    x, s = torch.rand(2, 3, 24, 40), torch.tensor([0.4, 0.9])
    for width, depth in [(16, 8), (32, 4), (24, 6)]:
        big = small.grown(width, depth)
        assert (big.width, big.depth, big.margin) == (width, depth, depth)
        assert torch.allclose(big(x, s), small(x, s), atol=1e-6)
    with pytest.raises(ValueError):
        small.grown(8, 4)


def test_a_grown_run_starts_where_its_init_ended_reuses_its_pool_and_exports_its_best(tmp_path):
    """--init from a smaller filter (grown), --pool from another run (no pool built), best.pt kept at the
    best validation, and export ships best.pt with that step's figures."""
    data = tmp_path / "photos"
    data.mkdir()
    from PIL import Image
    img = read_image(SAMPLE)
    for name, a in [("a.png", img), ("bsds_val_c.png", img[:, ::-1])]:
        Image.fromarray(np.ascontiguousarray(a)).save(data / name)
    first = trainer.FilterConfig(data=str(data), out=str(tmp_path / "small"), steps=30, val_every=30, crops=8,
                                 lr=2e-3, base="shannon-v2")
    trainer.train(first)
    small_val = [json.loads(line) for line in (tmp_path / "small" / "log.jsonl").read_text().splitlines()][-1]["val"]
    grown = trainer.FilterConfig(**{**asdict(first), "out": str(tmp_path / "big"), "depth": 6, "steps": 12,
                                    "val_every": 4, "init": str(tmp_path / "small" / "checkpoint.pt"),
                                    "pool": str(tmp_path / "small")})
    trainer.train(grown)
    big = tmp_path / "big"
    assert not (big / "pool").exists()
    log = [json.loads(line) for line in (big / "log.jsonl").read_text().splitlines()]
    vals = [r for r in log if "val" in r]
    for q, v in vals[0]["val"].items():  # step 0: the grown filter is the small one
        assert abs(v["gain"] - small_val[q]["gain"]) < 2e-3
    best = max(vals, key=lambda r: trainer.FilterTrainer.score(r["val"]))
    assert torch.load(big / "best.pt", weights_only=False)["step"] == best["step"]
    info = json.loads((trainer.export(big, tmp_path / "out") / "postfilter.json").read_text())
    assert info["validation"]["step"] == best["step"] and info["config"] == {"width": 16, "depth": 6}
    assert info["training"]["cpu_core_hours_with_warm_start"] >= info["training"]["cpu_core_hours"]


def test_the_shipped_wavelet_models_ship_their_filters():
    for name in ("shannon-v2", None):  # the previous default and the default
        lm = load_model(name)
        assert lm.postfilter is not None and lm.postfilter.info["base"]["sha256"] == lm.sha256


def test_export_validates_a_checkpoint_newer_than_its_last_validation(tmp_path):
    """The exported json's figures are the exported filter's: measured on the run's validation pool when
    the log's last validation is older than the checkpoint."""
    run_dir = _run_folder(tmp_path / "run", load_model(str(SHIPPED)).sha256, seed=1)
    state = torch.load(run_dir / "checkpoint.pt", weights_only=False)
    torch.save({**state, "step": 7}, run_dir / "checkpoint.pt")
    img = read_image(SAMPLE)[:256, :256]
    np.savez(run_dir / "pool" / "val-000.npz", x=img[None], c=np.clip(img.astype(int) + 3, 0, 255).astype(np.uint8)[None],
             step=np.array([40.0]))
    info = json.loads((trainer.export(run_dir, tmp_path / "out") / "postfilter.json").read_text())
    assert info["validation"]["step"] == 7 and list(info["validation"]["by_step"]) == ["40.0"]
    assert info["validation"]["by_step"]["40.0"]["gain"] != 0.0  # a filter with weights changes the crop
