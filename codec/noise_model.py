"""Generative (gc) models of the wavelet architecture: a randomized decoder on a Shannon-AE v2 model's
bitstream, stored as a small `.npz` (no torch needed to load or run it):

    sigma    (N_CLASSES, N_CTX) float64   the noise amplitudes, in quantiser steps (codec.noise_fill)
    levels   (n,) int                     the wavelet levels it fills (1 = finest)
    meta     0-d str                      JSON: format, name, base {name, sha256}, how it was made
    head     (n,) uint8                   optional: the trained generative head's ONNX graph
                                          (codec.generative_head; meta["head"] has its margin)

It reads the files of its base (whose coder it runs) and writes the same payload, marked mode "gc"."""
import json
from pathlib import Path

import numpy as np

from .errors import CodecError
from .generative_head import HeadRunner
from .loaded_model import LoadedModel, sha256_of
from .noise_fill import NoiseFill

NOISE_FORMAT = "ibc-noise-fill-1"


def save_noise_model(path: Path, noise: NoiseFill, meta: dict, head: bytes | None = None) -> str:
    """Write a gc model atomically; `meta` must hold name and base {name, sha256}, and with a `head` (its
    ONNX graph) meta["head"]["margin"]. Returns its sha256."""
    path = Path(path)
    tmp = path.with_name(path.stem + ".tmp.npz")
    extra = {"head": np.frombuffer(head, np.uint8)} if head is not None else {}
    np.savez(tmp, sigma=noise.sigma, levels=np.array(noise.levels, np.int64),
             meta=np.array(json.dumps({"format": NOISE_FORMAT, **meta}, ensure_ascii=False)), **extra)
    tmp.replace(path)
    return sha256_of(path)


def load_noise_model(path: Path, find_by_hash, backend: str = "auto") -> LoadedModel:
    """A gc model and its base, found by `find_by_hash(hash, backend=…)` (codec.weights')."""
    try:
        with np.load(path, allow_pickle=False) as z:
            sigma, levels, meta = z["sigma"], z["levels"], json.loads(str(z["meta"]))
            graph = z["head"].tobytes() if "head" in z.files else None
        if meta.get("format") != NOISE_FORMAT:
            raise ValueError(f"format {meta.get('format')!r}")
        noise = NoiseFill(sigma, tuple(levels))
        head = HeadRunner(graph, meta["head"]["margin"]) if graph is not None else None
        base_sha = meta["base"]["sha256"]
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise CodecError(f"{path}: not an ibc generative model ({type(e).__name__}: {e})") from None
    base = find_by_hash(bytes.fromhex(base_sha[:16]), backend=backend)
    if base is None or base.sha256 != base_sha or base.noise is not None:
        raise CodecError(f"{path}: its base model {meta['base'].get('name')!r} ({base_sha[:16]}) is not installed")
    return LoadedModel(meta.get("name", Path(path).stem), sha256_of(path), base.model, meta, base.coder,
                       base.backend, noise, base.postfilter, head)
