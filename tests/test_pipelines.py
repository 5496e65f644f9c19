"""One pipeline per model kind (stemsim.classifiers.pipelines): every name resolves, an unknown one is
one line, nothing outside the registry branches on the kind, and classifiers/ has no import cycle."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from stemsim.classifiers.models import MODELS
from stemsim.classifiers.pipelines import PIPELINES, get_pipeline
from stemsim.classifiers.pipelines.base import Pipeline
from stemsim.classifiers.pipelines.keras import KerasPipeline
from stemsim.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
KINDS = set(MODELS)
"""Every model.name: the strings that no module outside the registry may compare a name to."""


def test_every_model_name_has_its_pipeline():
    assert set(PIPELINES) == set(MODELS)
    for name in MODELS:
        pipeline = get_pipeline(name)
        assert isinstance(pipeline, Pipeline) and pipeline.name == name
        assert get_pipeline(name) is pipeline  # registered once
    assert type(get_pipeline("stemnet")) is KerasPipeline  # a network builder gets the default
    assert {name for name, p in PIPELINES.items() if not p.needs_keras} == {"geometric", "texture"}
    assert get_pipeline("multiview").fusions({}) == ("pooling",)
    assert get_pipeline("two_stage").fusions({"view_features": {"1": 0.5}, "backprojection": {"1": 0.5}}) == (
        "mean", "vote", "features", "backprojection")
    assert get_pipeline("inception_v3").makes == ("features", "images")


@pytest.mark.parametrize("name", ["nope", 3, None])
def test_unknown_name_is_the_one_line_it_was(name):
    with pytest.raises(InputError) as error:
        get_pipeline(name)
    assert str(error.value) == f"model.name: unknown model {name!r} (known: {', '.join(MODELS)})"


def test_importing_the_registry_imports_no_keras():
    import subprocess

    code = ("import sys, stemsim.classifiers.pipelines, stemsim.classifiers.run; "
            "print('keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.split() == ["False", "False"]


def _sources():
    for package in ("classifiers", "benchmarks"):
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("classifiers", "pipelines") or relative == Path("classifiers/models/__init__.py"):
                continue  # the registry itself, and the builder registry that maps names to builders
            yield relative, ast.parse(path.read_text(), str(relative))


def _names_a_model(node: ast.AST) -> bool:
    """``x.name`` / ``x["name"]`` / ``cfg["model"]["name"]`` / ``info["model"]`` / ``model_name``."""
    if isinstance(node, ast.Attribute):
        return node.attr in ("name", "model_name")
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value in ("name", "model")
    return isinstance(node, ast.Name) and node.id in ("name", "model_name")


def _kind_literals(node: ast.AST) -> set[str]:
    values = node.elts if isinstance(node, (ast.Tuple, ast.List, ast.Set)) else [node]
    return {v.value for v in values if isinstance(v, ast.Constant) and isinstance(v.value, str)} & KINDS


def test_nothing_outside_the_registry_branches_on_the_model_kind():
    found = []
    for relative, tree in _sources():
        # module constants that list kinds (SKLEARN_MODELS = ("geometric", "texture")) count as their literals
        named = {target.id: _kind_literals(node.value) for node in tree.body if isinstance(node, ast.Assign)
                 for target in node.targets if isinstance(target, ast.Name) and _kind_literals(node.value)}
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare):
                continue
            sides = [node.left, *node.comparators]
            if any(_names_a_model(side) for side in sides):
                kinds = set().union(*(_kind_literals(side) | named.get(getattr(side, "id", None), set())
                                      for side in sides))
                if kinds:
                    found.append(f"{relative}:{node.lineno}: compares a model name to {sorted(kinds)}")
    assert not found, "\n".join(found)


def test_a_two_stage_run_carries_its_load_flags_and_older_runs_read_config():
    from types import SimpleNamespace

    pipeline = get_pipeline("two_stage")
    model = {"unet_tta": True, "corner_classifier": True, "corner_patches": False}
    recorded = pipeline.run_facts(model)
    assert recorded == {"load_flags": {"symmetric_maps": True, "corner_classifier": True, "corner_patches": False}}
    new = SimpleNamespace(info=recorded, config={"model": {}})  # run.json wins over config.yaml
    assert pipeline.load_flags(new) == recorded["load_flags"]
    old = SimpleNamespace(info={}, config={"model": model})  # a run written before load_flags
    assert pipeline.load_flags(old) == recorded["load_flags"]
    older = SimpleNamespace(info={}, config={"model": {}})  # keys missing altogether: off
    assert pipeline.load_flags(older) == dict.fromkeys(recorded["load_flags"], False)
