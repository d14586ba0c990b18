"""`ibc export`: an existing weights file's ONNX coding bundle."""
from .common import _source


def run(args) -> int:
    """The coding bundle of existing weights, which stay as they are (`ibc train` exports its own)."""
    src = _source(args.weights)
    from ..codec.training.export_onnx import write_coding_bundle

    print(f"{write_coding_bundle(src)}: ONNX coding graphs and tables")
    return 0


def add_parser(sub) -> None:
    e = sub.add_parser("export", help="weights → ONNX coding graphs", description=(
        "Write the coding bundle of an existing weights file (e.g. weights/shannon-v3.pt → weights/shannon-v3/: "
        "each lifting level as an ONNX graph, and its integer tables), which the torch-free coding path runs "
        "on; the weights file itself stays unchanged. `ibc train` writes its model's bundle itself."))
    e.add_argument("weights", help="a model's .pt weights file")
    e.add_argument("--onnx-only", action="store_true",
                   help="the only kind of export there is (kept so that `ibc export --onnx-only W` still works)")
    e.set_defaults(run=run)
