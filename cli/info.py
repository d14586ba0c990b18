"""`ibc info`: an .ibc file's header, read without torch."""
import json
from pathlib import Path

from .common import _error


def run(args) -> int:
    from ..codec.bitstream import parse_header
    from ..codec.step_code import N_WEIGHTS, quality_of_code, step_from_code, weight_from_code

    data = _read_bytes(Path(args.input))
    header, _ = parse_header(data)
    # the quality setting: q, its real quantiser step and the header's code for that step; a file of a
    # block model (retired in 0.2.0, whose files still read here) has a level instead
    setting = ({"quality": quality_of_code(header.step_code), "step": step_from_code(header.step_code),
                "step_code": header.step_code} if header.step_code else {"level": header.level})
    info = {"file": args.input, "bytes": len(data), "bpp": len(data) * 8 / (header.width * header.height),
            "width": header.width, "height": header.height, "channels": 1 if header.grey else 3,
            "grey": header.grey, "mode": header.mode, **setting,
            "step_weights": list(header.step_weights), "postfilter": header.filter, "format": data[4],
            "seed": header.seed, "tile": header.tile, "model": header.model,
            "weights_hash": header.weights_hash.hex(), "chunks": header.chunks}
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        info["channels"] = "1 (greyscale)" if header.grey else "3 (colour)"
        if header.step_code:
            info["step"] = f"{info['step']:.1f} (code {header.step_code})"
        # the bands' step is step / w: LL, then level 5 (coarsest details) … level 1 (finest)
        names = ["LL"] + [f"L{k}" for k in range(N_WEIGHTS - 1, 0, -1)]
        info["step_weights"] = " ".join(f"{n} {weight_from_code(c):.2f}" for n, c in zip(names, header.step_weights))
        for k, v in info.items():
            if k not in ("grey", "step_code"):  # said by channels and step
                print(f"{k:13s} {v:.4f}" if k == "bpp" else f"{k:13s} {v}")
    return 0


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise _error(f"{path}: no such file")
    return path.read_bytes()


def add_parser(sub) -> None:
    i = sub.add_parser("info", help="show an .ibc header", description="Print the header of an .ibc file.")
    i.add_argument("input", help="an .ibc file (only its header is read)")
    i.add_argument("--json", action="store_true", help="print JSON")
    i.set_defaults(run=run)
