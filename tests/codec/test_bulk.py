"""codec.bulk without a cluster: which outputs count as complete (and so are skipped by a rerun), how a folder
is cut into shards, what a shard reports, and a local pool that loses its worker processes."""
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from conftest import natural_like, retired_file
from ibc.codec import bulk
from ibc.codec.bitstream import Header, serialise
from ibc.codec.files import compress_file


def an_ibc(width: int = 384, height: int = 256, seed: int = 7) -> bytes:
    """A well-formed container (the completeness check reads no model): two chunks."""
    return serialise(Header("shannon", 0, width, height, seed, 512, "m", b"\x01" * 8, 2, step_code=300),
                     [b"\x11" * 30, b"\x22" * 50])


def test_an_ibc_is_complete_only_when_its_header_and_every_chunk_check(tmp_path):
    good = an_ibc()
    out = tmp_path / "x.ibc"
    out.write_bytes(good)
    assert bulk.is_complete(out, tmp_path / "x.png")
    out.write_bytes(retired_file("old", b"\x02" * 8))  # a retired model's file: whole, if not decodable today
    assert bulk.is_complete(out, tmp_path / "x.png")
    flipped = bytearray(good)
    flipped[-10] ^= 1  # inside the last payload: its CRC fails
    for bad in (good[:20], good[:len(good) // 2], good[:-1], good[:-58], bytes(flipped), good + b"\0",
                b"not an ibc file at all", b""):
        out.write_bytes(bad)
        assert not bulk.is_complete(out, tmp_path / "x.png"), len(bad)
    assert not bulk.is_complete(tmp_path / "missing.ibc", tmp_path / "x.png")


def test_a_decoded_image_is_complete_when_it_decodes_whole_at_its_sources_size(tmp_path):
    src = tmp_path / "x.ibc"
    src.write_bytes(an_ibc(96, 64))
    out = tmp_path / "x.png"
    Image.fromarray(natural_like(64, 96)).save(out)
    assert bulk.is_complete(out, src)
    whole = out.read_bytes()
    out.write_bytes(whole[:len(whole) * 2 // 3])  # cut short, as a non-atomic copy might leave it
    assert not bulk.is_complete(out, src)
    Image.fromarray(natural_like(64, 95)).save(out)  # another size than the source's header says
    assert not bulk.is_complete(out, src)
    out.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    assert not bulk.is_complete(out, src)
    Image.fromarray(natural_like(64, 96)).save(out)
    src.write_bytes(b"IBC\x1a" + b"\xff" * 40)  # a source whose header fails: nothing to check against
    assert not bulk.is_complete(out, src)
    assert not bulk.is_complete(tmp_path / "none.png", tmp_path / "none.ibc")


def test_samples_are_complete_only_when_every_sample_is(tmp_path):
    src = tmp_path / "x.ibc"
    src.write_bytes(an_ibc(40, 24, seed=7))  # the file's own seed: 7
    out = tmp_path / "x.png"
    for seed in (7, 8):
        Image.fromarray(natural_like(24, 40)).save(tmp_path / f"x-s{seed}.png")
    assert bulk.is_complete(out, src, samples=2)
    assert not bulk.is_complete(out, src, samples=3)
    assert not bulk.is_complete(out, src, samples=2, seed=8)  # x-s9.png is missing
    assert not bulk.is_complete(out, src)  # without samples: x.png itself, which is not there


def test_shards_and_their_default_size():
    pairs = [(f"s{i}", f"o{i}") for i in range(10)]
    shards = bulk.plan_shards(pairs, 4)
    assert [len(s) for s in shards] == [4, 4, 2] and sum(shards, []) == pairs
    assert bulk.default_shard_size(24, 2) == 3
    assert bulk.default_shard_size(5, 8) == 1
    assert bulk.default_shard_size(10 ** 7, 100) == bulk.MAX_SHARD
    with pytest.raises(bulk.CodecError, match="at least 1"):
        bulk.plan_shards(pairs, 0)


def test_a_shard_skips_complete_outputs_codes_the_rest_and_names_its_failures(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i, (h, w) in enumerate([(64, 64), (150, 200), (72, 88)]):
        Image.fromarray(natural_like(h, w, seed=i)).save(src / f"p{i}.png")
    (src / "broken.png").write_text("not an image")
    out = tmp_path / "out"
    out.mkdir()
    pairs = [(src / f"{n}.png", out / f"{n}.ibc") for n in ("p0", "p1", "broken", "p2")]
    first = bulk.run_shard(compress_file, pairs, {"quality": 40})
    assert (first["files"], first["coded"], first["skipped"]) == (4, 3, 0)
    assert list(first["failed"]) == [str(src / "broken.png")] and "not an image" in first["failed"][str(src / "broken.png")]
    coded = {p: (out / f"{p}.ibc").read_bytes() for p in ("p0", "p1", "p2")}
    assert first["bytes_out"] == sum(map(len, coded.values()))
    assert first["bytes_in"] == sum((src / f"{p}.png").stat().st_size for p in ("p0", "p1", "p2"))
    bpps = [len(coded[p]) * 8 / (h * w) for p, (h, w) in zip(coded, [(64, 64), (150, 200), (72, 88)])]
    assert first["bpp_sum"] == pytest.approx(sum(bpps))

    (out / "p1.ibc").write_bytes(coded["p1"][:-5])  # incomplete: coded again, over it
    inode = (out / "p0.ibc").stat().st_ino
    again = bulk.run_shard(compress_file, pairs, {"quality": 40})
    assert (again["coded"], again["skipped"], len(again["failed"])) == (1, 2, 1)
    assert (out / "p0.ibc").stat().st_ino == inode  # skipped: never rewritten
    assert (out / "p1.ibc").read_bytes() == coded["p1"]
    assert again["bytes_out"] == first["bytes_out"] and again["bpp_sum"] == pytest.approx(first["bpp_sum"])
    forced = bulk.run_shard(compress_file, pairs, {"quality": 40}, force=True)
    assert (forced["coded"], forced["skipped"]) == (3, 0) and (out / "p0.ibc").stat().st_ino != inode


def test_the_summary_adds_up_the_shards():
    a = {**bulk.new_shard_stats([("a", "A"), ("b", "B")]), "coded": 1, "skipped": 1, "bytes_in": 10,
         "bytes_out": 4, "bpp_sum": 1.0}
    b = {**bulk.new_shard_stats([("c", "C")]), "failed": {"c": "c: bad"}}
    s = bulk.summarise([a, b], 2.0, distributor="local")
    assert (s["files"], s["done"], s["coded"], s["skipped"], s["failed"]) == (3, 2, 1, 1, 1)
    assert s["failures"] == {"c": "c: bad"} and not s["complete"] and s["mean_bpp"] == 0.5
    assert s["coded_per_second"] == 0.5 and s["distributor"] == "local" and s["shards"] == [a, b]
    assert bulk.summarise([a], 1.0)["complete"]


def always_dies(src, out, **options):
    """A job whose worker process dies on p1.png every time, before writing anything."""
    if Path(src).name == "p1.png":
        os._exit(1)
    return compress_file(src, out, **options)


def test_a_local_pool_that_keeps_losing_a_worker_names_the_files_it_could_not_do(tmp_path, monkeypatch):
    monkeypatch.setattr(bulk, "ATTEMPTS", 2)
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    for i in range(4):
        Image.fromarray(natural_like(48, 64, seed=i)).save(src / f"p{i}.png")
    pairs = [(src / f"p{i}.png", out / f"p{i}.ibc") for i in range(4)]
    s = bulk.run_folder(always_dies, pairs, {"quality": 40}, jobs=2, shard_size=2, stats=tmp_path / "s.json")
    # p0 and p1 share a shard: p0 is written before the worker dies, and found complete afterwards
    assert not s["complete"] and s["failed"] == 1 and list(s["failures"]) == [str(src / "p1.png")]
    assert "died 2 times" in s["failures"][str(src / "p1.png")]
    assert s["done"] == 3 and sorted(p.name for p in out.glob("*.ibc")) == ["p0.ibc", "p2.ibc", "p3.ibc"]
    written = json.loads((tmp_path / "s.json").read_text())
    assert written["failures"] == s["failures"] and written["done"] == 3 and len(written["shards"]) == 2


def test_the_distributor_settings_are_checked():
    for args, message in ((("spark",), "unknown distributor"), (("local", 0), "-j"),
                          (("local", None, "tcp://h:8786"), "needs --distributor dask"),
                          (("dask", None, None, 0), "--shard-size")):
        with pytest.raises(bulk.CodecError, match=message):
            bulk.check_distributor(*args)
