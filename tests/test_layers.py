"""The package's layers import one way: a module imports only from layers below its own.

Layers, from the ground up (docs/ARCHITECTURE.md draws them): errors and the glossary of Config
field names; stats and envs; the neutral
core; drivers; the pieces learners share (agents.common); agents and baselines; the registry of
names; experiment; diagnostics; studies; report; cli. Two packages on the same layer do not
import each other (agents and baselines know nothing of one another). Every import counts,
function-local ones too: an upward import inside a function is still a cycle waiting to happen.

One exception: the package root (``rlcheck/__init__.py``) is the public Python API and may import
from any layer inside its module ``__getattr__``, which runs when a name is first used
(``rlcheck.load_policy``), never on import, so it cannot close a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rlcheck

ROOT = Path(rlcheck.__file__).parent

# Bottom first; packages on one row share a layer and may not import each other.
LAYERS: list[tuple[str, ...]] = [
    ("rlcheck", "rlcheck.errors", "rlcheck.glossary"),
    ("rlcheck.stats", "rlcheck.envs"),
    ("rlcheck.core",),
    ("rlcheck.drivers",),
    ("rlcheck.agents.common",),
    ("rlcheck.agents", "rlcheck.baselines"),
    ("rlcheck.registry",),
    ("rlcheck.experiment",),
    ("rlcheck.diagnostics",),
    ("rlcheck.studies",),
    ("rlcheck.report",),
    ("rlcheck.cli",),
]


def _owner(module: str) -> tuple[int, str]:
    """(layer index, the layer's package) of a dotted module name: the longest match."""
    best: tuple[int, str] | None = None
    for index, packages in enumerate(LAYERS):
        for package in packages:
            inside = module == package or module.startswith(package + ".")
            if inside and (best is None or len(package) > len(best[1])):
                best = (index, package)
    assert best is not None, f"{module} is on no layer: add it to LAYERS and the docs"
    return best


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(ROOT.rglob("*.py")):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(module: str, path: Path) -> list[tuple[int, str]]:
    """(line, imported module) of every rlcheck import in a file, wherever it stands, except
    those of the package root's lazy ``__getattr__`` (see the module docstring)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    lazy: set[int] = set()
    if module == "rlcheck":
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and node.name == "__getattr__":
                lazy |= {id(inner) for inner in ast.walk(node)}
    found = []
    for node in ast.walk(tree):
        if id(node) in lazy:
            continue
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from rlcheck.agents import ppo` imports the module rlcheck.agents.ppo.
            found += [(node.lineno, f"{base}.{a.name}") for a in node.names]
    return [(line, name) for line, name in found if name.split(".")[0] == "rlcheck"]


def _resolve(name: str, modules: dict[str, Path]) -> str:
    """The module an import names: itself, or its parent when it names a symbol."""
    while name not in modules and "." in name:
        name = name.rpartition(".")[0]
    return name


def upward_imports(modules: dict[str, Path]) -> list[str]:
    problems = []
    for module, path in modules.items():
        layer, package = _owner(module)
        for line, name in _imports(module, path):
            target = _resolve(name, modules)
            target_layer, target_package = _owner(target)
            if target_package == package or target == "rlcheck":
                continue
            if target_layer > layer or (target_layer == layer and target_package != package):
                where = f"{path.name}:{line}"
                problem = f"{where}: {module} imports {target} (layer of {target_package})"
                if problem not in problems:
                    problems.append(problem)
    return problems


def test_no_module_imports_from_a_layer_above_its_own():
    assert upward_imports(_modules()) == []


def test_the_check_catches_an_upward_import(tmp_path):
    # A driver that imports an algorithm (what drivers/fused.py did through agents.base), and
    # a function-local import of the CLI.
    probe = tmp_path / "probe.py"
    probe.write_text("from rlcheck.agents import ppo\n\n\ndef f():\n    import rlcheck.cli\n")
    modules = {**_modules(), "rlcheck.drivers.probe": probe}
    problems = upward_imports(modules)
    assert [p.split(": ", 1)[1] for p in problems] == [
        "rlcheck.drivers.probe imports rlcheck.agents.ppo (layer of rlcheck.agents)",
        "rlcheck.drivers.probe imports rlcheck.cli (layer of rlcheck.cli)",
    ]


def test_the_package_root_may_import_upward_only_lazily(tmp_path):
    probe = tmp_path / "__init__.py"
    probe.write_text(
        "from rlcheck.experiment import store\n\n\n"
        "def __getattr__(name):\n    from rlcheck.experiment.policies import load_policy\n"
    )
    problems = upward_imports({**_modules(), "rlcheck": probe})
    assert [p.split(": ", 1)[1] for p in problems] == [
        "rlcheck imports rlcheck.experiment.store (layer of rlcheck.experiment)"
    ]


@pytest.mark.parametrize(
    ("module", "package"),
    [
        ("rlcheck.agents.common.networks", "rlcheck.agents.common"),
        ("rlcheck.agents.ppo", "rlcheck.agents"),
        ("rlcheck.baselines.mpc", "rlcheck.baselines"),
        ("rlcheck.core", "rlcheck.core"),
    ],
)
def test_modules_belong_to_the_layer_of_their_longest_package(module, package):
    assert _owner(module)[1] == package


def test_every_module_is_on_a_layer():
    for module in _modules():
        _owner(module)
