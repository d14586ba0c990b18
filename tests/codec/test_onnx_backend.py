"""The torch-free coding path (issue 14): wavelet models on ONNX Runtime against the same models on torch.

The coding path imports no torch; for the shipped model both backends' encoders write the same bytes and
their decoders the same pixels; files from either decode with either; ONNX pixels do not depend on the
intra-op thread count; stale, damaged and missing bundles and unknown backends are refused with one clear error."""
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from ibc.codec import weights
from ibc.codec.api import compress, decompress
from ibc.codec.coding_bundle import bundle_dir, load_bundle
from ibc.codec.errors import CodecError
from ibc.codec.files import compress_file, decompress_file
from ibc.codec.image_io import read_image
from ibc.codec.onnx_steps import OnnxSteps
from ibc.codec.step_code import step_from_code
from ibc.codec.training.wavelet_model import WaveletCodec
from ibc.codec.training.weights_torch import save_weights
from ibc.codec.wavelet_api import code_of_quality
from ibc.codec.weights import WEIGHTS_DIR, load_model

from conftest import DATA, one_line_error, run
from test_wavelet_codec import photo_like

SAMPLE, GOLDEN = DATA / "sample.png", DATA / "sample.ibc"
SHIPPED = WEIGHTS_DIR / "shannon-v4.pt"  # the default


def backends(path=None) -> tuple:
    """The model at `path` (default: the shipped default) on onnx and on torch, checked to be so."""
    name = str(path) if path else None
    onnx, torch_ = load_model(name, backend="onnx"), load_model(name, backend="torch")
    assert (onnx.backend, onnx.model, torch_.backend) == ("onnx", None, "torch")
    assert onnx.sha256 == torch_.sha256
    return onnx, torch_


def max_diff(a: np.ndarray, b: np.ndarray) -> int:
    assert a.shape == b.shape and a.dtype == b.dtype == np.uint8
    return int(np.abs(a.astype(np.int16) - b).max())


@pytest.fixture
def fresh_cache():
    """`_load` is cached by (path, backend): tests that change files on disk start and end uncached."""
    weights._load.cache_clear()
    yield
    weights._load.cache_clear()


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    """Weights of a tiny wavelet model other than the shipped ones (a perturbed colour matrix, scalar-grid
    codebooks and uniform priors, frozen without a design), and its coding bundle by `ibc export`."""
    model = WaveletCodec(tile=128)
    with torch.no_grad():
        model.transform.color.weight.add_(torch.from_numpy(np.random.default_rng(0).normal(0, 0.02, (3, 3))))
    model.freeze()
    path = tmp_path_factory.mktemp("exported") / "exported.pt"
    save_weights(model, path, "exported")
    assert run("export", path, "--onnx-only") == 0 and (bundle_dir(path) / "coding.json").is_file()
    return path


# -- 1. no torch --------------------------------------------------------------------------------------
NO_TORCH = r"""
import hashlib, importlib.abc, json, sys
from pathlib import Path

BLOCKED = ("torch", "torchvision", "compressai")

class Blocker(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"blocked by the test: {name}", name=name)
        return None

sys.meta_path.insert(0, Blocker())
sample, golden, tmp = map(Path, sys.argv[1:4])

import ibc
from ibc.codec import api
from ibc.codec.image_io import read_image
from ibc.codec.weights import load_model
from ibc.cli.main import main

out = {"backend": load_model().backend}
rgb = read_image(sample)
out["api_compress"] = api.compress(rgb) == golden.read_bytes()
out["ibc_compress_path"] = ibc.compress(str(sample)) == golden.read_bytes()
out["api_pixels"] = hashlib.sha256(api.decompress(golden.read_bytes()).tobytes()).hexdigest()
out["ibc_pixels"] = hashlib.sha256(ibc.decompress(golden.read_bytes()).tobytes()).hexdigest()
out["cli_compress"] = main(["compress", str(sample), "-o", str(tmp / "cli.ibc"), "--quiet"])
out["cli_bytes"] = (tmp / "cli.ibc").read_bytes() == golden.read_bytes()
out["cli_decompress"] = main(["decompress", str(tmp / "cli.ibc"), "-o", str(tmp / "cli.png"), "--quiet"])
out["cli_pixels"] = hashlib.sha256(read_image(tmp / "cli.png").tobytes()).hexdigest()
out["cli_info"] = main(["info", str(tmp / "cli.ibc"), "--json"])
try:
    import torch  # noqa: F401  (the blocker must really be in the way)
    out["blocker"] = "torch imported"
except ImportError:
    out["blocker"] = "works"
out["torch_modules"] = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED or m.startswith("torch"))
print(json.dumps(out))
"""


