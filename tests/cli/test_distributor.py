"""Folders on Dask (`--distributor dask`), on a LocalCluster of two worker processes: the same files as
`--distributor local`, the same eval results apart from the timings, reruns that skip complete outputs on
either distributor, a killed worker that loses nothing, and bad files and bad settings named in one line."""
import json
import logging
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from conftest import natural_like, one_line_error, run
from ibc.codec import bulk
from ibc.codec.files import compress_file

distributed = pytest.importorskip("distributed")

SIZES = [(64, 64), (150, 200), (96, 128), (80, 100), (120, 90), (64, 160), (72, 88), (100, 100)]


@pytest.fixture(scope="module")
def cluster():
    """The address of a LocalCluster of two worker processes, one thread each."""
    import cloudpickle
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # dies_once, for workers that cannot import this file
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=logging.ERROR) as c:
        yield c.scheduler_address


@pytest.fixture
def folder(tmp_path):
    src = tmp_path / "photos"
    src.mkdir()
    for i, (h, w) in enumerate(SIZES):
        Image.fromarray(natural_like(h, w, seed=i)).save(src / f"p{i}.png")
    return src


def contents(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if not p.name.startswith(".")}


def stats(out: Path) -> dict:
    return json.loads(out.with_name(out.name + ".stats.json").read_text())


def test_dask_writes_the_same_files_as_local(folder, tmp_path, cluster, monkeypatch, capsys):
    a, b = tmp_path / "local", tmp_path / "dask"
    assert run("compress", folder, "-o", a, "-j", "2", "-q", "40", "--quiet") == 0
    assert run("compress", folder, "-o", b, "-q", "40", "--distributor", "dask", "--scheduler", cluster) == 0
    assert "8 of 8 files" in capsys.readouterr().out
    assert contents(a) == contents(b) and len(contents(b)) == len(SIZES)
    s = stats(b)
    assert (s["distributor"], s["workers"], s["files"], s["coded"], s["skipped"], s["complete"]) == \
        ("dask", 2, 8, 8, 0, True)
    assert sum(x["files"] for x in s["shards"]) == 8 and len(s["shards"]) == -(-8 // s["shard_size"])
    assert s["bytes_out"] == sum(map(len, contents(b).values())) and s["mean_bpp"] > 0
    monkeypatch.setenv("DASK_SCHEDULER_ADDRESS", cluster)  # the scheduler from the environment
    assert run("decompress", a, "-o", tmp_path / "local-png", "-j", "2", "--quiet") == 0
    assert run("decompress", b, "-o", tmp_path / "dask-png", "--distributor", "dask", "--quiet") == 0
    assert contents(tmp_path / "local-png") == contents(tmp_path / "dask-png")
    assert stats(tmp_path / "dask-png")["workers"] == 2


def without_timings(report):
    if isinstance(report, dict):
        return {k: without_timings(v) for k, v in report.items() if k not in ("encode_s", "decode_s")}
    return [without_timings(v) for v in report] if isinstance(report, list) else report


def test_eval_on_dask_gives_the_results_of_local_apart_from_timings(tmp_path, cluster, one_thread):
    photos = tmp_path / "photos"
    photos.mkdir()
    for i in range(3):
        Image.fromarray(natural_like(72, 88, seed=i)).save(photos / f"im{i}.png")
    args = ("eval", photos, "--codec", "ibc", "--levels", "30", "60", "--quiet")
    assert run(*args, "-o", tmp_path / "local.json") == 0
    assert run(*args, "-o", tmp_path / "dask.json", "--distributor", "dask", "--scheduler", cluster,
               "--shard-size", "2") == 0
    local, dask = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("local", "dask"))
    assert local["results"][0]["per_image"][0]["encode_s"] > 0 and len(local["results"]) == 2
    assert without_timings(local) == without_timings(dask)


