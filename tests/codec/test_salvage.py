"""A file cut short (the commonest damage): refused, or with --salvage decoded from the tiles whose chunks
it holds whole, the rest filled in and named, as for tiles whose CRC failed. A cut inside the header is
refused even then."""
import numpy as np
import pytest
from PIL import Image

from ibc.codec.api import read_indices
from ibc.codec.bitstream import parse_chunks, parse_header
from ibc.codec.errors import CodecError
from ibc.codec.weights import load_model

from conftest import natural_like, one_line_error, run, split_chunks


@pytest.fixture(scope="module")
def intact(tmp_path_factory):
    """A 1536×1024 image in the default model (shannon-v4: 6 tiles of 512), as `ibc compress` writes it."""
    folder = tmp_path_factory.mktemp("cut")
    src = folder / "photo.png"
    Image.fromarray(natural_like(1024, 1536, seed=5)).save(src)
    assert run("compress", src, "--quiet") == 0
    return src.with_suffix(".ibc")


def _cut(intact, fraction: float):
    data = intact.read_bytes()
    cut = intact.with_name(f"cut{fraction}.ibc")
    cut.write_bytes(data[:int(len(data) * fraction)])
    return cut


def _salvage_status(tmp_path, tiny_wavelet_weights, capsys) -> int:
    """The exit status of `ibc decompress --salvage` on a file with a damaged tile."""
    src = tmp_path / "small.png"
    Image.fromarray(natural_like(100, 300)).save(src)
    assert run("compress", src, "--model", tiny_wavelet_weights, "--quiet") == 0
    data = bytearray(src.with_suffix(".ibc").read_bytes())
    data[parse_header(bytes(data))[1] + 6] ^= 0x01
    bad = tmp_path / "damaged.ibc"
    bad.write_bytes(bytes(data))
    status = run("decompress", bad, "--model", tiny_wavelet_weights, "--salvage")
    assert "failed their CRC" in capsys.readouterr().err
    return status


def test_salvage_of_a_cut_file_keeps_its_whole_tiles(intact, tmp_path, tiny_wavelet_weights, capsys):
    data = intact.read_bytes()
    cut = _cut(intact, 0.6)
    head, chunks = split_chunks(data)
    ends = len(head) + np.cumsum([len(c) for c in chunks])
    whole = [i for i, end in enumerate(ends) if end <= len(cut.read_bytes())]
    missing = [i for i in range(len(chunks)) if i not in whole]
    assert len(chunks) == 6 and whole and missing  # the cut falls inside a chunk, after the first ones
    out = tmp_path / "salvaged.png"
    status = run("decompress", cut, "--salvage", "-o", out)
    err = capsys.readouterr().err
    assert status == _salvage_status(tmp_path, tiny_wavelet_weights, capsys) == 3  # not 0: data was lost
    assert f"tile(s) {', '.join(map(str, missing))} are missing (the file ends early)" in err
    image = np.asarray(Image.open(out))
    assert image.shape == (1024, 1536, 3)
    # the whole tiles' indices are the intact file's, exactly; the missing ones are the grey filler
    lm = load_model()
    salvaged, original = read_indices(cut.read_bytes(), lm, salvage=True), read_indices(data, lm)
    assert (salvaged.missing_tiles, salvaged.damaged_tiles) == (missing, [])
    for i in whole:
        a, b = salvaged.indices[i], original.indices[i]
        assert np.array_equal(a.ll, b.ll) and all(map(np.array_equal, a.idx + a.escq, b.idx + b.escq))
    x, y = 512 * (missing[-1] % 3), 512 * (missing[-1] // 3)  # the last tile's middle is mid-grey
    assert abs(image[y + 128:y + 384, x + 128:x + 384].astype(float).mean() - 128) < 2


def test_a_cut_file_without_salvage_is_refused(intact, tmp_path, capsys):
    out = tmp_path / "nothing.png"
    assert run("decompress", _cut(intact, 0.6), "-o", out) == 3  # corrupt data
    assert "truncated file" in one_line_error(capsys) and not out.exists()


def test_a_cut_inside_the_header_is_refused_even_with_salvage(intact, tmp_path, capsys):
    data = intact.read_bytes()
    offset = parse_header(data)[1]
    for end in (offset - 1, 20):
        cut = tmp_path / f"head{end}.ibc"
        cut.write_bytes(data[:end])
        out = tmp_path / f"head{end}.png"
        assert run("decompress", cut, "--salvage", "-o", out) == 3
        assert "truncated file" in one_line_error(capsys) and not out.exists()


def test_parse_chunks_salvage_gives_the_whole_chunks_only(intact):
    data = intact.read_bytes()
    header, offset = parse_header(data)
    payloads = parse_chunks(data, offset, header.chunks)
    head, chunks = split_chunks(data)
    for k in range(len(chunks) + 1):  # cut at a chunk's end, in its length, its payload or its CRC
        start = len(head) + sum(map(len, chunks[:k]))
        for cut in ([start] if k == len(chunks) else [start, start + 2, start + 10, start + len(chunks[k]) - 1]):
            assert parse_chunks(data[:cut], offset, header.chunks, salvage=True) == payloads[:k]
            if cut < len(data):
                with pytest.raises(CodecError, match="truncated"):
                    parse_chunks(data[:cut], offset, header.chunks)
    with pytest.raises(CodecError, match="after the last chunk"):  # trailing bytes stay an error
        parse_chunks(data + b"\0", offset, header.chunks, salvage=True)
