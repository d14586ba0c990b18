"""The --size / --target-bpp search of wavelet models: the finest step code whose real payloads fit, found
on estimated lengths with few range-coded trials, and its progress (a bar on a terminal only)."""
import io
import sys

import numpy as np
import pytest
from PIL import Image

from ibc.codec import wavelet_api
from ibc.codec.api import compress
from ibc.codec.step_code import step_from_code
from ibc.codec.wavelet_api import encode_payloads

from conftest import natural_like, run


def real_bytes(lm, rgb, code: int) -> int:
    H, W, _ = rgb.shape
    return wavelet_api._tile_payloads(lm.coder, lm.coder.analysis(rgb), H, W, step_from_code(code))[0]


@pytest.mark.parametrize("shape, seed", [((96, 128), 1), ((200, 330), 2)])
def test_the_answer_is_the_finest_code_whose_real_payloads_fit(tiny_wavelet, shape, seed):
    img = natural_like(*shape, seed=seed)
    smallest, largest = (real_bytes(tiny_wavelet, img, c) for c in (700, 300))
    for budget in np.geomspace(smallest * 1.3, largest * 0.9, 6).astype(int):
        code, payloads = encode_payloads(img, tiny_wavelet, budget=budget)
        assert sum(map(len, payloads)) <= budget < real_bytes(tiny_wavelet, img, code - 1), budget
        assert payloads == wavelet_api._tile_payloads(
            tiny_wavelet.coder, tiny_wavelet.coder.analysis(img), *shape, step_from_code(code))[1]


def test_estimates_are_within_a_few_bytes_of_the_real_payloads(tiny_wavelet):
    """The trials' estimate (ideal code lengths, no range coding) against the range coder's bytes."""
    img = natural_like(200, 330, seed=3)
    y, tiles = tiny_wavelet.coder.analysis(img), len(tiny_wavelet.coder.tiles(200, 330))
    for code in (350, 450, 550, 650):
        estimate, none = wavelet_api._tile_payloads(tiny_wavelet.coder, y, 200, 330, step_from_code(code), code=False)
        assert none is None
        assert abs(estimate - real_bytes(tiny_wavelet, img, code)) <= 3 * tiles


def test_the_search_reports_progress_and_range_codes_few_trials(tiny_wavelet, monkeypatch):
    img = natural_like(200, 330, seed=4)
    passes, seen = [], []
    tile_payloads = wavelet_api._tile_payloads

    def counted(*args, code=True, **kwargs):
        passes.append(code)
        return tile_payloads(*args, code=code, **kwargs)

    monkeypatch.setattr(wavelet_api, "_tile_payloads", counted)
    budget = 1.01 * real_bytes(tiny_wavelet, img, 500)
    passes.clear()
    encode_payloads(img, tiny_wavelet, budget=budget, progress=lambda done, total: seen.append((done, total)))
    trials = [done for done, _ in seen]
    assert trials == list(range(len(seen))) and seen[-1][0] == seen[-1][1] <= len(passes)
    assert all(done < total for done, total in seen[:-1]) and [t for _, t in seen] == sorted(t for _, t in seen)[::-1]
    assert sum(passes) < len(passes)  # some trials are estimates only (the search before coded every one)


def test_size_on_the_command_line_shows_a_bar_on_a_terminal_only(tmp_path, tiny_wavelet, tiny_wavelet_weights,
                                                                 monkeypatch):
    img = natural_like(96, 128, seed=5)
    src = tmp_path / "photo.png"
    Image.fromarray(img).save(src)
    size = len(compress(img, tiny_wavelet, quality=50))

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    for stderr, bar in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stderr)
        assert run("compress", src, "--model", tiny_wavelet_weights, "--size", size, "-o", tmp_path / "x.ibc",
                   "--force") == 0
        assert ("compress --size" in stderr.getvalue()) == bar and (stderr.getvalue() == "") != bar
        assert len((tmp_path / "x.ibc").read_bytes()) <= size
