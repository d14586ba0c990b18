"""The Python API and the help a new user reads: `from ibc import …`, `--version`, a default in every
option's help, and no options offered that cannot run."""
import argparse
import re

import pytest
from PIL import Image

from conftest import natural_like, run


def test_from_ibc_import_takes_a_path_a_pil_image_or_an_array(tiny_wavelet_weights, tmp_path):
    from ibc import compress, decompress, load_model
    lm = load_model(str(tiny_wavelet_weights))
    rgb = natural_like(24, 40)
    Image.fromarray(rgb).save(tmp_path / "p.png")
    data = compress(rgb, lm, quality=30)
    assert compress(tmp_path / "p.png", lm, quality=30) == data
    assert compress(str(tmp_path / "p.png"), lm, quality=30) == data
    assert compress(Image.fromarray(rgb), lm, quality=30) == data
    assert decompress(data, lm).shape == (24, 40, 3)
    from ibc.codec import load_model as from_codec
    assert from_codec is load_model


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        run("--version")
    assert exit_.value.code == 0 and capsys.readouterr().out.startswith("ibc 0.")


def options():
    from ibc.cli.main import build_parser
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    for command, parser in sub.choices.items():
        for action in parser._actions:
            if not isinstance(action, argparse._HelpAction) and action.help != argparse.SUPPRESS:
                yield command, action


def test_every_option_has_help_and_says_its_default():
    for command, action in options():
        name = f"{command} {'/'.join(action.option_strings) or action.dest}"
        assert action.help, name
        if action.option_strings and action.nargs != 0 and not action.required:
            assert "default" in action.help, name


def test_eval_help_offers_no_lpips_or_fid(capsys, tmp_path):
    with pytest.raises(SystemExit):
        run("eval", "--help")
    help_text = capsys.readouterr().out
    assert "--lpips" not in help_text and "--fid" not in help_text
    assert run("eval", tmp_path, "--lpips", "-o", tmp_path / "r.json") == 2
    assert "LPIPS" in capsys.readouterr().err


def test_decompress_verbose_tells_what_compress_verbose_does(tmp_path, tiny_wavelet_weights, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(natural_like(24, 40)).save(photo)
    assert run("compress", photo, "--model", tiny_wavelet_weights, "-q", "40", "-v") == 0
    said = capsys.readouterr().out
    assert run("decompress", tmp_path / "p.ibc", "--model", tiny_wavelet_weights, "-v") == 0
    told = capsys.readouterr().out
    setting = re.search(r"q [\d.]+, step [\d.]+ \(code \d+\)", said).group(0)
    assert setting in told and said.split(" bytes")[0].split()[-1] in told
