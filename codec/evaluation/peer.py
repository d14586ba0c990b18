"""The CompressAI peer in `ibc eval`: a checkpoint of `ibc train --arch compressai-…`, coded by CompressAI's
own real compress/decompress, its strings packed into one byte string."""
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..training.peer import build_peer, load_peer_checkpoint
from .codecs import OneDecoder


def _pad(rgb: np.ndarray) -> tuple[torch.Tensor, tuple[int, int]]:
    """(H,W,3) uint8 → (1,3,H',W') in [0,1], zero-padded to a multiple of 64 (the models' stride)."""
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1)[None].float() / 255
    H, W = x.shape[2:]
    return F.pad(x, (0, -W % 64, 0, -H % 64)), (H, W)


def pack(strings: list[list[bytes]], shape, size: tuple[int, int]) -> bytes:
    """CompressAI's output as one byte string: image and latent sizes, then each stream length-prefixed."""
    parts = [struct.pack("<IIII", *size, *shape)]
    for stream in strings:
        parts += [struct.pack("<I", len(stream[0])), stream[0]]
    return b"".join(parts)


def unpack(data: bytes, streams: int):
    H, W, h, w = struct.unpack_from("<IIII", data)
    pos, strings = 16, []
    for _ in range(streams):
        (n,) = struct.unpack_from("<I", data, pos)
        strings.append([data[pos + 4:pos + 4 + n]])
        pos += 4 + n
    return strings, (h, w), (H, W)


@dataclass
class PeerCoder(OneDecoder):
    """A trained peer checkpoint behind the interface of the other codecs in `ibc eval`."""
    path: Path
    sweep: tuple = ("ckpt",)

    def __post_init__(self):
        state = load_peer_checkpoint(self.path)
        self.arch, self.step = state["arch"], state["step"]
        self.net = build_peer(self.arch).eval()
        self.net.load_state_dict(state["model"])
        self.net.update(force=True)
        self.streams = len(self.net.compress(torch.zeros(1, 3, 64, 64))["strings"])

    @property
    def name(self) -> str:
        return f"compressai:{self.path.parent.name}"

    @property
    def label(self) -> str:
        return f"{self.arch} ({self.path.parent.name}, {self.step} steps)"

    @property
    def key(self) -> str:
        return f"{self.name}@{self.step}@{self.path.stat().st_mtime_ns}"

    @torch.inference_mode()
    def encode(self, rgb: np.ndarray, setting) -> bytes:
        x, size = _pad(rgb)
        out = self.net.compress(x)
        return pack(out["strings"], out["shape"], size)

    @torch.inference_mode()
    def decode(self, data: bytes) -> np.ndarray:
        strings, shape, (H, W) = unpack(data, self.streams)
        x_hat = self.net.decompress(strings, shape)["x_hat"][0, :, :H, :W].clamp(0, 1)
        return (x_hat * 255).round().byte().permute(1, 2, 0).numpy()