def test_the_coding_path_runs_without_torch(tmp_path):
    proc = subprocess.run([sys.executable, "-c", NO_TORCH, str(SAMPLE), str(GOLDEN), str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    out = json.loads(proc.stdout.splitlines()[-1])
    golden = GOLDEN.read_bytes()
    expected = hashlib.sha256(decompress(golden, load_model(backend="torch")).tobytes()).hexdigest()
    assert out == {"backend": "onnx", "api_compress": True, "ibc_compress_path": True, "api_pixels": expected,
                   "ibc_pixels": expected, "cli_compress": 0, "cli_bytes": True, "cli_decompress": 0,
                   "cli_pixels": expected, "cli_info": 0, "blocker": "works", "torch_modules": []}
    info = json.loads(proc.stdout[proc.stdout.index("{"):proc.stdout.index("}") + 1])  # `info --json`
    assert (info["model"], info["width"], info["height"], info["bytes"]) == ("shannon-v4", 384, 256, len(golden))


# -- 2. both ways, the shipped model ------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(200, 330), (64, 64), (520, 580)])  # the last: 2×2 tiles of 512
def test_both_backends_write_the_same_files_and_read_each_others(shape):
    onnx, torch_ = backends()
    img = photo_like(*shape, seed=shape[1])
    # the shipped transform is linear, element-wise float64 lifting (no learned corrections, no reductions
    # whose order a CPU or a thread count could change): the coefficients agree to the bit on any machine,
    # which is why the bytes may be compared (test_golden.py says the same of the golden file)
    assert np.array_equal(onnx.coder.analysis(img), torch_.coder.analysis(img))
    for q in (10, 50, 90):
        data = compress(img, onnx, quality=q)
        assert compress(img, torch_, quality=q) == data, q  # the same bytes: each decodes with the other
        by_onnx, by_torch = decompress(data, onnx), decompress(data, torch_)
        assert max_diff(by_onnx, by_torch) <= 1
        assert np.array_equal(by_onnx, by_torch)  # in fact equal for the shipped model


def test_an_exported_model_codes_the_same_bytes_on_both_backends(exported, capsys):
    onnx, torch_ = backends(exported)
    img = photo_like(96, 160, seed=3)
    assert np.array_equal(onnx.coder.analysis(img), torch_.coder.analysis(img))
    for q in (10, 50, 90):
        data = compress(img, onnx, quality=q)
        assert compress(img, torch_, quality=q) == data, q
        assert np.array_equal(decompress(data, onnx), decompress(data, torch_))
    assert run("export", exported) == 0  # --onnx-only is the only kind of export: the flag may go
    assert "ONNX coding graphs" in capsys.readouterr().out


def test_both_backends_meet_a_size_target_with_the_same_file():
    onnx, torch_ = backends()
    img = photo_like(120, 200, seed=4)
    budget = len(compress(img, onnx, quality=50)) * 3 // 4
    a, b = compress(img, onnx, size=budget), compress(img, torch_, size=budget)
    assert a == b and 0.9 * budget <= len(a) <= budget
    assert np.array_equal(decompress(a, torch_), decompress(b, onnx))


# -- 3. thread count ----------------------------------------------------------------------------------
def test_onnx_steps_do_not_depend_on_the_intra_op_thread_count(exported):
    x = np.random.default_rng(0).uniform(-128, 128, (3, 136, 200))  # a window with its margins
    for folder in (bundle_dir(SHIPPED), bundle_dir(exported)):
        steps = []
        for n in (1, 4):
            s = OnnxSteps(folder)
            s.options.intra_op_num_threads = n  # before any session opens
            steps.append(s)
        for level in (0, 2, 4):
            y = [s.analysis_2d(x, level) for s in steps]
            assert y[0].shape == x.shape and y[0].dtype == np.float64
            assert np.array_equal(y[0], y[1])
            back = [s.synthesis_2d(y[0], level) for s in steps]
            assert np.array_equal(back[0], back[1])
            np.testing.assert_allclose(back[0], x, atol=1e-3)  # and the synthesis inverts the analysis


@pytest.mark.parametrize("which", ["shipped", "exported"])
def test_onnx_decoding_does_not_depend_on_the_intra_op_thread_count(which, exported):
    path = SHIPPED if which == "shipped" else exported
    coders = []
    for n in (1, 4):
        coder = load_bundle(path).coder  # not the cached one: its sessions are still to open
        coder.transform.steps.options.intra_op_num_threads = n
        coders.append(coder)
    img, step = photo_like(150, 270, seed=2), step_from_code(code_of_quality(60))
    tiles = coders[0].encode(img, step)
    out = [c.decode(tiles, 150, 270, step) for c in coders]
    assert np.array_equal(out[0], out[1]) and max_diff(out[0], img) > 0


# -- 4. refusals --------------------------------------------------------------------------------------
def _copy_shipped(folder: Path, bundle: bool = True) -> Path:
    pt = folder / SHIPPED.name
    shutil.copy(SHIPPED, pt)
    if bundle:
        shutil.copytree(bundle_dir(SHIPPED), bundle_dir(pt))
    return pt


def _refused_everywhere(pt: Path, words: str, tmp_path: Path, capsys) -> None:
    """load_model(backend="onnx") raises CodecError with `words`; so do the file jobs; and the CLI prints
    one `ibc: error:` line, exits 2 and writes no output file."""
    with pytest.raises(CodecError, match=words):
        load_model(str(pt), backend="onnx")
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(CodecError, match=words):
        compress_file(SAMPLE, out / "api.ibc", model=str(pt), backend="onnx")
    with pytest.raises(CodecError, match=words):
        decompress_file(GOLDEN, out / "api.png", model=str(pt), backend="onnx")
    capsys.readouterr()
    assert run("compress", SAMPLE, "-o", out / "cli.ibc", "--model", pt, "--backend", "onnx") == 2
    assert words in one_line_error(capsys)
    assert run("decompress", GOLDEN, "-o", out / "cli.png", "--model", pt, "--backend", "onnx") == 2
    assert words in one_line_error(capsys)
    assert list(out.iterdir()) == []


def test_a_bundle_made_for_other_weights_is_refused(tmp_path, fresh_cache, capsys):
    pt = _copy_shipped(tmp_path)
    info_path = bundle_dir(pt) / "coding.json"
    info = json.loads(info_path.read_text())
    info["weights_sha256"] = "0" * 64
    info_path.write_text(json.dumps(info))
    _refused_everywhere(pt, "made for other weights", tmp_path, capsys)


def test_a_bundle_beside_other_weights_is_refused(tmp_path, exported, fresh_cache, capsys):
    """The shipped bundle beside a different .pt of the same name (a stale export)."""
    pt = tmp_path / SHIPPED.name
    shutil.copy(exported, pt)
    shutil.copytree(bundle_dir(SHIPPED), bundle_dir(pt))
    assert load_model(str(pt), backend="torch").name == "exported"  # the .pt itself is fine
    _refused_everywhere(pt, "made for other weights", tmp_path, capsys)


@pytest.mark.parametrize("graph", ["analysis-1.onnx", "synthesis-3.onnx"])
def test_a_damaged_graph_is_refused(graph, tmp_path, fresh_cache, capsys):
    pt = _copy_shipped(tmp_path)
    assert load_model(str(pt), backend="onnx").backend == "onnx"  # whole, the copy loads
    weights._load.cache_clear()
    path = bundle_dir(pt) / graph
    blob = bytearray(path.read_bytes())
    blob[len(blob) // 2] ^= 0x01
    path.write_bytes(bytes(blob))
    _refused_everywhere(pt, "damaged", tmp_path, capsys)


def test_onnx_backend_needs_a_bundle(tmp_path, fresh_cache, capsys):
    pt = _copy_shipped(tmp_path, bundle=False)
    assert load_model(str(pt)).backend == "torch"  # auto falls back to torch
    _refused_everywhere(pt, "no ONNX graphs", tmp_path, capsys)


def test_an_unknown_backend_is_refused(tmp_path, capsys):
    for backend in ("tensorflow", "ONNX", ""):
        with pytest.raises(CodecError, match="unknown backend"):
            load_model(backend=backend)
        with pytest.raises(CodecError, match="unknown backend"):
            compress_file(SAMPLE, tmp_path / "x.ibc", backend=backend)
    with pytest.raises(SystemExit) as e:  # the CLI's argparse refuses it before anything loads
        run("compress", SAMPLE, "-o", tmp_path / "x.ibc", "--backend", "tensorflow")
    assert e.value.code == 2 and "invalid choice" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


# -- 5. the CLI on both backends ----------------------------------------------------------------------
def test_cli_round_trips_on_both_backends_agree(tmp_path, capsys):
    for backend in ("torch", "onnx"):
        assert run("compress", SAMPLE, "-o", tmp_path / f"{backend}.ibc", "--backend", backend, "--quiet") == 0
    data = (tmp_path / "onnx.ibc").read_bytes()
    assert (tmp_path / "torch.ibc").read_bytes() == data == GOLDEN.read_bytes()
    for made in ("torch", "onnx"):
        for backend in ("torch", "onnx"):
            png = tmp_path / f"{made}-by-{backend}.png"
            assert run("decompress", tmp_path / f"{made}.ibc", "-o", png, "--backend", backend, "--quiet") == 0
    pixels = [read_image(p) for p in sorted(tmp_path.glob("*.png"))]
    assert len(pixels) == 4 and all(np.array_equal(pixels[0], p) for p in pixels[1:])
    assert max_diff(pixels[0], read_image(SAMPLE)) > 0  # a lossy decode, not a copy of the input
    assert capsys.readouterr().err == ""
