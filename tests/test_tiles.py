import numpy as np
import pytest
import torch

from ibc.codec.tiles import decode_tile, encode_tile
from ibc.models.entropy import FREQ_TOTAL


@pytest.mark.parametrize("shape", [(1, 2, 1, 1), (3, 4, 5, 7), (2, 3, 32, 32)])
def test_index_round_trip_is_exact(shape):
    L, G, h, w = shape
    K, buckets = 16, 4
    rng = np.random.default_rng(1)
    idx = rng.integers(0, K, size=shape)
    freqs = rng.integers(1, 500, size=(L, G, K, K)).astype(np.int32)
    bins = torch.from_numpy(rng.integers(0, buckets, size=(G, K)))
    payload = encode_tile(idx, freqs, bins, buckets)
    assert np.array_equal(decode_tile(payload, shape, freqs, bins, buckets), idx)


def test_context_tables_matter():
    """Stage 2 coded with rows that put mass on the previous stage's index costs far fewer bits."""
    L, G, h, w, K = 2, 1, 16, 16, 8
    rng = np.random.default_rng(2)
    first = rng.integers(0, K, size=(G, h, w))
    idx = np.stack([first, first])  # stage 2 repeats stage 1
    bins = torch.zeros(G, K, dtype=torch.int64)
    flat = np.full((L, G, K, K), 1, dtype=np.int32)
    informed = flat.copy()
    informed[1, 0] += (np.eye(K, dtype=np.int32) * (FREQ_TOTAL // 2))
    sizes = [len(encode_tile(idx, f, bins, 2)) for f in (flat, informed)]
    assert sizes[1] < 0.75 * sizes[0]
