"""Shared fixtures: a tiny designed wavelet model saved as weights, and generated images."""
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from ibc.codec.training.weights_torch import save_weights
from ibc.codec.weights import load_model

ROOT = Path(__file__).resolve().parent.parent  # the repository
DATA = ROOT / "tests" / "data"  # the sample image and files of the shipped models

# The suite never reads or writes the user's own models (`ibc train` installs into this directory).
os.environ["IBC_MODEL_PATH"] = tempfile.mkdtemp(prefix="ibc-test-models-")


# the start of a `python -c` program in which torch (and what needs it) cannot be imported: the coding path
BLOCK_TORCH = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split('.')[0] in ('torch', 'torchvision', 'compressai'):
            raise ImportError('blocked: ' + name)
sys.meta_path.insert(0, Block())
"""


def natural_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h,w,3) uint8: smooth gradients, edges and mild noise, so every coding path gets exercised."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 2)
    img = np.stack([np.sin(6 * xx + c) * 0.4 + 0.5 + 0.2 * (yy > 0.5) for c in range(3)], axis=-1)
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def split_chunks(data: bytes) -> tuple[bytes, list[bytes]]:
    """An .ibc file → (header bytes, each chunk's bytes: length, payload and CRC), to move chunks about."""
    from ibc.codec.bitstream import parse_header
    header, pos = parse_header(data)
    head, chunks = data[:pos], []
    for _ in range(header.chunks):
        end = pos + 8 + int.from_bytes(data[pos:pos + 4], "little")
        chunks.append(data[pos:end])
        pos = end
    return head, chunks


def payloads(data: bytes) -> list[bytes]:
    """An .ibc file's range-coded payloads (its chunks' CRCs also cover its header)."""
    from ibc.codec.bitstream import parse_chunks, parse_header
    header, offset = parse_header(data)
    return parse_chunks(data, offset, header.chunks)


RETIRED_PAYLOADS = [b"\x5a" * 40, b"\xa5" * 24]


def older_file(header, payloads: list[bytes], version: int) -> bytes:
    """The file as format version 3 (no step weights) or 2 (no step code either) wrote it; CRCs recomputed."""
    from ibc.codec import bitstream
    v4 = bitstream.serialise(header, payloads)
    _, offset = bitstream.parse_header(v4)
    cut = 22 if version == 2 else 24  # the step code is bytes 22–23, the step weights bytes 24–29
    head = bytes([*v4[:4], version]) + v4[5:cut] + v4[30:offset - 4]
    head_crc = bitstream._crc(head)
    return head + head_crc + b"".join(bitstream._U32.pack(len(p)) + p + bitstream._chunk_crc(head_crc, i, p)
                                      for i, p in enumerate(payloads))


def retired_file(model: str, weights_hash: bytes, mode: str = "shannon", level: int = 1, version: int = 3) -> bytes:
    """A block model's file as ibc 0.1.0 wrote it (format version 3; version 2: no step code, which only
    block models wrote): a level, step code 0, tiles in latent positions; the payloads are never read."""
    from ibc.codec import bitstream
    header = bitstream.Header(mode, level, 384, 256, 0, 32, model, weights_hash, len(RETIRED_PAYLOADS))
    return older_file(header, RETIRED_PAYLOADS, version)


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """A training folder: six generated 72×88 photographs."""
    from PIL import Image
    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        Image.fromarray(natural_like(72, 88, seed=i)).save(folder / f"img{i}.png")
    return folder


@pytest.fixture(autouse=True)
def quick_c2st(monkeypatch):
    """`ibc eval`'s realism judge (the C2ST) on 2 training steps per fold: the tests that run eval check how it
    runs and caches the judge, tests/evaluation/test_c2st.py checks the judgement itself."""
    from ibc.codec.evaluation import evaluate
    monkeypatch.setitem(evaluate.C2ST, "steps", 2)


@pytest.fixture(scope="module")
def one_thread():
    """One torch thread, the way `ibc eval` runs by default, and kind to a machine that is training."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def run(*argv) -> int:
    """The `ibc` command in-process."""
    from ibc.cli.main import main
    return main([str(a) for a in argv])


def one_line_error(capsys) -> str:
    """What the CLI printed on stderr, checked to be exactly one error line and no traceback."""
    err = capsys.readouterr().err
    assert err.startswith("ibc: error: ") and err.count("\n") == 1 and "Traceback" not in err
    return err


def tiny_wavelet_model():
    """A wavelet (v2) model with 128-pixel tiles, designed in a few seconds on three generated images."""
    from ibc.codec.training.wavelet_design import design
    from ibc.codec.training.wavelet_model import WaveletCodec
    model = WaveletCodec(tile=128)
    design(model, [natural_like(128, 192, seed=s) for s in range(3)], (12.0, 40.0), rounds=1)
    return model


@pytest.fixture(scope="session")
def tiny_wavelet_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("wavelet") / "tiny-wavelet.pt"
    save_weights(tiny_wavelet_model(), path, "tiny-wavelet")
    return path


@pytest.fixture(scope="session")
def tiny_wavelet(tiny_wavelet_weights):
    return load_model(str(tiny_wavelet_weights))


@pytest.fixture
def tiny_gc(tiny_wavelet_weights, tmp_path_factory, monkeypatch):
    """The path of a tiny gc model on tiny-wavelet (the same noise amplitude, 1.5 steps, everywhere on the
    three finest levels), both installed in a user model directory of the test's own, as `ibc train
    --mode gc` would: a gc model decodes its base's files, so its base must be installed."""
    import shutil
    from ibc.codec.noise_model import save_noise_model
    from ibc.codec.weights import add_to_manifest
    from ibc.codec.noise_fill import N_CTX, NoiseFill
    from ibc.codec.subband_vq import N_CLASSES
    folder = tmp_path_factory.mktemp("models")
    monkeypatch.setenv("IBC_MODEL_PATH", str(folder))
    base = folder / "tiny-wavelet.pt"
    shutil.copyfile(tiny_wavelet_weights, base)
    entry = add_to_manifest(base, {}, weights_dir=folder)
    path = folder / "tiny-gc.npz"
    save_noise_model(path, NoiseFill(np.full((N_CLASSES, N_CTX), 1.5), (1, 2, 3)),
                     {"name": "tiny-gc", "base": {"name": "tiny-wavelet", "sha256": entry["sha256"]}})
    add_to_manifest(path, {}, weights_dir=folder)
    return path