@pytest.mark.parametrize("distributor", ["local", "dask"])
def test_a_rerun_codes_only_what_is_not_complete(folder, tmp_path, cluster, distributor, capsys):
    out = tmp_path / "out"
    where = ("-j", "2") if distributor == "local" else ("--scheduler", cluster)
    argv = ("compress", folder, "-o", out, "-q", "40", "--distributor", distributor, *where)
    assert run(*argv, "--quiet") == 0
    before = contents(out)
    # what a killed run leaves: outputs never written, one cut short (a non-atomic copy), a stray temporary file
    (out / "p1.ibc").unlink()
    (out / "p6.ibc").unlink()
    (out / "p3.ibc").write_bytes(before["p3.ibc"][:len(before["p3.ibc"]) // 2])
    (out / ".p5.ibc.abc123.tmp").write_bytes(before["p5.ibc"][:10])
    inodes = {p.name: p.stat().st_ino for p in out.glob("*.ibc")}
    assert run(*argv) == 0
    assert "8 of 8 files (5 already complete, skipped)" in capsys.readouterr().out
    assert contents(out) == before
    kept = {n for n, i in inodes.items() if (out / n).stat().st_ino == i}
    assert kept == {"p0.ibc", "p2.ibc", "p4.ibc", "p5.ibc", "p7.ibc"}  # complete: never written again
    s = stats(out)
    assert (s["coded"], s["skipped"], s["complete"], s["bytes_out"]) == (3, 5, True, sum(map(len, before.values())))
    assert run(*argv, "--force", "--quiet") == 0  # --force codes everything again
    assert stats(out)["coded"] == 8 and not any((out / n).stat().st_ino == inodes[n] for n in kept)

    png = tmp_path / "png"
    decode = ("decompress", out, "-o", png, "--distributor", distributor, *where, "--quiet")
    assert run(*decode) == 0
    decoded = contents(png)
    (png / "p2.png").write_bytes(decoded["p2.png"][:len(decoded["p2.png"]) - 100])  # cut short: decodes no more
    Image.fromarray(natural_like(10, 10)).save(png / "p7.png")  # whole, but not the size p7.ibc says
    assert run(*decode) == 0
    assert contents(png) == decoded and (stats(png)["coded"], stats(png)["skipped"]) == (2, 6)


def dies_once(src, out, **options):
    """compress_file, but the first time it meets p4.png its worker process dies before writing anything;
    every file it writes is logged."""
    src, out = Path(src), Path(out)
    died = out.parent.with_name("died")
    if src.name == "p4.png" and not died.exists():
        died.touch()
        os._exit(1)
    result = compress_file(src, out, **options)
    with open(out.parent.with_name("written.log"), "a") as log:
        log.write(src.name + "\n")
    return result


@pytest.mark.parametrize("distributor", ["local", "dask"])
def test_a_killed_worker_loses_nothing_and_codes_no_file_twice(folder, tmp_path, cluster, distributor):
    reference = tmp_path / "reference"
    assert run("compress", folder, "-o", reference, "-q", "40", "--quiet") == 0
    out = tmp_path / "out"
    out.mkdir()
    pairs = [(folder / f"p{i}.png", out / f"p{i}.ibc") for i in range(len(SIZES))]
    scheduler = cluster if distributor == "dask" else None
    # shards p0-p2, p3-p5, p6-p7: p3 is written before its worker dies on p4, and found complete on the retry
    s = bulk.run_folder(dies_once, pairs, {"quality": 40}, distributor=distributor, jobs=2, scheduler=scheduler,
                        shard_size=3)
    assert (tmp_path / "died").exists()
    assert s["complete"] and s["done"] == 8 and s["failed"] == 0 and s["skipped"] >= 1
    assert contents(out) == contents(reference)
    written = Counter((tmp_path / "written.log").read_text().split())
    assert set(written.values()) == {1}  # no file written twice
    if distributor == "dask":  # one worker died alone: every file's writing was logged, each once
        assert sorted(written) == sorted(f"p{i}.png" for i in range(len(SIZES)))
    # (a local pool that breaks ends its other worker too, which may die between a write and its log line)


def test_a_bad_file_is_named_and_the_others_are_done(folder, tmp_path, capsys):
    (folder / "broken.png").write_text("not an image")
    out = tmp_path / "out"
    # no --scheduler: dask starts a LocalCluster of -j workers itself
    assert run("compress", folder, "-o", out, "--distributor", "dask", "-j", "2", "--quiet") == 2
    assert f"{folder / 'broken.png'}: not an image Pillow can read" in one_line_error(capsys)
    s = stats(out)
    assert s["failed"] == 1 and list(s["failures"]) == [str(folder / "broken.png")] and not s["complete"]
    assert s["workers"] == 2 and sorted(contents(out)) == sorted(f"p{i}.ibc" for i in range(len(SIZES)))


def test_bad_distributor_settings_are_one_line_errors(folder, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    assert run("compress", folder, "-o", out, "--scheduler", "tcp://127.0.0.1:8786") == 2
    assert "needs --distributor dask" in one_line_error(capsys)
    assert run("compress", folder / "p0.png", "-o", out, "--distributor", "dask") == 2
    assert "for folders" in one_line_error(capsys)
    assert run("compress", folder, "-o", out, "-j", "0") == 2
    assert "-j must be at least 1" in one_line_error(capsys)
    monkeypatch.setattr(bulk, "CONNECT_TIMEOUT", 1)
    assert run("compress", folder, "-o", out, "--distributor", "dask", "--scheduler", "tcp://127.0.0.1:9") == 2
    assert "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in one_line_error(capsys)
    monkeypatch.setitem(sys.modules, "distributed", None)  # as on a plain install
    assert run("compress", folder, "-o", out, "--distributor", "dask") == 2
    assert "pip install 'ibc[dask]'" in one_line_error(capsys)
    assert not list(out.glob("*.ibc"))


def test_a_local_folder_run_imports_no_dask(folder, tmp_path):
    code = ("import sys; from ibc.cli.main import main; "
            f"code = main(['compress', {str(folder)!r}, '-o', {str(tmp_path / 'out')!r}, '-j', '2', '--quiet']); "
            "print(code, sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert proc.stdout.split() == ["0", "[]"], proc.stderr[-2000:]
