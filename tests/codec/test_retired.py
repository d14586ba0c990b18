"""Files of the block models, retired in 0.2.0: `ibc info` still reads their headers, and decoding them is
refused with one line naming the model and the last ibc that decodes them (exit status 2: the file is not
corrupt)."""
import json

import pytest

from ibc.codec.api import compress, decode, decompress, read_header
from ibc.codec.errors import CodecError, CorruptData
from ibc.codec.retired import RETIRED

from conftest import natural_like, one_line_error, retired_file, run


def message(name: str) -> str:
    return (f"this file was made by {name}, a block model retired in ibc 0.2.0: ibc 0.1.0 is the last version "
            "that decodes it (pip install 'ibc==0.1.0')")


def test_the_retired_models_are_the_two_shipped_block_models():
    assert {name: h.hex() for name, h in RETIRED.items()} == {"shannon-rvq5": "396124450561ec9f",
                                                              "gc-rvq5": "46cf625e0e4978b0"}


@pytest.mark.parametrize("name, mode", [("shannon-rvq5", "shannon"), ("gc-rvq5", "gc")])
def test_a_retired_models_file_names_the_model_and_the_last_version(name, mode, tiny_wavelet):
    data = retired_file(name, RETIRED[name], mode)
    assert (read_header(data).model, read_header(data).level, read_header(data).step_code) == (name, 1, 0)
    for call in (lambda: decompress(data), lambda: decompress(data, tiny_wavelet),
                 lambda: decode(data, realism=0.0)):
        with pytest.raises(CodecError) as e:
            call()
        assert str(e.value) == message(name) and not isinstance(e.value, CorruptData)


def test_a_renamed_or_unknown_block_models_file_is_refused_the_same_way():
    """By the weights hash whatever the name, and by the block layout (a level, no step code) whatever
    the model, e.g. one a user trained with ibc 0.1.0."""
    with pytest.raises(CodecError, match="made by shannon-rvq5, a block model retired"):
        decompress(retired_file("renamed", RETIRED["shannon-rvq5"]))
    with pytest.raises(CodecError, match="made by my-block, a block model retired in ibc 0.2.0"):
        decompress(retired_file("my-block", bytes(8), level=4))


def test_the_cli_says_it_in_one_line_with_status_2_and_info_still_reads_the_header(tmp_path, capsys):
    files = {"v3": retired_file("shannon-rvq5", RETIRED["shannon-rvq5"], level=3),
             "v2": retired_file("shannon-rvq5", RETIRED["shannon-rvq5"], level=3, version=2)}
    for version, data in files.items():
        src = tmp_path / f"{version}.ibc"
        src.write_bytes(data)
        assert src.read_bytes()[4] == int(version[1])
        assert run("decompress", src) == 2
        assert one_line_error(capsys) == f"ibc: error: {message('shannon-rvq5')}\n"
        assert not src.with_name(src.name + ".png").exists()
        assert run("info", src, "--json") == 0
        info = json.loads(capsys.readouterr().out)
        assert (info["model"], info["level"], info["weights_hash"]) == ("shannon-rvq5", 3, "396124450561ec9f")
        assert "step" not in info
    gc = tmp_path / "gc.ibc"
    gc.write_bytes(retired_file("gc-rvq5", RETIRED["gc-rvq5"], "gc"))
    assert run("decompress", gc, "--samples", "2", "-o", tmp_path / "x.png") == 2
    assert "made by gc-rvq5" in one_line_error(capsys)


def test_compress_refuses_a_level_naming_the_retirement(tiny_wavelet):
    with pytest.raises(CodecError, match=r"not a level \(levels were the block models', retired in ibc 0\.2\.0"):
        compress(natural_like(16, 16), tiny_wavelet, level=2)
