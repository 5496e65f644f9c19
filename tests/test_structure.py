"""The shape of the code (#28), read from the source as text (nothing is imported):

- the repository's folders install under ``stemsim.`` (pyproject's package-dir), every package
  folder is listed, and no code imports a bare ``simulator``/``classifiers``/``benchmarks``;
- no import cycles between modules (imports inside functions count: they are dependencies too);
- the layers: cli > benchmarks > classifiers > dataset > base (schema, yamlio, errors) > simulator;
  each imports only from its own layer or below, and the simulator imports nothing of the rest;
- no module over 500 lines.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PACKAGE_DIRS = PYPROJECT["tool"]["setuptools"]["package-dir"]  # package -> folder
PACKAGES = PYPROJECT["tool"]["setuptools"]["packages"]

# Highest first; a module belongs to the longest prefix that names it.
LAYERS = (
    ("stemsim.cli", "stemsim.schema_docs"),
    ("stemsim.benchmarks",),
    ("stemsim.classifiers",),
    ("stemsim.dataset",),
    ("stemsim.schema", "stemsim.yamlio"),
    ("stemsim.errors",),
    ("stemsim.simulator",),
)
MAX_LINES = 500


def _modules() -> dict[str, Path]:
    """Every module of the distribution: its dotted name under ``stemsim`` -> its file."""
    modules = {}
    for package, folder in PACKAGE_DIRS.items():
        base = ROOT / folder
        for path in sorted(base.rglob("*.py")):
            relative = path.relative_to(base).with_suffix("").parts
            parts = relative[:-1] if relative[-1] == "__init__" else relative
            modules[".".join((package, *parts))] = path
    return modules


MODULES = _modules()


def _imports(module: str, path: Path) -> set[str]:
    """The project modules ``module`` imports (anywhere in the file)."""
    found = set()
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[:len(base) - node.level + (1 if is_package else 0)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [stem] + [f"{stem}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in MODULES:  # `import a.b.c` depends on a.b.c, or its package
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


GRAPH = {module: _imports(module, path) for module, path in MODULES.items()}


def _layer(module: str) -> int:
    best, rank = -1, None
    for index, names in enumerate(LAYERS):
        for name in names:
            if (module == name or module.startswith(name + ".")) and len(name) > best:
                best, rank = len(name), index
    return rank


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in GRAPH:
        if start in index:
            continue
        work = [(start, iter(sorted(GRAPH[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(GRAPH[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        out.append(sorted(component))
    return out


def test_every_package_folder_installs_under_stemsim():
    folders = {".".join((package, *path.parent.relative_to(ROOT / folder).parts))
               for package, folder in PACKAGE_DIRS.items() for path in (ROOT / folder).rglob("__init__.py")}
    assert set(PACKAGES) == folders
    assert set(PACKAGE_DIRS) == {"stemsim", "stemsim.simulator", "stemsim.classifiers", "stemsim.benchmarks"}


def test_no_bare_top_level_imports():
    """`import simulator` would load a second copy of the module beside stemsim.simulator."""
    bare = []
    for path in [*MODULES.values(), *ROOT.glob("tests/*.py"), *ROOT.glob("examples/*.py"), *ROOT.glob("docs/_hooks/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else [])
            bare += [f"{path.relative_to(ROOT)}:{node.lineno}: {n}" for n in names
                     if n.split(".")[0] in ("simulator", "classifiers", "benchmarks")]
    assert bare == []


def test_the_graph_is_read():
    assert len(MODULES) > 80
    assert "stemsim.simulator.rotation" in GRAPH["stemsim.dataset.sampling"]
    assert _layer("stemsim.classifiers.pipelines.keras") == 2 and _layer("stemsim.simulator") == 6
    assert all(_layer(module) is not None for module in MODULES if module != "stemsim")


def test_no_import_cycles():
    assert _cycles() == []


def test_each_layer_imports_only_from_below():
    upward = [f"{a} -> {b}" for a, targets in GRAPH.items() if a != "stemsim" for b in targets
              if b != "stemsim" and _layer(b) < _layer(a)]
    assert upward == []


def test_the_simulator_imports_nothing_of_the_rest():
    assert {b for a, targets in GRAPH.items() if a.startswith("stemsim.simulator") for b in targets
            if not b.startswith("stemsim.simulator")} == set()


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_over_500_lines(module):
    assert len(MODULES[module].read_text().splitlines()) <= MAX_LINES


_WITHOUT_LEARN = r"""
import sys
from importlib.abc import MetaPathFinder

class NotInstalled(MetaPathFinder):  # as if only `pip install stemsim` had been run
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in {"tensorflow", "tensorflow_hub", "keras", "sklearn", "skimage", "skops",
                                      "fastapi", "uvicorn", "multipart"}:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NotInstalled())
from stemsim.cli import main
sys.argv = ["stemsim", *sys.argv[1:]]
main(sys.argv[1:])
"""


@pytest.mark.slow
def test_the_simulator_and_dataset_verbs_run_without_the_learn_extra(tmp_path):
    import subprocess
    import sys

    def stemsim(*args):
        return subprocess.run([sys.executable, "-c", _WITHOUT_LEARN, *map(str, args)], capture_output=True,
                              text=True, timeout=300, cwd=tmp_path)

    made = stemsim("generate", ROOT / "configs" / "quickstart.yaml", "--out", tmp_path / "data", "--limit", "4")
    assert made.returncode == 0, made.stderr
    assert stemsim("info", tmp_path / "data").returncode == 0
    assert stemsim("preview", ROOT / "configs" / "quickstart.yaml", "--out", tmp_path / "p.png").returncode == 0
    trained = stemsim("train", ROOT / "configs" / "experiments" / "quickstart.yaml", "--data", tmp_path / "data",
                      "--out", tmp_path / "run")
    assert trained.returncode == 2
    assert trained.stderr.strip().splitlines() == [
        "stemsim: error: this needs the classifier libraries (no module 'skimage'): pip install \"stemsim[learn]\""]
    assert not (tmp_path / "run").exists()
