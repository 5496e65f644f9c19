"""The bench file (``configs/benchmarks/*.yaml``): its keys, declared once, and :func:`load_bench`.

A bench file::

    name: deformed-vs-undeformed           # required
    title: Deformed vs undeformed cuboids  # for the report
    note: what a reader should know first  # optional, under the title
    dataset: {spec: ../deformed.yaml}      # a stemsim spec (made or reused, keyed by spec hash)
    # dataset: {data: {kind: stm, path: ../../../shared/data/stm_si100, ...}}   # or an experiment data section
    seed: 1
    prior: {metric: accuracy, value: 0.944, note: "Inception-v3, last layer only, 1000/class"}
    target: {metric: accuracy, value: 0.99, minutes: 60}
                                           # multi-view: {..., views: 4} reads the curve at 4 views;
                                           # minutes: what a default run may take (training and
                                           # evaluation of every model), the report says if it did
    models:                                # classifier experiments without `seed`; `data` only with
                                           # MODEL_DATA_KEYS (how training learns the labels)
      - {name: vgg-like-64, experiment: {model: {name: vgg_like}, preprocess: {input_size: 64}}}
    full: {models: [...]}                  # with --full: replaces `models` (GPU-sized runs)
    views: {counts: [1, 2, 4, 8], fusion: [mean, vote, features, backprojection], spread: true}
                                           # multi-view data: accuracy vs views, the first K views
                                           # of every object (and with spread: K views evenly spread
                                           # over them); features: two_stage runs only,
                                           # backprojection: those trained on a tilt series;
                                           # other models skip them

The keys are :data:`BENCH` (:class:`stemsim.schema.Key`, the project's one schema mechanism);
their checks keep the bench file's own error lines, which name the key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stemsim.classifiers.views import FUSIONS
from stemsim.errors import InputError
from stemsim.schema import Key, KeyDoc, describe, fail, number
from stemsim.yamlio import merge

# what a model may change of the bench's data: how its training split's labels are learned, never
# which images a split holds
MODEL_DATA_KEYS = ("targets", "weighting", "oversample_max_repeat")


def _as_given(path: str, value: Any) -> Any:
    return value


def _name(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value:
        fail(path, "a bench needs a name")
    return value


def _note(path: str, value: Any) -> str:
    if not isinstance(value, str):
        fail(path, f"expected a sentence, got {value!r}")
    return value


def _dataset(path: str, value: Any) -> dict:
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in ("spec", "data"):
        fail(path, "expected {spec: SPEC.yaml} or {data: {kind: ..., path: ...}}")
    return value


_MINUTES = number(0, None, low_open=True)


def _target(path: str, value: Any) -> Any:
    if isinstance(value, dict) and "minutes" in value:
        value = {**value, "minutes": _MINUTES(f"{path}.minutes", value["minutes"])}
    return value


def _models(path: str, models: Any) -> list[dict]:
    if not isinstance(models, list) or not models:
        fail(path, "expected a non-empty list of {name, experiment}")
    names = set()
    for i, entry in enumerate(models):
        if not isinstance(entry, dict) or set(entry) - set(MODEL) or "name" not in entry:
            fail(f"{path}[{i}]", "expected {name, experiment} (and an optional note)")
        if entry["name"] in names:
            fail(f"{path}[{i}].name", f"{entry['name']!r} appears twice")
        names.add(entry["name"])
        experiment = entry.get("experiment", {})
        if "seed" in experiment:
            fail(f"{path}[{i}].experiment.seed", "set by the bench, not per model")
        own = experiment.get("data", {})
        if not isinstance(own, dict):
            fail(f"{path}[{i}].experiment.data", f"expected a mapping of {', '.join(MODEL_DATA_KEYS)}")
        for key in own:
            if key not in MODEL_DATA_KEYS:
                fail(f"{path}[{i}].experiment.data.{key}", "set by the bench (every model is tested on the same "
                     f"images); a model may set only {', '.join(MODEL_DATA_KEYS)}")
    return models


def _views(path: str, views: Any) -> dict:
    """``views: {counts: [1, 2, 4, 8], fusion: [mean, vote, features], spread: true}`` checked
    (fusion and spread optional)."""
    if not isinstance(views, dict) or set(views) - set(VIEWS) or "counts" not in views:
        fail(path, "expected {counts: [K, ...], fusion: [mean, vote, features], spread: true|false}")
    counts = views["counts"]
    if (not isinstance(counts, list) or not counts
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in counts)):
        fail(f"{path}.counts", f"expected a list of view counts >= 1, got {counts!r}")
    fusion = views.get("fusion", VIEWS["fusion"].default)
    if not isinstance(fusion, list) or not fusion or any(f not in FUSIONS for f in fusion):
        fail(f"{path}.fusion", f"expected a list from {', '.join(FUSIONS)}, got {fusion!r}")
    spread = views.get("spread", VIEWS["spread"].default)
    if not isinstance(spread, bool):
        fail(f"{path}.spread", f"expected true or false, got {spread!r}")
    return {"counts": sorted(set(counts)), "fusion": fusion, "spread": spread}


MODEL = {
    "name": Key(None, _as_given, "the row's name in the report (unique in the bench)"),
    "experiment": Key({}, _as_given, "a classifier experiment without seed; data only with targets, "
                                     "weighting, oversample_max_repeat"),
    "note": Key("", _as_given, "what the row is, for the report"),
}
"""One entry of ``models`` (and of ``full.models``)."""

VIEWS = {
    "counts": Key(None, _as_given, "view counts K at which the test accuracy is read", range=">= 1"),
    "fusion": Key(["mean"], _as_given, "fusion rules of single-view models: " + ", ".join(FUSIONS)),
    "spread": Key(False, _as_given, "also K views evenly spread over each object's views"),
}
"""The ``views`` section: accuracy against the number of views per object."""

BENCH = {
    "name": Key(None, _name, "the bench's name; a report folder holds results of one name and mode"),
    "title": Key(None, _as_given, "the report's title (default: the name)"),
    "note": Key("", _note, "what a reader should know first, under the title"),
    "dataset": Key(None, _dataset, "{spec: SPEC.yaml} (made or reused, keyed by spec hash) or "
                                   "{data: {kind: ..., path: ...}}, paths from the bench file's folder"),
    "seed": Key(0, _as_given, "the seed of every model (weights, shuffling, augmentation)"),
    "prior": Key(None, _as_given, "{metric, value, note}: the published result to compare with"),
    "target": Key(None, _target, "{metric, value, views, minutes}: what a model should reach (views: read "
                                 "at K views per object) and what a default run may take", units="min"),
    "models": Key(None, _models, "the rows: [{name, experiment, note}]"),
    "full": Key(None, _as_given, "{models: [...]}: replaces models with --full"),
    "views": Key(None, _views, "multi-view data: {counts, fusion, spread}"),
}
"""The keys of a bench file, in the order the error line lists them."""

BENCH_KEYS = tuple(BENCH)


def load_bench(path: str | Path, full: bool = False) -> dict[str, Any]:
    """Read and check a bench file; relative paths are taken from the file's folder.

    Returns the bench with ``dataset`` paths absolute, ``models`` the list the mode runs
    (``full.models`` with ``full``), ``title`` and ``seed`` filled and ``mode`` added
    (``"default"`` or ``"full"``). A bad key raises one :class:`InputError` line naming it.
    """
    from stemsim.yamlio import read_yaml

    path = Path(path)
    bench = read_yaml(path, "bench")
    if not isinstance(bench, dict):
        raise InputError(f"{path}: expected a mapping of bench keys")
    for key in bench:
        if key not in BENCH:
            fail(key, f"unknown key (allowed: {', '.join(BENCH_KEYS)})")
    # the checks run in this order, so a file with several problems gets the same first line
    BENCH["name"].check("name", bench.get("name"))
    BENCH["note"].check("note", bench.get("note", ""))
    dataset = BENCH["dataset"].check("dataset", bench.get("dataset"))
    base = path.resolve().parent
    if "spec" in dataset:
        dataset = {"spec": str((base / dataset["spec"]).resolve())}
    else:
        data = dict(dataset["data"])
        if "path" in data:
            data["path"] = str((base / data["path"]).resolve())
        dataset = {"data": data}
    bench["dataset"] = dataset
    models = (bench.get("full") or {}).get("models") if full else None
    bench["models"] = BENCH["models"].check("models", models or bench.get("models"))
    if "views" in bench:
        bench["views"] = BENCH["views"].check("views", bench["views"])
    if "target" in bench:
        bench["target"] = BENCH["target"].check("target", bench["target"])
    target = bench.get("target")
    counts = bench.get("views", {}).get("counts", [])
    if isinstance(target, dict) and "views" in target and target["views"] not in counts:
        fail("target.views", f"{target['views']!r} is not one of the bench's views.counts")
    bench.setdefault("title", bench["name"])
    bench.setdefault("seed", BENCH["seed"].default)
    bench["mode"] = "full" if full else "default"
    return bench


def model_experiment(entry: dict, data: dict, seed: int) -> dict[str, Any]:
    """A bench entry's experiment: the bench's ``data`` (with the entry's own
    :data:`MODEL_DATA_KEYS`) and ``seed`` put in."""
    own = entry.get("experiment", {}).get("data", {})
    return merge(entry.get("experiment", {}), {"data": {**data, **own}, "seed": seed})


def reference() -> list[KeyDoc]:
    """Every key of a bench file (``models[]`` and ``views`` keys dotted), for the key reference."""
    return describe(BENCH) + describe(MODEL, "models[].") + describe(VIEWS, "views.")
