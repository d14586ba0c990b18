"""Disk size of a fresh coding-only install: the plain wheel (no extras) in a new virtual environment.

Builds the wheel from a copy of the checkout's files (tracked and untracked-but-not-ignored, as a clean
clone would have them, so the repository's build/ is left alone), creates a venv in a temporary folder,
installs the wheel into it without extras, and reports the venv's size on disk, its site-packages', the
largest distributions, and whether torch got installed (it must not: the coding path runs on ONNX Runtime).
Writes a markdown table; exits 1 if torch is importable there. Sizes are disk usage (as `du`), in MiB.
Usage: .venv/bin/python bench/install_size.py [-o bench/install_size.md] [--top 12]   (or `make bench-install`)
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_BYTES = 300 * 10**6  # issue 14: a fresh coding-only install takes at most 300 MB on disk
MIB = 1024 * 1024
SEEDED = {"pip", "setuptools"}  # what `python -m venv` puts there before anything is installed

# Run inside the fresh venv: each installed distribution's name, version and disk usage of its files.
PROBE = r"""
import importlib.metadata as md, importlib.util, json, os, site, sys
out = {"python": sys.version.split()[0], "dists": [], "torch": importlib.util.find_spec("torch") is not None}
for d in md.distributions(path=site.getsitepackages()):
    used = 0
    for f in d.files or ():
        p = f.locate()
        try:
            st = os.lstat(p)
        except OSError:
            continue
        used += st.st_blocks * 512
    out["dists"].append({"name": d.metadata["Name"], "version": d.version, "bytes": used})
print(json.dumps(out))
"""


def disk_usage(path):
    """Bytes on disk under path, each inode once (as `du -s`)."""
    seen, total = set(), 0
    for root, dirs, files in os.walk(path):
        for name in dirs + files:
            st = os.lstat(os.path.join(root, name))
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_blocks * 512
    return total + os.lstat(path).st_blocks * 512


def checkout_files():
    """The files a clean clone has, plus untracked ones git does not ignore (e.g. new ONNX bundles)."""
    out = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                         cwd=REPO, check=True, capture_output=True).stdout
    return [p for p in out.decode().split("\0") if p and (REPO / p).is_file()]


def run(cmd, **kw):
    print("+", " ".join(map(str, cmd)), flush=True)
    subprocess.run(cmd, check=True, **kw)


def measure(tmp, top):
    src, dist, venv = tmp / "src", tmp / "dist", tmp / "venv"
    for rel in checkout_files():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / rel, src / rel)
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", str(src), "-w", str(dist)])
    wheel = next(dist.glob("ibc-*.whl"))
    run([sys.executable, "-m", "venv", str(venv)])  # from a venv's python, a venv on its base interpreter
    py = venv / "bin" / "python"
    run([py, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", str(wheel)])
    # -I and cwd=tmp: nothing from the checkout (its ibc.egg-info, its modules) can be seen by the probe
    probe = json.loads(subprocess.run([py, "-I", "-c", PROBE], cwd=tmp, check=True, capture_output=True,
                                      text=True).stdout)
    site = next((venv / "lib").glob("python3*/site-packages"))
    dists = sorted(probe["dists"], key=lambda d: -d["bytes"])
    return {
        "wheel": wheel.name, "wheel_bytes": wheel.stat().st_size, "python": probe["python"],
        "venv_bytes": disk_usage(venv), "site_bytes": disk_usage(site), "torch": probe["torch"],
        "dists": dists, "top": top,
        "installed_bytes": sum(d["bytes"] for d in dists if d["name"].lower() not in SEEDED),
    }


def mb(n):
    return f"{n / MIB:.1f}"


def report(m, command):
    today = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    within = "within" if m["venv_bytes"] <= TARGET_BYTES else "**over**"
    lines = [
        f"Fresh coding-only install (`pip install {m['wheel']}`, no extras) into a new venv; "
        f"made by `{command}` on {today} (Python {m['python']}, {platform.system()} {platform.machine()}). "
        "Sizes are disk usage in MiB.",
        "",
        "| what | MiB |",
        "|---|---|",
        f"| whole venv | {mb(m['venv_bytes'])} ({within} issue 14's target of 300 MB = {mb(TARGET_BYTES)} MiB) |",
        f"| site-packages | {mb(m['site_bytes'])} |",
        f"| ibc and its dependencies (without the venv's own pip and setuptools) | {mb(m['installed_bytes'])} |",
        f"| the wheel file | {mb(m['wheel_bytes'])} |",
        f"| torch installed | {'**yes (it must not be)**' if m['torch'] else 'no'} |",
        "",
        "| distribution | version | MiB |",
        "|---|---|---|",
    ]
    lines += [f"| {d['name']} | {d['version']} | {mb(d['bytes'])} |" for d in m["dists"][: m["top"]]]
    rest = m["dists"][m["top"]:]
    if rest:
        lines.append(f"| {len(rest)} others | | {mb(sum(d['bytes'] for d in rest))} |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--output", type=Path, default=REPO / "bench" / "install_size.md")
    ap.add_argument("--top", type=int, default=12, help="distributions listed by size (default 12)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ibc-install-size-") as tmp:
        m = measure(Path(tmp), args.top)
    command = "make bench-install" if os.environ.get("MAKELEVEL") else "python bench/install_size.py"
    text = report(m, command)
    args.output.write_text(text)
    print(text, end="")
    if m["torch"]:
        print("error: torch is importable in the coding-only install", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
