"""Throughput of folder runs (`ibc compress|decompress FOLDER`) on each distributor, in images a second.

    OMP_NUM_THREADS=1 .venv/bin/python bench/bulk_throughput.py --kodak ../shared/data/kodak -o bench/bulk_throughput.md

Every run is the real command in a fresh process (start-up, model loading and PNG I/O included), over the
24 Kodak images at the default quality, with --force so that every file is coded:

- `local -j 1`: one process, the baseline: what a file costs with no distribution at all;
- `local -j 2`: a pool of two processes on this machine;
- `dask -j 2`: the LocalCluster of two worker processes the command starts itself (and closes);
- `dask --scheduler`: a LocalCluster of two workers started here beforehand, as an existing cluster would be,
  after one unmeasured run that loaded the models in its workers (the steady state of a long-lived cluster).

Each is run `--repeats` times (the fastest counts). The outputs of every distributor are checked to be
byte-identical to the baseline's. From each run's statistics (OUT.stats.json): the seconds its workers
spent inside shards (reading, coding, writing) per file, and the overhead per file, the worker-seconds
spent outside them: ((wall × workers) − Σ shard seconds) / files (start-up, model loading, cluster start,
scheduling, idle workers at the end). Also measured on the same cluster: the round trip of an empty Dask
task (what the scheduler adds per shard), and a rerun over complete outputs (what checking that a file is
complete costs, per file).
"""
import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

IBC = [sys.executable, "-m", "ibc.cli"]


def noop(x):
    return x


def timed(argv: list, env: dict) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(IBC + [str(a) for a in argv], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(map(str, argv))}: exit {proc.returncode}\n{proc.stderr[-2000:]}")
    return seconds


def measured(argv: list, env: dict, out: Path, repeats: int) -> tuple[float, float]:
    """The fastest of `repeats` runs: (wall seconds, seconds spent inside shards), from its statistics."""
    runs = []
    for _ in range(repeats):
        wall = timed(argv, env)
        stats = json.loads(out.with_name(out.name + ".stats.json").read_text())
        runs.append((wall, sum(s["seconds"] for s in stats["shards"])))
    return min(runs)


def contents(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kodak", default="../shared/data/kodak", help="the folder of images (default: %(default)s)")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each command, the fastest counts (default: 2)")
    ap.add_argument("-o", "--output", default="bench/bulk_throughput.md", help="the table (default: %(default)s)")
    args = ap.parse_args()
    from distributed import Client, LocalCluster

    kodak = Path(args.kodak).resolve()
    files = len([p for p in kodak.iterdir() if p.suffix.lower() == ".png"])
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bulk-bench-") as tmp, \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster, \
            Client(cluster) as client:
        tmp = Path(tmp)
        configs = {"local -j 1": ["-j", "1"], "local -j 2": ["-j", "2"],
                   "dask -j 2 (its own LocalCluster)": ["--distributor", "dask", "-j", "2"],
                   "dask --scheduler (a running cluster, 2 workers)":
                       ["--distributor", "dask", "--scheduler", cluster.scheduler_address]}
        workers = {"local -j 1": 1}
        warm = configs["dask --scheduler (a running cluster, 2 workers)"]
        timed(["compress", kodak, "-o", tmp / "warm-ibc", "--quiet", *warm], env)  # the workers load their models
        timed(["decompress", tmp / "warm-ibc", "-o", tmp / "warm-png", "--quiet", *warm], env)
        rows, reference = [], None
        for k, (name, flags) in enumerate(configs.items()):
            ibc, png = tmp / f"c{k}-ibc", tmp / f"c{k}-png"
            enc = measured(["compress", kodak, "-o", ibc, "--force", "--quiet", *flags], env, ibc, args.repeats)
            dec = measured(["decompress", ibc, "-o", png, "--force", "--quiet", *flags], env, png, args.repeats)
            out = (contents(ibc), contents(png))
            reference = reference or out
            if out != reference:
                raise SystemExit(f"{name}: the outputs differ from local -j 1's")
            rows.append((name, workers.get(name, 2), enc, dec))
            print(f"{name}: compress {enc[0]:.1f} s, decompress {dec[0]:.1f} s", file=sys.stderr)
        rerun_local = min(timed(["compress", kodak, "-o", tmp / "c1-ibc", "--quiet", "-j", "2"], env)
                          for _ in range(args.repeats))
        rerun_dask = min(timed(["compress", kodak, "-o", tmp / "c3-ibc", "--quiet", *warm], env)
                         for _ in range(args.repeats))
        client.gather(client.map(noop, range(50), pure=False))
        tasks = 1000
        t0 = time.perf_counter()
        client.gather(client.map(noop, range(tasks), pure=False))
        per_task = (time.perf_counter() - t0) / tasks
    load_after = os.getloadavg()[0]

    lines = [f"Made by `OMP_NUM_THREADS=1 python bench/bulk_throughput.py --kodak {args.kodak} -o {args.output}` on "
             f"{datetime.date.today()}: the {files} Kodak images, `ibc compress` at the default quality then "
             f"`ibc decompress`, each command in a fresh process (start-up, model loading and PNG I/O "
             f"included), fastest of {args.repeats} runs; every distributor's .ibc and PNG files byte-identical "
             f"to `local -j 1`'s. Load average {load_before:.1f} → {load_after:.1f} on {os.cpu_count()} cores.",
             "",
             "| distributor | workers | compress s | images/s | decompress s | images/s "
             "| in shards s/file (compress, decompress) | overhead s/file (compress, decompress) |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    for name, w, (enc, enc_in), (dec, dec_in) in rows:
        lines.append(f"| {name} | {w} | {enc:.1f} | {files / enc:.2f} | {dec:.1f} | {files / dec:.2f} "
                     f"| {enc_in / files:.3f}, {dec_in / files:.3f} "
                     f"| {(enc * w - enc_in) / files:.3f}, {(dec * w - dec_in) / files:.3f} |")
    lines += ["",
              "In shards: worker-seconds inside shards (reading, coding, writing) per file; overhead: worker-seconds "
              "outside them per file, ((wall × workers) − Σ shard seconds) / files. "
              f"A Dask task's round trip on the running cluster (an empty task, {tasks} at once): "
              f"{per_task * 1000:.2f} ms. A rerun over {files} complete outputs (each .ibc's header and chunks "
              f"checked, nothing coded): {rerun_local:.2f} s with `local -j 2`, {rerun_dask:.2f} s on the running "
              "cluster, start-up included."]
    Path(args.output).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
