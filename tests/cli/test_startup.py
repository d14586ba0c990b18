"""Start-up: the coding path loads no training or plotting library, `ibc info` no torch, and arguments are
checked before anything heavy loads (CompressAI alone costs seconds and a gigabyte)."""
import subprocess
import sys

from PIL import Image

from ibc.codec.api import compress

from conftest import natural_like, retired_file

HEAVY = ("compressai", "torchvision", "scipy", "matplotlib", "pandas")
CHECK = """
import sys
from ibc.cli.main import main
try:
    code = main(sys.argv[1:])
except SystemExit as e:
    code = e.code
print(code, *sorted(m for m in ("torch",) + {heavy} if m in sys.modules))
"""


def loaded(*argv) -> tuple[int, set]:
    """Run the `ibc` command in a fresh interpreter: its exit status and the heavy modules it imported."""
    proc = subprocess.run([sys.executable, "-c", CHECK.format(heavy=HEAVY), *map(str, argv)],
                          capture_output=True, text=True)
    assert "Traceback" not in proc.stderr, proc.stderr
    code, *modules = proc.stdout.splitlines()[-1].split()
    return int(code), set(modules)


def test_info_imports_no_torch(tiny_wavelet, tmp_path):
    from ibc.codec.retired import RETIRED
    files = {"wavelet": compress(natural_like(24, 32), tiny_wavelet, quality=50),
             "block": retired_file("shannon-rvq5", RETIRED["shannon-rvq5"])}  # a level, no step code
    for kind, data in files.items():
        path = tmp_path / f"{kind}.ibc"
        path.write_bytes(data)
        assert loaded("info", path) == (0, set())
        assert loaded("info", path, "--json") == (0, set())


def test_coding_path_loads_only_torch(tiny_wavelet_weights, tmp_path):
    """A model without its ONNX graphs (the tiny one) codes on torch, and loads nothing else heavy."""
    photo = tmp_path / "p.png"
    Image.fromarray(natural_like(24, 32)).save(photo)
    assert loaded("compress", photo, "--model", tiny_wavelet_weights, "--quiet") == (0, {"torch"})
    assert loaded("decompress", photo.with_suffix(".ibc"), "--model", tiny_wavelet_weights, "--quiet") == (0, {"torch"})
    proc = subprocess.run([sys.executable, "-c", f"import sys, ibc.codec.api; print(*(m for m in {HEAVY} "
                           "if m in sys.modules))"], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_arguments_are_checked_before_anything_heavy_loads(tmp_path):
    photo = tmp_path / "p.png"
    Image.fromarray(natural_like(24, 32)).save(photo)
    photo.with_suffix(".ibc").write_bytes(b"precious")
    assert loaded("compress", tmp_path / "missing.png") == (2, set())
    assert loaded("compress", photo, "--levle", "3") == (2, set())
    assert loaded("compress", photo) == (2, set())  # the output exists: refused before the model loads
    assert loaded("decompress", tmp_path / "missing.ibc") == (2, set())
    assert photo.with_suffix(".ibc").read_bytes() == b"precious"
