"""The stand-alone trainers' command lines: one option per config field, tuples as comma-separated numbers."""
import argparse

import pytest

from ibc.codec.training.config import add_options, from_options
from ibc.codec.training.postfilter import FilterConfig


def test_tuple_fields_take_comma_separated_numbers_and_the_rest_keep_their_types():
    p = argparse.ArgumentParser()
    add_options(p, FilterConfig)
    cfg = from_options(p.parse_args(["--qualities", "12.5,70", "--codes", "140,176,170,158,128,64",
                                     "--tune", "ms-ssim", "--lr", "1e-4"]), FilterConfig)
    assert cfg.qualities == (12.5, 70) and cfg.codes == (140, 176, 170, 158, 128, 64)
    assert all(isinstance(c, int) for c in cfg.codes) and cfg.tune == "ms-ssim" and cfg.lr == 1e-4
    assert from_options(p.parse_args([]), FilterConfig) == FilterConfig()
    with pytest.raises(SystemExit):
        p.parse_args(["--qualities", "ten,80"])
