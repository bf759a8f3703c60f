"""The package's import graph: no cycles, no upward arrows, no reaching into another package's private modules, lazy torch."""
import ast
import pathlib
import subprocess
import sys

import pytest

import skautoml

ROOT = pathlib.Path(skautoml.__file__).parent


def module_name(path):
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def resolve(importer, is_package, level, name):
    """The absolute module of ``from <level dots><name> import ...`` in ``importer``."""
    if level == 0:
        return name
    base = importer.split(".") if is_package else importer.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([name] if name else []))


def imports_of(path, modules):
    """The skautoml modules ``path`` imports: ``(eager, lazy)``.

    ``eager``: every import at any depth of its code (function-level imports too), with the
    packages that importing a submodule runs (``a.b.c`` runs ``a/__init__`` and ``a/b/__init__``);
    ``lazy``: the modules of its lazy export table, which load only when a name is used.
    """
    importer = module_name(path)
    is_package = path.name == "__init__.py"
    tree = ast.parse(path.read_text())
    targets, lazy = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = resolve(importer, is_package, node.level, node.module)
            targets.add(base)
            # ``from package import submodule`` imports the submodule.
            targets.update(f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in modules)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports":
            # The lazy export tables of __init__ files: {".module": [names]}.
            table = node.args[1]
            for key in getattr(table, "keys", []):
                relative = key.value
                level = len(relative) - len(relative.lstrip("."))
                lazy.add(resolve(importer, is_package, level, relative.lstrip(".")))
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module" and node.args:
            if isinstance(node.args[0], ast.Constant) and node.args[0].value.startswith("skautoml"):
                targets.add(node.args[0].value)
    targets |= {".".join(t.split(".")[:i]) for t in targets for i in range(1, t.count(".") + 1)}

    def known(names):
        return {t for t in names if t.split(".")[0] == "skautoml" and t in modules and t != importer}

    return known(targets), known(lazy)


@pytest.fixture(scope="module")
def imports():
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imports_of(p, modules) for p in paths}


@pytest.fixture(scope="module")
def graph(imports):
    """Every arrow, eager or lazy."""
    return {module: eager | lazy for module, (eager, lazy) in imports.items()}


def package_of(module):
    """The top-level subpackage a module belongs to (``skautoml.nas``), else the root.

    ``skautoml._utils`` holds the private helpers every package shares; the root holds the
    estimators and tools on top (``skautoml._estimators``, ``skautoml.cli``).
    """
    top = ".".join(module.split(".")[:2])
    return top if top in PACKAGES else "skautoml"


PACKAGES = {"skautoml._utils", "skautoml.search", "skautoml.nas", "skautoml.prep", "skautoml.features", "skautoml.automl"}


def test_the_graph_sees_the_package(graph):
    assert {"skautoml.search._loop", "skautoml.nas.evaluate._evaluator", "skautoml._estimators"} <= set(graph)
    assert "skautoml.search._loop" in graph["skautoml.search"]  # lazy exports count as edges
    assert "skautoml.search" in graph["skautoml.nas.space._chain"]


def test_no_import_cycle_between_modules(imports):
    # Depth-first search for a back edge among the imports that run (lazy exports do not).
    def edges(module):
        return sorted(imports[module][0])

    state, cycles = {}, []

    def visit(module, path):
        state[module] = "open"
        for target in edges(module):
            if state.get(target) == "open":
                cycles.append(path[path.index(target):] + [target])
            elif target not in state:
                visit(target, path + [target])
        state[module] = "done"

    for module in sorted(imports):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_no_cycle_between_packages_and_no_upward_arrow(graph):
    # The root __init__ (which every import of a submodule runs) only names things lazily.
    arrows = {(package_of(m), package_of(t)) for m, targets in graph.items() for t in targets if t != "skautoml"}
    arrows = {(a, b) for a, b in arrows if a != b}
    # The shared helpers import nothing of the package; the search core only them.
    assert {b for a, b in arrows if a == "skautoml._utils"} == set()
    assert {b for a, b in arrows if a == "skautoml.search"} == {"skautoml._utils"}
    # NAS builds on the search core and never on data preparation or feature engineering.
    assert {b for a, b in arrows if a == "skautoml.nas"} == {"skautoml.search", "skautoml._utils"}
    # Whole pipelines build on the search core, data preparation and feature engineering; nothing builds on them.
    assert {b for a, b in arrows if a == "skautoml.automl"} <= {
        "skautoml.search", "skautoml.prep", "skautoml.features", "skautoml._utils"
    }
    assert {a for a, b in arrows if b == "skautoml.automl"} <= {"skautoml"}  # the root's lazy exports
    # Nothing but the root (estimators, CLI) imports the root.
    assert {a for a, b in arrows if b == "skautoml"} == set()
    for a, b in arrows:
        assert (b, a) not in arrows, f"{a} and {b} import each other"


def test_no_package_imports_another_packages_private_module(graph):
    offenders = []
    for module, targets in graph.items():
        for target in targets:
            parts = target.split(".")
            private = any(part.startswith("_") for part in parts[2:])
            shared = package_of(target) == "skautoml._utils"
            if private and not shared and package_of(target) != package_of(module):
                offenders.append((module, target))
    assert offenders == []


def test_feature_engineering_and_data_preparation_do_not_load_torch():
    code = "import sys, skautoml, skautoml.features, skautoml.prep, skautoml.search, skautoml.automl; print(sorted(m for m in ('torch', 'skorch') if m in sys.modules))"
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "[]"
    # The tabular transformers that WrapperSelector's workers unpickle load no torch either.
    code = (
        "import sys; from skautoml.features import WrapperSelector, FilterSelector, FeatureConstructor; "
        "from skautoml.prep import AutoCleaner, LabelNoiseFilter, AutoSMOTE; "
        "from skautoml.search import Budget, RandomSearch, run_search; "
        "from skautoml.automl import PipelineSpace, PipelineEvaluator; from skautoml import AutoMLClassifier; "
        "from skautoml.features import EmbeddedSelector; print('torch' in sys.modules)"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert output.strip() == "False"


def test_lazy_names_are_the_real_objects():
    from skautoml.nas import Budget, RandomSearch
    from skautoml.search import Budget as CoreBudget
    from skautoml.search.strategy._random import RandomSearch as CoreRandomSearch

    assert Budget is CoreBudget and RandomSearch is CoreRandomSearch
    assert "AutoNASClassifier" in dir(skautoml) and "AutoNASClassifier" in skautoml.__all__
    with pytest.raises(AttributeError, match="no attribute 'Nope'"):
        skautoml.nas.Nope
