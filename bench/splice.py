"""Put a generated table into a document between `<!-- begin:NAME -->` and `<!-- end:NAME -->`, so that
`make bench` and `make bench-speed` keep BENCHMARKS.md in step with the measurements.

    python bench/splice.py BENCHMARKS.md kodak bench/kodak_bdrate.md
"""
import re
import sys
from pathlib import Path


def splice(document: Path, name: str, content: str) -> None:
    text = document.read_text()
    pattern = re.compile(rf"(<!-- begin:{name} -->\n).*?(<!-- end:{name} -->)", re.S)
    if not pattern.search(text):
        raise SystemExit(f"{document}: no <!-- begin:{name} --> … <!-- end:{name} --> markers")
    document.write_text(pattern.sub(lambda m: m.group(1) + content.rstrip("\n") + "\n" + m.group(2), text))


if __name__ == "__main__":
    splice(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]).read_text())
