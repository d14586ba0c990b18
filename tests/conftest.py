"""Shared fixtures: a tiny data-initialised model saved as weights, and generated images."""
import os
import tempfile

import numpy as np
import pytest
import torch

from ibc.codec.weights import load_model
from ibc.codec.weights_torch import save_weights
from ibc.models import CodecModel, ModelConfig

# The suite never reads or writes the user's own models (`ibc train` installs into this directory).
os.environ["IBC_MODEL_PATH"] = tempfile.mkdtemp(prefix="ibc-test-models-")

TINY = ModelConfig(hidden=8, refine=4, codebook_size=16, stages=3, ctx_buckets=4)


def natural_like(h: int, w: int, seed: int = 0) -> np.ndarray:
    """(h,w,3) uint8: smooth gradients, edges and mild noise, so every coding path gets exercised."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w, 2)
    img = np.stack([np.sin(6 * xx + c) * 0.4 + 0.5 + 0.2 * (yy > 0.5) for c in range(3)], axis=-1)
    img += rng.normal(0, 0.03, img.shape)
    return (np.clip(img, 0, 1) * 255).round().astype(np.uint8)


def tiny_model(seed: int = 0, context: bool = True) -> CodecModel:
    """A tiny model with a data (k-means) initialisation and a fitted entropy model: no training.

    With `context`, the last layers of the 3×3 branches are random rather than zero (as if trained), so
    that each latent and pixel depends on its neighbours, as in a trained model, and the tile margins
    matter; without it the model is the plain block transform."""
    torch.manual_seed(seed)
    model = CodecModel(TINY)
    x = torch.from_numpy(np.stack([natural_like(64, 64, s) for s in range(4)])).permute(0, 3, 1, 2).float() / 255
    blocks = model.encoder.unshuffle(x).permute(0, 2, 3, 1).reshape(-1, TINY.channels)
    model.init_block_transform(blocks)
    with torch.no_grad():
        if context:
            for layer in (model.encoder.branch[-1], model.decoder.branch[-1], model.decoder.refine[-1]):
                layer.weight.normal_(0, 0.05)
        y = model.encoder(x)
        model.quantizer.kmeans_init(y, iters=4)
    return model


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


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "tiny.pt"
    save_weights(tiny_model(), path, "tiny")
    return path


@pytest.fixture(scope="session")
def tiny(tiny_weights):
    return load_model(str(tiny_weights))


def tiny_gc_model(base: CodecModel, seed: int = 0) -> CodecModel:
    """A tiny generative model on `base` whose noise branches are random rather than zero (as if trained),
    so that the noise u visibly changes the pixels."""
    from ibc.codec.training.generative import gc_model
    torch.manual_seed(seed)
    model = gc_model(base, noise_channels=2, pixel_noise=1, texture=4, gc_levels=2)
    with torch.no_grad():
        for layer in (model.gen_decoder.detail[-1], model.gen_decoder.texture[-1]):
            layer.weight.normal_(0, 0.05)
    return model


@pytest.fixture(scope="session")
def tiny_gc_weights(tiny_weights, tiny):
    """Weights of a tiny gc model built on `tiny` (its manifest-style `base` names tiny's sha256)."""
    path = tiny_weights.parent / "tiny-gc.pt"
    save_weights(tiny_gc_model(tiny.model), path, "tiny-gc", {"base": {"name": "tiny", "sha256": tiny.sha256}})
    return path


@pytest.fixture(scope="session")
def tiny_gc(tiny_gc_weights):
    return load_model(str(tiny_gc_weights))


@pytest.fixture(scope="session")
def photos(tmp_path_factory):
    """A training folder: six generated 72×88 photographs."""
    from PIL import Image
    folder = tmp_path_factory.mktemp("photos")
    for i in range(6):
        Image.fromarray(natural_like(72, 88, seed=i)).save(folder / f"img{i}.png")
    return folder


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
    from ibc.models.wavelet_codec import WaveletCodec
    from ibc.models.wavelet_design import design
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
