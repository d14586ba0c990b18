"""The house's one-way imports, lazy ones included: cli → training, evaluation → coding core → models.

Every module's imports are read from its source (module level and inside functions alike), so an
import that would run only on some path still counts."""
import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"codec": "ibc.codec", "models": "ibc.models", "cli": "ibc.cli"}
SKIP = {"_ibc"}  # the `ibc` package: the API's names, re-exported from the core


def _module_name(path: Path) -> str:
    top, *rest = path.relative_to(ROOT).with_suffix("").parts
    parts = [PACKAGES[top], *rest]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for top in PACKAGES for p in sorted((ROOT / top).rglob("*.py"))
            if not SKIP & set(p.relative_to(ROOT).parts)}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The project's modules that `name` imports anywhere in its source."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")
            base = base[:len(base) - node.level + 1] if node.level else []
            stem = ".".join(base + ([node.module] if node.module else []))
            targets = [f"{stem}.{a.name}" for a in node.names] + [stem]
        else:
            continue
        for target in targets:
            while target and target not in known:  # `from .x import name` names x, not x.name
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


GRAPH = {name: _imports(name, path, set(_modules())) for name, path in _modules().items()}


def _layer(name: str) -> str:
    for prefix, layer in (("ibc.cli", "cli"), ("ibc.codec.training", "training"),
                          ("ibc.codec.evaluation", "evaluation"), ("ibc.codec", "core"), ("ibc.models", "models")):
        if name == prefix or name.startswith(prefix + "."):
            return layer
    raise AssertionError(name)


# what each layer may import besides itself
ALLOWED = {"models": set(), "core": {"models"}, "training": {"core", "models"},
           "evaluation": {"training", "core", "models"}, "cli": {"training", "evaluation", "core", "models"}}


def test_the_graph_reads_the_imports():
    assert "ibc.codec.api" in GRAPH["ibc.codec.files"]
    assert "ibc.codec.training.recipe" in GRAPH["ibc.cli.main"]  # a function-level import counts


def test_no_module_imports_itself_back():
    try:
        TopologicalSorter(GRAPH).prepare()
    except CycleError as e:
        pytest.fail(f"import cycle: {' → '.join(e.args[1])}")


@pytest.mark.parametrize("name", sorted(GRAPH))
def test_imports_run_one_way(name):
    wrong = {t for t in GRAPH[name] if _layer(t) != _layer(name) and _layer(t) not in ALLOWED[_layer(name)]}
    assert not wrong, f"{name} ({_layer(name)}) imports {sorted(wrong)}"
