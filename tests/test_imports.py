"""The house's one-way imports, lazy ones included: cli → training, evaluation → coding core, and
training, evaluation → models (the torch networks). The core (codec/ outside training/ and evaluation/) is
the coding path: it imports nothing of models/ and no torch at module level, so `ibc compress`,
`decompress` and `info` run without torch; a real `ibc decompress` is watched for it too.

Every module's imports are read from its source (module level and inside functions alike), so an
import that would run only on some path still counts."""
import ast
import subprocess
import sys
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

from conftest import DATA, ROOT

PACKAGES = {"codec": "ibc.codec", "models": "ibc.models", "cli": "ibc.cli"}
SKIP = {"_ibc"}  # the `ibc` package: the API's names, re-exported from the core


def _module_name(path: Path) -> str:
    top, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = [PACKAGES[top], *rest]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in PACKAGES for p in sorted((ROOT / top).rglob("*.py"))
            if not SKIP & set(p.relative_to(ROOT).parts)}


def _nodes(tree: ast.AST, module_level: bool):
    """Every node of the source, or with `module_level` those that run on import (not in function bodies)."""
    stack = [tree]
    while stack:
        node = stack.pop()
        yield node
        if not (module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))):
            stack.extend(ast.iter_child_nodes(node))


def _targets(name: str, path: Path, module_level: bool = False) -> list[str]:
    """The absolute dotted names `name` imports (`from .x import y` gives x.y and x)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = []
    for node in _nodes(ast.parse(path.read_text(), str(path)), module_level):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            out += [f"{stem}.{a.name}" for a in node.names] + [stem]
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that `name` imports anywhere in its source."""
    found = set()
    for target in _targets(name, path):
        while target and target not in known:  # `from .x import name` names x, not x.name
            target = target.rpartition(".")[0]
        if target and target != name:
            found.add(target)
    return found


GRAPH = {name: _imports(name, path, set(_modules())) for name, path in _modules().items()}


def _layer(name: str) -> str:
    for prefix, layer in (("ibc.cli", "cli"), ("ibc.codec.training", "training"),
                          ("ibc.codec.evaluation", "evaluation"), ("ibc.codec.lab", "lab"), ("ibc.codec", "core"),
                          ("ibc.models", "models")):
        if name == prefix or name.startswith(prefix + "."):
            return layer
    raise AssertionError(name)


# what each layer may import besides itself: the core (the coding path) nothing of models/
# the lab (codec/lab: the paper's presets on the training loop) sits beside training and evaluation
ALLOWED = {"models": set(), "core": set(), "training": {"core", "models"},
           "evaluation": {"training", "core", "models"}, "lab": {"training", "evaluation", "core", "models"},
           "cli": {"training", "evaluation", "lab", "core", "models"}}
# The one import up a layer: the torch backend reads a .pt into the trainable model, which is built on the
# engine and so lives in training. Made inside functions, only for that backend (or a model with no bundle).
UPWARD = {("ibc.codec.weights", "ibc.codec.training.weights_torch")}
TORCH = ("torch", "torchvision", "compressai", "pytorch_msssim")  # what the coding path installs without
SAMPLE = DATA / "sample.ibc"


def test_the_graph_reads_the_imports():
    assert "ibc.codec.api" in GRAPH["ibc.codec.files"]
    assert "ibc.codec.training.recipe" in GRAPH["ibc.cli.train"]  # a function-level import counts


def test_no_module_imports_itself_back():
    try:
        TopologicalSorter(GRAPH).prepare()
    except CycleError as e:
        pytest.fail(f"import cycle: {' → '.join(e.args[1])}")


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_run_one_way(name):
    wrong = {t for t in GRAPH[name] if _layer(t) != _layer(name) and _layer(t) not in ALLOWED[_layer(name)]
             and (name, t) not in UPWARD}
    assert not wrong, f"{name} ({_layer(name)}) imports {sorted(wrong)}"


def test_the_upward_import_is_only_made_inside_functions():
    for name, target in UPWARD:
        assert target in GRAPH[name], f"{name} no longer imports {target}: drop it from UPWARD"
        assert target not in _targets(name, _modules()[name], module_level=True)


@pytest.mark.parametrize("name", sorted(n for n in GRAPH if _layer(n) == "core"))
def test_the_core_imports_no_torch_and_no_models_at_module_level(name):
    wrong = {t for t in _targets(name, _modules()[name], module_level=True)
             if t.split(".")[0] in TORCH or t == "ibc.models" or t.startswith("ibc.models.")}
    assert not wrong, f"{name} imports {sorted(wrong)} on import"


def test_module_level_reading_skips_function_bodies():
    assert "torch" in _targets("ibc.codec.metrics", _modules()["ibc.codec.metrics"])  # ms_ssim's, inside it
    assert "torch" not in _targets("ibc.codec.metrics", _modules()["ibc.codec.metrics"], module_level=True)
    assert "torch" in _targets("ibc.models.wavelet", _modules()["ibc.models.wavelet"], module_level=True)


def test_decompress_imports_no_torch_and_nothing_of_models(tmp_path):
    """A fresh `ibc decompress` of the sample, as a user runs it: every module it imports, from -X importtime."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-m", "ibc.cli", "decompress", str(SAMPLE),
                           "-o", str(tmp_path / "x.png"), "--force"], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300)
    assert proc.returncode == 0 and (tmp_path / "x.png").is_file(), proc.stderr[-2000:]
    imported = {line.rpartition("|")[2].strip() for line in proc.stderr.splitlines()
                if line.startswith("import time:")}
    assert {"ibc.codec.api", "ibc.codec.engine", "onnxruntime"} <= imported  # the reading works
    wrong = sorted(m for m in imported if m.split(".")[0] in TORCH or m == "ibc.models" or m.startswith("ibc.models."))
    assert not wrong, f"ibc decompress imported {wrong}"
