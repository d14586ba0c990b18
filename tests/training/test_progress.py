"""Signs of life in slow set-up steps of training: the wavelet design reports its progress, and the
training layer draws it as a bar on a terminal only."""
import io
import sys

from ibc.codec.training.loop import progress_bar
from ibc.codec.training.wavelet_design import design
from ibc.codec.training.wavelet_model import WaveletCodec

from conftest import natural_like


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_design_reports_every_image_at_every_step_of_every_round():
    seen = []
    images = [natural_like(64, 128, seed=s) for s in range(2)]
    design(WaveletCodec(tile=64), images, (12.0, 40.0), rounds=1, progress=lambda d, t: seen.append((d, t)))
    assert seen == [(k, 12) for k in range(1, 13)]  # 2 images × 2 steps × (scalar, 1 round, final count)


def test_the_bar_is_drawn_on_a_terminal_only(monkeypatch):
    for stderr, shown in ((io.StringIO(), False), (Terminal(), True)):
        monkeypatch.setattr(sys, "stderr", stderr)
        with progress_bar("design") as progress:
            for k in range(1, 4):
                progress(k, 3)
        assert ("design" in stderr.getvalue()) == shown and (stderr.getvalue() == "") != shown
