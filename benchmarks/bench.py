"""``stemsim bench BENCH.yaml --out DIR``: make (or reuse) the dataset, train every listed
classifier, evaluate on the held-out test split, and write a report people read.

A bench file (``configs/benchmarks/*.yaml``)::

    name: deformed-vs-undeformed           # required
    title: Deformed vs undeformed cuboids  # for the report
    note: what a reader should know first  # optional, under the title
    dataset: {spec: ../deformed.yaml}      # a stemsim spec (made or reused, keyed by spec hash)
    # dataset: {data: {kind: stm, path: ../../../shared/data/stm_si100, ...}}   # or an experiment data section
    seed: 1
    prior: {metric: accuracy, value: 0.944, note: "Inception-v3, last layer only, 1000/class"}
    target: {metric: accuracy, value: 0.99}   # multi-view: {..., views: 4} reads the curve at 4 views
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

Output: ``DIR/report.md``, ``results.json``, ``results.csv``, ``samples.png``,
``confusion/<model>.png``, ``curves/<model>.png``, ``runs/<model>/`` (the run directories),
with ``views``, ``views.png`` (accuracy against the number of views per object), and for a
``two_stage`` model, ``maps/<model>.png`` with its pixel-wise scores in the report.

``--models a,b`` runs only those models; when ``DIR`` already holds results of the same bench
(name, mode, dataset), the other models' rows are kept, each with the command that made it.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.observer import summary as summary_of_observer
from classifiers.views import FUSIONS
from stemsim.errors import InputError
from stemsim.yamlio import merge

BENCH_KEYS = ("name", "title", "note", "dataset", "seed", "prior", "target", "models", "full", "views")
# what a model may change of the bench's data: how its training split's labels are learned, never
# which images a split holds
MODEL_DATA_KEYS = ("targets", "weighting", "oversample_max_repeat")


def load_bench(path: str | Path, full: bool = False) -> dict[str, Any]:
    """Read and check a bench file; relative paths are taken from the file's folder."""
    from stemsim.yamlio import read_yaml

    path = Path(path)
    bench = read_yaml(path, "bench")
    if not isinstance(bench, dict):
        raise InputError(f"{path}: expected a mapping of bench keys")
    for key in bench:
        if key not in BENCH_KEYS:
            raise InputError(f"{key}: unknown key (allowed: {', '.join(BENCH_KEYS)})")
    if not isinstance(bench.get("name"), str) or not bench["name"]:
        raise InputError("name: a bench needs a name")
    if not isinstance(bench.get("note", ""), str):
        raise InputError(f"note: expected a sentence, got {bench['note']!r}")
    dataset = bench.get("dataset")
    if not isinstance(dataset, dict) or len(dataset) != 1 or next(iter(dataset)) not in ("spec", "data"):
        raise InputError("dataset: expected {spec: SPEC.yaml} or {data: {kind: ..., path: ...}}")
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
    models = models or bench.get("models")
    if not isinstance(models, list) or not models:
        raise InputError("models: expected a non-empty list of {name, experiment}")
    names = set()
    for i, entry in enumerate(models):
        if not isinstance(entry, dict) or set(entry) - {"name", "experiment", "note"} or "name" not in entry:
            raise InputError(f"models[{i}]: expected {{name, experiment}} (and an optional note)")
        if entry["name"] in names:
            raise InputError(f"models[{i}].name: {entry['name']!r} appears twice")
        names.add(entry["name"])
        experiment = entry.get("experiment", {})
        if "seed" in experiment:
            raise InputError(f"models[{i}].experiment.seed: set by the bench, not per model")
        own = experiment.get("data", {})
        if not isinstance(own, dict):
            raise InputError(f"models[{i}].experiment.data: expected a mapping of {', '.join(MODEL_DATA_KEYS)}")
        for key in own:
            if key not in MODEL_DATA_KEYS:
                raise InputError(f"models[{i}].experiment.data.{key}: set by the bench (every model is tested on "
                                 f"the same images); a model may set only {', '.join(MODEL_DATA_KEYS)}")
    bench["models"] = models
    if "views" in bench:
        bench["views"] = _views_section(bench["views"])
    target = bench.get("target")
    counts = bench.get("views", {}).get("counts", [])
    if isinstance(target, dict) and "views" in target and target["views"] not in counts:
        raise InputError(f"target.views: {target['views']!r} is not one of the bench's views.counts")
    bench.setdefault("title", bench["name"])
    bench.setdefault("seed", 0)
    bench["mode"] = "full" if full else "default"
    return bench


def _views_section(views) -> dict:
    """``views: {counts: [1, 2, 4, 8], fusion: [mean, vote, features], spread: true}`` checked
    (fusion and spread optional)."""
    if not isinstance(views, dict) or set(views) - {"counts", "fusion", "spread"} or "counts" not in views:
        raise InputError("views: expected {counts: [K, ...], fusion: [mean, vote, features], spread: true|false}")
    counts = views["counts"]
    if (not isinstance(counts, list) or not counts
            or not all(isinstance(k, int) and not isinstance(k, bool) and k >= 1 for k in counts)):
        raise InputError(f"views.counts: expected a list of view counts >= 1, got {counts!r}")
    fusion = views.get("fusion", ["mean"])
    if not isinstance(fusion, list) or not fusion or any(f not in FUSIONS for f in fusion):
        raise InputError(f"views.fusion: expected a list from {', '.join(FUSIONS)}, got {fusion!r}")
    spread = views.get("spread", False)
    if not isinstance(spread, bool):
        raise InputError(f"views.spread: expected true or false, got {spread!r}")
    return {"counts": sorted(set(counts)), "fusion": fusion, "spread": spread}


def prepare_dataset(bench: dict, datasets: Path, jobs: int) -> tuple[dict, Path]:
    """The data section for the experiments, and the dataset's folder (made if needed)."""
    dataset = bench["dataset"]
    if "data" in dataset:
        from classifiers.data import dataset_record

        if isinstance(dataset["data"].get("path"), str):  # an incomplete stemsim dataset: refused before any training
            dataset_record(dataset["data"]["path"])
        return dataset["data"], Path(dataset["data"]["path"])
    from stemsim.dataset import generate, load_spec
    from stemsim.dataset.spec import spec_hash

    spec = load_spec(dataset["spec"])
    folder = datasets / f"{spec['name']}-{spec_hash(spec)}"
    generate(spec, folder, jobs=jobs)  # resumes, or does nothing when complete
    return {"kind": "stemsim", "path": str(folder.resolve())}, folder


def _fingerprint(experiment: dict) -> str:
    import hashlib

    from stemsim import __version__

    text = json.dumps({"experiment": experiment, "version": __version__}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def model_experiment(entry: dict, data: dict, seed: int) -> dict[str, Any]:
    """A bench entry's experiment: the bench's ``data`` (with the entry's own
    :data:`MODEL_DATA_KEYS`) and ``seed`` put in."""
    own = entry.get("experiment", {}).get("data", {})
    return merge(entry.get("experiment", {}), {"data": {**data, **own}, "seed": seed})


def run_model(entry: dict, data: dict, seed: int, runs: Path, views: dict | None = None) -> dict[str, Any]:
    """Train one model (or reuse an identical finished run) and evaluate it on the test split
    (and, with ``views``, on K views of every test object for each K and fusion)."""
    from classifiers.evaluation import evaluate
    from classifiers.training import train

    experiment = model_experiment(entry, data, seed)
    run_dir = runs / entry["name"]
    stamp = run_dir / "bench.json"
    fingerprint = _fingerprint(experiment)
    reused = stamp.is_file() and json.loads(stamp.read_text()).get("fingerprint") == fingerprint
    if not reused:
        start = time.perf_counter()
        train(experiment, run_dir, overwrite=True)
        stamp.write_text(json.dumps({"fingerprint": fingerprint, "train_seconds": time.perf_counter() - start,
                                     "processor": processor()}))
    trained = json.loads(stamp.read_text())
    train_seconds = trained["train_seconds"]
    start = time.perf_counter()
    report = evaluate(run_dir, split="test")
    metrics = report["metrics"]
    row = {"name": entry["name"], "note": entry.get("note", ""), "model": report["model"], "weights": report["weights"],
           "metrics": metrics, "baseline": report["constant_baseline"], "train_seconds": train_seconds,
           "inference": report["inference"], "size": report["model_size"],
           "evaluation_dir": _relative(report["output_dir"]), "run_dir": _relative(run_dir), "reused": reused}
    if trained.get("processor"):  # the machine that trained it (reused runs from before: unrecorded)
        row["processor"] = trained["processor"]
    for key in ("targets", "maps", "family"):
        if key in report:
            row[key] = report[key]
    if views:
        row["by_views"] = _accuracy_by_views(run_dir, views)
    row["evaluation_seconds"] = time.perf_counter() - start
    return row


def _accuracy_by_views(run_dir: Path, views: dict) -> list[dict]:
    """Test accuracy with K views of every object: one curve per fusion rule for a single-view
    model (late fusion), one for a multiview CNN (it pools its views itself); each with the
    first K views (``selection: first``) and, with ``views.spread``, K views evenly spread over
    the object's views (``selection: spread``; a K whose spread views are the first K is not
    evaluated twice)."""
    from classifiers.evaluation import evaluate
    from classifiers.run import open_run
    from classifiers.views import view_indices

    run = open_run(run_dir)
    fusions = [None] if run.multiview else [f for f in views["fusion"] if f in run.fusions]
    curves = []
    for spread in (False, True) if views.get("spread") else (False,):
        for fusion in fusions:
            first = {p["views"]: p for p in curves[fusions.index(fusion)]["points"]} if spread else {}
            points = []
            for k in views["counts"]:
                if spread and list(view_indices(k, run.info["views"], True)) == list(range(k)):
                    points.append(first[k])
                    continue
                name = f"test-views{k}" + (f"-{fusion}" if fusion else "") + ("-spread" if spread else "")
                result = evaluate(run_dir, split="test", views=k, fusion=fusion, spread=spread,
                                  out=run_dir / "evaluation" / name)
                m = result["metrics"]
                points.append({"views": k, "accuracy": m.get("accuracy"),
                               "balanced_accuracy": m.get("balanced_accuracy"),
                               "n_objects": result["data"].get("n_objects"),
                               "indices": result["views"].get("indices", list(range(k)))})
            curves.append({"fusion": fusion or "view pooling", "selection": "spread" if spread else "first",
                           "points": points,
                           "never_falls": all(b["accuracy"] >= a["accuracy"] for a, b in zip(points, points[1:]))})
    return curves


def run_bench(path: str | Path, out: str | Path, full: bool = False, datasets: str | Path | None = None,
              jobs: int = 1, only: list[str] | None = None, log=print) -> dict[str, Any]:
    """Run a bench file end to end; returns the results (also written to ``out``)."""
    bench = load_bench(path, full)
    out = Path(out)
    explicit_datasets = datasets is not None
    datasets = Path(datasets) if datasets else out.parent / "datasets"
    order = [m["name"] for m in bench["models"]]
    if only:
        unknown = set(only) - set(order)
        if unknown:
            raise InputError(f"--models: not in the bench: {', '.join(sorted(unknown))}")
    selected = [m for m in bench["models"] if not only or m["name"] in only]
    _deterministic()
    log(f"[{bench['name']}] dataset")
    data, folder = prepare_dataset(bench, datasets, jobs)
    dataset_info = {"path": _relative(folder)}
    if "spec" in bench["dataset"]:
        dataset_info["spec"] = _relative(bench["dataset"]["spec"])
    command = f"stemsim bench {_relative(path)} --out {_relative(out)}" + (" --full" if full else "")
    if only:
        command += f" --models {','.join(only)}"
    if explicit_datasets:
        command += f" --datasets {_relative(datasets)}"
    rows, failures = [], []
    for entry in selected:
        log(f"[{bench['name']}] {entry['name']}")
        try:
            row = run_model(entry, data, bench["seed"], out / "runs", bench.get("views"))
        except InputError as error:  # e.g. pretrained weights that cannot be had here
            failures.append({"name": entry["name"], "reason": str(error), "command": command})
            log(f"[{bench['name']}] {entry['name']} skipped: {error}")
            continue
        breakdown = accuracy_by_deformation(folder / "manifest.csv", Path(row["evaluation_dir"]) / "predictions.csv")
        if breakdown:
            row["by_deformation"] = breakdown
        certainty = roc_auc_by_label_certainty(bench["dataset"], Path(row["evaluation_dir"]) / "predictions.csv")
        if certainty:
            row["by_label_certainty"] = certainty
        rows.append({**row, "command": command})
    bench_info = _bench_info(bench)
    if only:
        rows, failures = _with_earlier_rows(out, bench_info, dataset_info, order, rows, failures, log)
    results = {"bench": bench_info, "dataset": dataset_info, "models": rows, "skipped": failures,
               "environment": _environment(), "command": command, "commands": _commands(rows + failures),
               **_dataset_notes(bench)}
    _write(results, out, folder)
    return results


def _bench_info(bench: dict) -> dict[str, Any]:
    """What ``results.json`` ``bench`` records of a loaded bench file."""
    info = {k: bench[k] for k in ("name", "title", "note", "seed", "prior", "target", "mode", "views") if k in bench}
    return {**info, "model_names": [m["name"] for m in bench["models"]]}


def rewrite_report(path: str | Path, out: str | Path, full: bool = False) -> dict[str, Any]:
    """``--report-only``: the rows of ``out/results.json`` under the bench file as it is now
    (title, prior, target, views; the rows of the models it lists, in its order), written again
    as ``report.md``, ``results.json``, ``results.csv`` and ``views.png``; nothing is trained,
    the figures of models no longer listed are removed and the others are left as they are.
    InputError if ``out`` holds no results of this bench (name and mode)."""
    import matplotlib

    matplotlib.use("Agg")
    bench = load_bench(path, full)
    earlier_file = Path(out) / "results.json"
    if not earlier_file.is_file():
        raise InputError(f"{earlier_file}: no results to report (run the bench first)")
    try:
        results = json.loads(earlier_file.read_text())
        earlier = results["bench"]
    except (ValueError, KeyError, TypeError):
        raise InputError(f"{earlier_file}: damaged results (not a bench's results.json)") from None
    if (earlier.get("name"), earlier.get("mode")) != (bench["name"], bench["mode"]):
        raise InputError(f"{earlier_file}: results of bench {earlier.get('name')!r} ({earlier.get('mode')}), "
                         f"not of {bench['name']!r} ({bench['mode']})")
    results.update(bench=_bench_info(bench), **_dataset_notes(bench))
    listed = [m["name"] for m in bench["models"]]
    for key in ("models", "skipped"):  # a model taken off the bench file (or moved to its full list) leaves it
        results[key] = _in_bench_order(results.get(key, []), listed)
    results["commands"] = _commands(results["models"] + results["skipped"]) or results.get("commands",
                                                                                           [results["command"]])
    out = Path(out)
    _plot_views(results, out / "views.png")
    _drop_stale_figures(results, out)
    _write_files(results, out)
    return results


def _drop_stale_figures(results: dict, out: Path) -> None:
    """Remove the per-model figures of models the results no longer hold."""
    names = {r["name"] for r in results["models"]}
    for sub in ("confusion", "curves", "maps"):
        for figure in (out / sub).glob("*.png"):
            if figure.stem not in names:
                figure.unlink()


def _with_earlier_rows(out: Path, bench: dict, dataset: dict, order: list[str], rows: list[dict],
                       failures: list[dict], log) -> tuple[list[dict], list[dict]]:
    """A ``--models`` run into a report folder that already holds results of the same bench
    (same name, mode and dataset) keeps the other models' rows, each with the command that made
    it, in the bench file's order; rows of models no longer in the bench file are dropped."""
    earlier_file = out / "results.json"
    if not earlier_file.is_file():
        return rows, failures
    earlier = json.loads(earlier_file.read_text())
    same = (earlier.get("bench", {}).get(k) == bench.get(k) for k in ("name", "mode"))
    if not all(same) or earlier.get("dataset", {}).get("path") != dataset["path"]:
        log(f"[{bench['name']}] {earlier_file}: another bench or dataset; its rows are not kept")
        return rows, failures
    done = {r["name"] for r in rows + failures}
    keep = [{**r, "command": r.get("command", earlier["command"])}
            for r in earlier.get("models", []) + earlier.get("skipped", [])
            if r["name"] in order and r["name"] not in done]
    if keep:
        log(f"[{bench['name']}] kept from {earlier_file}: {', '.join(r['name'] for r in keep)}")
    return (_in_bench_order(rows + [r for r in keep if "metrics" in r], order),
            _in_bench_order(failures + [r for r in keep if "metrics" not in r], order))


def _in_bench_order(rows: list[dict], order: list[str]) -> list[dict]:
    """The rows of the models the bench file lists, in its order (others dropped)."""
    position = {name: i for i, name in enumerate(order)}
    return sorted((r for r in rows if r["name"] in position), key=lambda r: position[r["name"]])


def _commands(rows: list[dict]) -> list[str]:
    """The commands that made the rows, each once, in row order."""
    return list(dict.fromkeys(r["command"] for r in rows if "command" in r))


def _dataset_notes(bench: dict) -> dict:
    """What the results record of the dataset itself: ``labels`` for people-labelled STM data."""
    labels = label_noise(bench["dataset"])
    return {"labels": labels} if labels else {}


def _relative(path) -> str:
    """``path`` relative to the current directory, so that reports travel with the tree."""
    import os

    return os.path.relpath(Path(path).resolve(), Path.cwd())


def _deterministic() -> None:
    try:
        import keras

        if keras.config.backend() == "tensorflow":
            import tensorflow as tf

            tf.config.experimental.enable_op_determinism()
    except Exception:  # noqa: BLE001 - determinism is best effort; the report says which backend ran
        pass


def _environment() -> dict[str, Any]:
    from classifiers.run import environment

    import stemsim

    return {"stemsim": stemsim.__version__, "python": platform.python_version(),
            "machine": platform.machine(), "processor": processor(),
            "cpus": __import__("os").cpu_count(), **environment()}


def processor() -> str:
    """This machine's CPU model (``platform.processor()`` is empty on Linux: /proc/cpuinfo's
    ``model name`` there), or "unknown"."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _headline(metrics: dict) -> str:
    return "exact_match_accuracy" if "exact_match_accuracy" in metrics else "accuracy"


def _fmt(value, percent=True) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.1f} %" if percent else f"{value:.3f}"


def _write(results: dict, out: Path, dataset: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("confusion", "curves"):
        (out / sub).mkdir(exist_ok=True)
    for row in results["models"]:
        confusion = Path(row["evaluation_dir"]) / "confusion.png"
        if confusion.is_file():
            shutil.copyfile(confusion, out / "confusion" / f"{row['name']}.png")
        _plot_curves(Path(row["run_dir"]) / "history.json", out / "curves" / f"{row['name']}.png", row["name"])
    _sample_grid(dataset, out / "samples.png")
    _plot_views(results, out / "views.png")
    _drop_stale_figures(results, out)
    for row in results["models"]:
        # a row kept from an earlier run may have no run folder here; its figure stays as it was
        if "mask_iou" in row.get("maps", {}) and (Path(row["run_dir"]) / "run.json").is_file():
            (out / "maps").mkdir(exist_ok=True)
            _plot_maps(Path(row["run_dir"]), dataset, out / "maps" / f"{row['name']}.png")
    _write_files(results, out)


def _write_files(results: dict, out: Path) -> None:
    """results.json, results.csv and report.md, citing the ideal observer's results in
    ``out/observer/`` when :mod:`benchmarks.observer` was run there."""
    observer = summary_of_observer(out / "observer")
    results.pop("observer", None)
    results.update({"observer": observer} if observer else {})
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.csv").write_text(_csv(results))
    (out / "report.md").write_text(markdown(results))


def _table_rows(results: dict) -> list[dict]:
    rows = []
    for row in results["models"]:
        m = row["metrics"]
        rows.append({
            "model": row["name"], "architecture": row["model"].get("name") if isinstance(row["model"], dict) else row["model"],
            "weights": row["weights"], "accuracy": m.get("accuracy", m.get("exact_match_accuracy")),
            "balanced_accuracy": m.get("balanced_accuracy", m.get("mean_category_balanced_accuracy")),
            "macro_f1": m.get("macro_f1"), "roc_auc": m.get("roc_auc_macro"),
            "train_seconds": row["train_seconds"], "images_per_second": row["inference"].get("images_per_second"),
            "size_mb": row["size"].get("total_megabytes")})
    return rows


def _csv(results: dict) -> str:
    rows = _table_rows(results)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def markdown(results: dict) -> str:
    bench = results["bench"]
    commands = results.get("commands", [results["command"]])
    lines = [f"# {bench['title']}", "", *([bench["note"], ""] if bench.get("note") else []),
             f"Command: `{commands[0]}`" if len(commands) == 1 else
             "Commands (each row names its own in `results.json`): " + "; ".join(f"`{c}`" for c in commands), "",
             f"Dataset: `{results['dataset']['path']}`" + (f" (spec `{results['dataset']['spec']}`)"
                                                          if "spec" in results["dataset"] else ""), ""]
    multilabel = any("exact_match_accuracy" in r["metrics"] for r in results["models"])
    accuracy_name = "exact match" if multilabel else "accuracy"
    lines += [f"| model | weights | {accuracy_name} | balanced acc. | macro-F1 | ROC AUC | train time | "
              "inference | size |", "|---|---|---|---|---|---|---|---|---|"]
    for row in _table_rows(results):
        lines.append(f"| {row['model']} | {row['weights']} | {_fmt(row['accuracy'])} | "
                     f"{_fmt(row['balanced_accuracy'])} | {_fmt(row['macro_f1'])} | {_fmt(row['roc_auc'], False)} | "
                     f"{row['train_seconds']:.0f} s | {row['images_per_second'] or 0:.0f} img/s | "
                     f"{row['size_mb']:.2f} MB |")
    if results["models"]:
        base = results["models"][0]["baseline"]
        value = base.get("accuracy", base.get("exact_match_accuracy"))
        balanced = base.get("balanced_accuracy", 0.5)  # multi-label: a constant per category scores 0.5
        lines.append(f"| constant predictor ({_predicts(base)}) | – | {_fmt(value)} | "
                     f"{_fmt(balanced)} | {_fmt(base.get('macro_f1'))} | 0.500 | – | – | – |")
    prior = bench.get("prior")
    if prior:
        lines.append(f"| prior work: {prior.get('note', '')} | – | {_fmt(prior['value'])} ({prior['metric']}) "
                     "| – | – | – | – | – | – |")
    for skipped in results["skipped"]:
        lines.append(f"| {skipped['name']} (not run) | – | – | – | – | – | – | – | – |")
    lines += [item for line in (target_line(results), observer_line(results), ceiling_line(results),
                                *family_lines(results)) if line
              for item in ("", line)]
    lines += ["", time_line(results)] if results["models"] else []
    absent = [name for name in results["bench"].get("model_names", [])
              if name not in {r["name"] for r in results["models"] + results["skipped"]}]
    if absent:
        lines += ["", f"Not in this report (run them with `--models {','.join(absent)}`): {', '.join(absent)}."]
    if results["skipped"]:
        lines += ["", "Not run:"] + [f"- {s['name']}: {s['reason']}" for s in results["skipped"]]
    if multilabel:
        lines += ["", "## Per category (test split)", ""]
        for row in results["models"]:
            per = row["metrics"]["per_category"]
            lines += [f"**{row['name']}**", "", "| category | accuracy | balanced acc. | ROC AUC | constant |",
                      "|---|---|---|---|---|"]
            constant = row["baseline"].get("per_category_accuracy", {})
            for name, values in per.items():
                lines.append(f"| {name} | {_fmt(values['accuracy'])} | {_fmt(values['balanced_accuracy'])} | "
                             f"{_fmt(values['roc_auc'], False)} | {_fmt(constant.get(name))} |")
            lines.append("")
    lines += _label_lines(results)
    lines += _views_lines(results)
    lines += _maps_lines(results)
    lines += _breakdown_lines(results)
    lines += _count_lines(results)
    lines += ["", "## Figures", "", "![samples](samples.png)", ""]
    for row in results["models"]:
        lines += [f"**{row['name']}**: ![confusion](confusion/{row['name']}.png) "
                  f"![learning curves](curves/{row['name']}.png)", ""]
    env = results["environment"]
    lines += ["## Environment", "", ", ".join(f"{k} {v}" for k, v in env.items()), "",
              f"Seeds: bench seed {bench['seed']} (weights, shuffling, augmentation); dataset seed in its spec. "
              "TensorFlow op determinism is switched on; on another CPU (other vectorised kernels) or backend "
              "runs may differ in the last digits.", ""]
    return "\n".join(lines)


DEPTH_BINS = (0.0, 0.2, 0.25, 0.3, 0.5)
"""Edges of the deformation-depth bins of :func:`accuracy_by_deformation` (fractions of the edge)."""


def accuracy_by_deformation(manifest: Path, predictions: Path) -> dict[str, list[dict]] | None:
    """Test accuracy of one model by deformation depth and by number of deformed vertices.

    Joins the evaluation's ``predictions.csv`` (``id``: image or object id) to the dataset's
    ``manifest.csv`` (``object_id``). Shows where the errors sit: if accuracy climbs with
    depth, the small deformations are what the models miss. None for data without a
    stemsim manifest.
    """
    if not manifest.is_file() or not predictions.is_file():
        return None
    with manifest.open() as handle:
        objects = {row["object_id"]: row for row in csv.DictReader(handle)}
    with predictions.open() as handle:
        rows = [(objects.get(r["id"]), r["true"] == r["predicted"]) for r in csv.DictReader(handle)]
    rows = [(obj, right) for obj, right in rows if obj is not None]
    if not rows:
        return None

    def table(key) -> list[dict]:
        groups: dict[str, list[bool]] = {}
        for obj, right in rows:
            groups.setdefault(key(obj), []).append(right)
        return [{"group": g, "n": len(v), "accuracy": float(np.mean(v))} for g, v in sorted(groups.items())]

    def depth_bin(obj) -> str:
        depth = float(obj["depth"] or 0)
        if int(obj["n_deformed"]) == 0:
            return "undeformed"
        k = int(np.searchsorted(DEPTH_BINS, depth, side="right")) - 1
        k = min(max(k, 0), len(DEPTH_BINS) - 2)
        return f"{DEPTH_BINS[k]:.2f}–{DEPTH_BINS[k + 1]:.2f}"

    return {"depth": table(depth_bin), "n_deformed": table(lambda obj: f"{int(obj['n_deformed'])}")}


def label_noise(dataset: dict) -> dict | None:
    """For people-labelled STM data (``kind: stm``): how many people labelled each image and how
    often two of them disagreed (:func:`classifiers.stm_data.rater_disagreement`), and the ROC
    AUC such labels allow (``ceiling``: :func:`classifiers.stm_data.label_ceiling`); else None."""
    data = dataset.get("data", {})
    if data.get("kind") != "stm":
        return None
    from classifiers.config import STM_CATEGORIES
    from classifiers.stm_data import label_ceiling, rater_disagreement, read_stm_table

    table = read_stm_table(Path(data["path"]) / "labels.csv")
    ceiling = label_ceiling(table, data.get("threshold", 0.5), data.get("categories", STM_CATEGORIES))
    return {**rater_disagreement(table), "ceiling": ceiling}


LABEL_CERTAINTY_GROUPS = {"one_person": "labelled by one person", "two_or_more": "by two or more",
                          "unanimous": "by two or more, all agreeing on the category"}


def roc_auc_by_label_certainty(dataset: dict, predictions: Path) -> dict | None:
    """For people-labelled STM data: one model's test ROC AUC (mean over categories) on the
    images labelled by one person, by two or more, and — category by category — by two or
    more who all agreed on that category (mean score 0 or 1). None for other data.

    Each group: ``{"images": n, "roc_auc_macro": value or None}`` (``images``: per category
    for ``unanimous``). The unanimous group is chosen by the label, so it leaves out the
    ambiguous images: it shows where the errors sit, it is not the bench's target.
    """
    data = dataset.get("data", {})
    if data.get("kind") != "stm" or not predictions.is_file():
        return None
    from sklearn.metrics import roc_auc_score

    from classifiers.config import STM_CATEGORIES
    from classifiers.stm_data import binarise, read_stm_table

    table = read_stm_table(Path(data["path"]) / "labels.csv")
    row_of = {name: i for i, name in enumerate(table["name"])}
    with open(predictions, newline="") as handle:
        rows = list(csv.DictReader(handle))
    categories = [c.removeprefix("p_") for c in rows[0] if c.startswith("p_")] if rows else []
    if not categories:
        return None
    index = np.array([row_of[r["id"]] for r in rows], np.int64)
    columns = [STM_CATEGORIES.index(c) for c in categories]
    scores = table["scores"][index][:, columns]
    truth = binarise(scores, data.get("threshold", 0.5)) > 0
    probability = np.array([[float(r[f"p_{c}"]) for c in categories] for r in rows])
    people = table["n_responses"][index]

    def macro(keep: np.ndarray) -> float | None:  # keep: (N, C) bool
        aucs = [roc_auc_score(truth[keep[:, c], c], probability[keep[:, c], c]) for c in range(len(categories))
                if 0 < truth[keep[:, c], c].sum() < keep[:, c].sum()]
        return float(np.mean(aucs)) if len(aucs) == len(categories) else None

    one, several = (np.broadcast_to(keep[:, None], scores.shape) for keep in (people == 1, people >= 2))
    unanimous = several & ((scores == 0) | (scores == 1))
    return {"one_person": {"images": int(one[:, 0].sum()), "roc_auc_macro": macro(one)},
            "two_or_more": {"images": int(several[:, 0].sum()), "roc_auc_macro": macro(several)},
            "unanimous": {"images": unanimous.sum(axis=0).astype(int).tolist(), "roc_auc_macro": macro(unanimous)}}


def _label_lines(results: dict) -> list[str]:
    labels = results.get("labels")
    if not labels:
        return []
    n, responses = labels["images"], labels["responses"]
    one, two, more = (f"{100 * responses[k] / n:.0f} %" for k in ("1", "2", "3+"))
    share = f"{one} were labelled by one person, {two} by two and {more} by three or more"
    disagreement = ", ".join(f"{c} {_fmt(v)}" for c, v in labels["disagreement"].items() if v is not None)
    return ["", "## The labels", "",
            f"Of the dataset's {n} images, {share}. On the {labels['two_rater_images']} images that two people "
            f"labelled, they disagreed (one ticked the category, the other did not) on: {disagreement}. Most test "
            "labels are one person's, so part of what every model here misses is in the labels, not the images: "
            "a model's ROC AUC against such labels stays below 1 however well it sees the surface.", ""] \
        + _person_lines(labels) + _ceiling_lines(results) + _certainty_lines(results)


def _person_lines(labels: dict) -> list[str]:
    people = {c: v for c, v in labels.get("person_vs_person", {}).items() if v is not None}
    if not people:
        return []
    return [f"One person's ticks as a prediction of the other's, on the images two people labelled: balanced "
            f"accuracy (for a yes/no answer also its ROC AUC) {', '.join(f'{c} {v:.3f}' for c, v in people.items())}; "
            f"mean {np.mean(list(people.values())):.3f}. That is how well one person's label predicts another's.",
            ""]


def _ceiling_lines(results: dict) -> list[str]:
    ceiling = results["labels"].get("ceiling")
    if not ceiling:
        return []
    free, beta = ceiling["free"], ceiling["beta"]
    best = max(results["models"], key=lambda r: r["metrics"].get("roc_auc_macro") or 0, default=None)
    per = best["metrics"]["per_category"] if best else {}
    lines = ["How high the labels let a ROC AUC go: a model that knew each image's tick probability exactly (the "
             "fraction of all people who would tick the category, the most a model of the image can know), scored "
             "against labels made as these were (k of n people ticking, the label holding when k/n > "
             f"{ceiling['threshold']:g}, with as many people per image as here). The tick probabilities are not seen, "
             "only the ticks, and with mostly one to three people per image the ticks leave the shape of their spread "
             "over the images open; it is fitted to them two ways (log-likelihood in brackets, higher fits better): "
             "a free distribution (the best fit) and a beta distribution "
             "(`classifiers.stm_data.label_ceiling`). They are estimates, not bounds: they take the people as "
             "interchangeable and how many labelled an image as unrelated to the image.", "",
             "| category | " + (f"{best['name']} | " if best else "") + "ceiling, free fit | ceiling, beta fit |",
             "|---|" + ("---|" if best else "") + "---|---|"]
    for name, value in free["per_category"].items():
        other = beta["per_category"][name]
        model = f"{_fmt((per.get(name) or {}).get('roc_auc'), False)} | " if best else ""
        lines.append(f"| {name} | {model}{value['roc_auc']:.3f} ({value['log_likelihood']:.1f}) | "
                     f"{other['roc_auc']:.3f} ({other['log_likelihood']:.1f}) |")
    model = f"{_fmt(best['metrics'].get('roc_auc_macro'), False)} | " if best else ""
    lines += [f"| mean | {model}{free['mean_roc_auc']:.3f} | {beta['mean_roc_auc']:.3f} |", ""]
    above = [name for name, value in free["per_category"].items()
             if ((per.get(name) or {}).get("roc_auc") or 0) > value["roc_auc"]]
    if above:
        lines += [f"On {', '.join(above)}, {best['name']} scores above the free fit's ceiling, so that fit is too "
                  "pessimistic there (by chance of the test images, or because an assumption fails): the ticks do "
                  "not pin the ceiling down, and the range of the two fits is the honest answer.", ""]
    return lines


def ceiling_line(results: dict) -> str:
    """For people-labelled data: the ROC AUC the labels allow (the labels' section has it by
    category) against the target, or ``""``."""
    ceiling = (results.get("labels") or {}).get("ceiling")
    if not ceiling:
        return ""
    low, high = sorted((ceiling["free"]["mean_roc_auc"], ceiling["beta"]["mean_roc_auc"]))
    text = (f"The labels allow a mean ROC AUC of about {low:.3f}–{high:.3f}: what a model that knew every image's "
            "tick probability exactly would score against them, estimated two ways from the people's ticks "
            "(section The labels).")
    target = results["bench"].get("target") or {}
    if target.get("metric") == "roc_auc_macro" and target["value"] > high:
        text += f" The target, {target['value']:.3f}, is above what a perfect model would score by either estimate."
    elif target.get("metric") == "roc_auc_macro" and target["value"] >= round(low, 3):
        text += f" The target, {target['value']:.3f}, lies in that range: only a model close to perfect reaches it."
    return text


def _certainty_lines(results: dict) -> list[str]:
    rows = [r for r in results["models"] if r.get("by_label_certainty")]
    if not rows:
        return []
    lines = ["Mean ROC AUC on the test images by how sure their labels are (the models run since this table "
             "exists). The last column keeps, category by category, only the images whose two or more people "
             "all agreed on that category: chosen by the label, it leaves out the ambiguous images, so it shows "
             "where the errors sit and is not the target.", "",
             "| model | all | " + " | ".join(LABEL_CERTAINTY_GROUPS.values()) + " |", "|---|---|---|---|---|"]
    for row in rows:
        groups = row["by_label_certainty"]
        cells = [_fmt(groups[g]["roc_auc_macro"], False) for g in LABEL_CERTAINTY_GROUPS]
        lines.append(f"| {row['name']} | {_fmt(row['metrics'].get('roc_auc_macro'), False)} | " + " | ".join(cells)
                     + " |")
    first = rows[0]["by_label_certainty"]
    lines += [f"| (test images) | | {first['one_person']['images']} | {first['two_or_more']['images']} | "
              f"{min(first['unanimous']['images'])}–{max(first['unanimous']['images'])} per category |", ""]
    return lines


def _breakdown_lines(results: dict) -> list[str]:
    rows = [r for r in results["models"] if r.get("by_deformation")]
    if not rows:
        return []
    lines = ["", "## Where the errors are (test split)", "",
             "Accuracy by the depth of the deformations (fraction of the edge; `undeformed`: none) and by the "
             "number of deformed vertices. Accuracy that climbs with depth means the shallow cuts are what the "
             "models miss; whether the images show them at this dose is the ideal observer's question "
             "(`python -m benchmarks.observer`).", ""]
    for kind, title in (("depth", "depth"), ("n_deformed", "deformed vertices")):
        groups = [g["group"] for g in rows[0]["by_deformation"][kind]]
        lines += [f"| model \\ {title} | " + " | ".join(groups) + " |", "|---" * (len(groups) + 1) + "|"]
        counts = {g["group"]: g["n"] for g in rows[0]["by_deformation"][kind]}
        for row in rows:
            values = {g["group"]: g["accuracy"] for g in row["by_deformation"][kind]}
            lines.append(f"| {row['name']} | " + " | ".join(_fmt(values.get(g)) for g in groups) + " |")
        lines += ["| (images) | " + " | ".join(str(counts[g]) for g in groups) + " |", ""]
    return lines


def count_errors(confusion, classes: list[str]) -> dict[str, float] | None:
    """For classes that are counts (``0``, ``1``, … as labels): ``{exact, within_one,
    mean_absolute_error}`` of a confusion matrix (rows true, columns predicted); None for
    other labels."""
    try:
        values = np.array([int(c) for c in classes])
    except (TypeError, ValueError):
        return None
    matrix = np.asarray(confusion, np.float64)
    if matrix.sum() == 0:
        return None
    distance = np.abs(values[:, None] - values[None, :])
    total = matrix.sum()
    return {"exact": float(np.trace(matrix) / total), "within_one": float(matrix[distance <= 1].sum() / total),
            "mean_absolute_error": float((matrix * distance).sum() / total)}


def _count_lines(results: dict) -> list[str]:
    # per_class holds the classes in the order of the confusion matrix (classifiers.metrics)
    scored = [(row["name"], count_errors(row["metrics"]["confusion_matrix"], list(row["metrics"]["per_class"])))
              for row in results["models"] if "confusion_matrix" in row["metrics"]]
    scored = [(name, errors) for name, errors in scored if errors]
    if not scored:
        return []
    lines = ["", "## How far off the counts are (test split)", "",
             "| model | exact | off by at most 1 | mean absolute error |", "|---|---|---|---|"]
    lines += [f"| {name} | {_fmt(e['exact'])} | {_fmt(e['within_one'])} | {e['mean_absolute_error']:.2f} |"
              for name, e in scored]
    # the constant that minimises the absolute error: the median true count of the test split
    first = results["models"][0]["metrics"]
    classes, truth = list(first["per_class"]), np.asarray(first["confusion_matrix"]).sum(axis=1)
    median = int(np.searchsorted(np.cumsum(truth), truth.sum() / 2))
    constant = np.zeros((len(classes), len(classes)))
    constant[:, median] = truth
    e = count_errors(constant, classes)
    lines.append(f"| constant predictor (always {classes[median]}) | {_fmt(e['exact'])} | {_fmt(e['within_one'])} | "
                 f"{e['mean_absolute_error']:.2f} |")
    return lines + [""]


def _maps_lines(results: dict) -> list[str]:
    from classifiers.pixelwise import map_rows

    rows = [r for r in results["models"] if "mask_iou" in r.get("maps", {})]
    if not rows:
        return []
    names = [name for name, *_ in map_rows(rows[0]["maps"])]
    lines = ["", "## Pixel-wise maps (test split)", "",
             "Stage 1 of the two-stage models against the simulator's ground truth (definitions in "
             "`classifiers/pixelwise.py`: IoU and relative errors are means over images; vertices are heat-map "
             f"peaks within {rows[0]['maps']['definitions']['match_radius_px']:g} px of a true projected vertex, "
             "pooled).", "",
             "| model | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for row in rows:
        values = map_rows(row["maps"])
        lines.append(f"| {row['name']} | " + " | ".join("–" if v is None else f"{v:.3f}" for _, v, _, _ in values)
                     + " |")
    targets = map_rows(rows[0]["maps"])
    lines.append("| target | " + " | ".join(t for _, _, t, _ in targets) + " |")
    for row in rows:
        lines += ["", f"**{row['name']}**: ![maps](maps/{row['name']}.png)"]
    return lines + [""]


def _plot_maps(run_dir: Path, dataset: Path, target: Path, n: int = 4) -> None:
    """Test images, true and predicted thickness, predicted vertex heat (red all, green deformed)."""
    import matplotlib.pyplot as plt

    from classifiers.pixelwise import load_maps, vertex_heatmaps
    from classifiers.run import open_run

    data = load_maps(dataset, "test", n)
    model = open_run(run_dir).load_model()
    maps = model.maps(list(data.images))
    truth_heat = vertex_heatmaps(data.sites, data.images.shape[1:])
    figure, axes = plt.subplots(len(data), 5, figsize=(9, 1.9 * len(data)), squeeze=False)
    top = float(max(data.thickness.max(), 1e-6))
    for i in range(len(data)):
        rgb_true = np.concatenate([truth_heat[i], np.zeros_like(truth_heat[i][..., :1])], axis=-1)
        rgb_pred = np.clip(np.concatenate([maps["vertices"][i], np.zeros_like(rgb_true[..., :1])], axis=-1), 0, 1)
        panels = [(data.images[i], "image", "gray", None), (data.thickness[i], "true t (nm)", "magma", top),
                  (maps["thickness"][i], "predicted t (nm)", "magma", top), (rgb_true, "true vertices", None, None),
                  (rgb_pred, "predicted vertices", None, None)]
        for axis, (image, title, cmap, vmax) in zip(axes[i], panels):
            axis.imshow(image, cmap=cmap, vmin=0 if vmax else None, vmax=vmax)
            axis.set_title(title, fontsize=7)
            axis.axis("off")
    figure.tight_layout()
    figure.savefig(target, dpi=70)
    plt.close(figure)


def _views_lines(results: dict) -> list[str]:
    rows = [r for r in results["models"] if r.get("by_views")]
    if not rows:
        return []
    counts = results["bench"]["views"]["counts"]
    lines = ["", "## Accuracy against the number of views (test objects)", "",
             "K views of every test object: the first K (over a tilt series: its start), and where listed "
             "K views evenly spread over the object's views (over a tilt series: its whole range; view "
             "indices round(linspace(0, V − 1, K))). A single-view model's per-view probabilities are "
             "fused (mean, or majority vote), a two-stage model can also pool its per-view map features "
             "(features: mean/min/max over the views, then a classifier trained on view subsets) and, "
             "trained on a tilt series, register them in 3-D (backprojection: the vertex heat-maps "
             "back-projected along the known tilt angles; the pooled features plus the 3-D peaks), "
             "a multiview CNN pools its views itself.", "",
             "| model | fusion | views | " + " | ".join(f"{k} view{'s' * (k > 1)}" for k in counts)
             + " | never falls |", "|---|---|---|" + "---|" * len(counts) + "---|"]
    for row in rows:
        for curve in row["by_views"]:
            values = {p["views"]: p["accuracy"] for p in curve["points"]}
            lines.append(f"| {row['name']} | {curve['fusion']} | {_selection(curve)} | "
                         + " | ".join(_fmt(values.get(k)) for k in counts)
                         + f" | {'yes' if curve['never_falls'] else 'no'} |")
    spread = [p for row in rows for curve in row["by_views"] if curve.get("selection") == "spread"
              for p in curve["points"]]
    if spread:
        which = {p["views"]: p["indices"] for p in spread}
        lines += ["", "Spread views used: " + "; ".join(f"K = {k}: views {', '.join(map(str, which[k]))}"
                                                       for k in counts if k in which) + "."]
    return lines + ["", "![accuracy against views](views.png)", ""]


def _selection(curve: dict) -> str:
    """Which K views a curve used: ``first K`` or ``spread``."""
    return "spread" if curve.get("selection") == "spread" else "first K"


def _plot_views(results: dict, target: Path) -> None:
    import matplotlib.pyplot as plt

    rows = [r for r in results["models"] if r.get("by_views")]
    if not rows:
        return
    figure, axis = plt.subplots(figsize=(8, 4))
    colours: dict[tuple[str, str], str] = {}  # a model's fusion keeps its colour; spread views are dashed
    for row in rows:
        for curve in row["by_views"]:
            spread = curve.get("selection") == "spread"
            key = (row["name"], curve["fusion"])
            colour = colours.setdefault(key, f"C{len(colours) % 10}")
            axis.plot([p["views"] for p in curve["points"]], [p["accuracy"] for p in curve["points"]],
                      "s--" if spread else "o-", color=colour,
                      label=f"{row['name']} ({curve['fusion']}{', spread' * spread})")
    base = rows[0]["baseline"].get("accuracy")
    if base is not None:
        axis.axhline(base, color="gray", linestyle=":", label="constant predictor")
    axis.set_xscale("log", base=2)
    axis.set_xticks(results["bench"]["views"]["counts"], [str(k) for k in results["bench"]["views"]["counts"]])
    axis.set_xlabel("views per object")
    axis.set_ylabel("test accuracy")
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.tight_layout()
    figure.savefig(target, dpi=90)
    plt.close(figure)


def _predicts(baseline: dict) -> str:
    predicts = baseline.get("predicts")
    if isinstance(predicts, dict):
        return "majority per category"
    return f"always {predicts}"


def target_outcome(results: dict, selection: str = "first") -> dict[str, Any] | None:
    """The bench's ``target`` against its best model: ``{metric, target, where, best, achieved,
    reached}``. A target with ``views: K`` is read from the accuracy-against-views curves at K
    views (the best fusion of each model; the first K views, or with ``selection="spread"`` K
    views spread over each object's views), not from the evaluation of all views."""
    target = results["bench"].get("target")
    if not target or not results["models"]:
        return None
    metric, k = target["metric"], target.get("views")
    if k is None and selection == "spread":
        return None
    if k is None:
        scored = [(r["name"], _value(r["metrics"], metric), r["metrics"].get("n_images")) for r in results["models"]]
        where = ""
    else:
        scored = [(f"{r['name']} ({curve['fusion']})", point.get(metric), point.get("n_objects"))
                  for r in results["models"] for curve in r.get("by_views", [])
                  if curve.get("selection", "first") == selection
                  for point in curve["points"] if point["views"] == k]
        where = f" with {k} view{'s' * (k > 1)}" + (" spread over each object's views" if selection == "spread" else "")
    scored = [item for item in scored if item[1] is not None]
    if not scored:
        return None
    best, achieved, n = max(scored, key=lambda item: item[1])
    outcome = {"metric": metric, "target": target["value"], "where": where, "best": best, "achieved": achieved,
               "reached": achieved >= target["value"]}
    if metric == "accuracy" and n:
        outcome["interval"] = accuracy_interval(achieved, n)
    return outcome


def accuracy_interval(accuracy: float, n: int, level: float = 0.95) -> dict[str, Any]:
    """Wilson score interval of an accuracy measured on ``n`` test items (images or objects):
    ``{low, high, level, n}``; how far a few test objects let a target be judged."""
    from scipy.stats import binomtest

    correct = int(round(accuracy * n))
    ci = binomtest(correct, n).proportion_ci(confidence_level=level, method="wilson")
    return {"low": float(ci.low), "high": float(ci.high), "level": level, "n": int(n)}


def target_line(results: dict) -> str:
    """``Target: accuracy ≥ 98.0 % with 4 views: NOT reached (best: …, 97.8 %; 95 % interval
    92.3–99.4 % over 90 test items).`` (report and docs/benchmarks.md), or ``""`` without a target. With
    spread-view curves, a second sentence reads the target on those."""
    lines = []
    for selection in ("first", "spread"):
        outcome = target_outcome(results, selection)
        if not outcome:
            continue
        percent = "auc" not in outcome["metric"]
        interval = outcome.get("interval")
        within = (f"; {100 * interval['level']:.0f} % interval {100 * interval['low']:.1f}–"
                  f"{100 * interval['high']:.1f} % over {interval['n']} test items") if interval else ""
        lines.append(f"{'Target' if selection == 'first' else 'The same target'}: {outcome['metric']} ≥ "
                     f"{_fmt(outcome['target'], percent)}{outcome['where']}: "
                     f"{'reached' if outcome['reached'] else 'NOT reached'} (best: {outcome['best']}, "
                     f"{_fmt(outcome['achieved'], percent)}{within}).")
    return " ".join(lines)


def observer_line(results: dict) -> str:
    """The ideal observer's bound (:mod:`benchmarks.observer`, in the report folder's
    ``observer/``) at 1 view and at the target's views, or ``""`` when it was not run."""
    observer = results.get("observer")
    if not observer:
        return ""
    k = (results["bench"].get("target") or {}).get("views")
    bounds = [b for b in observer["bounds"] if b["views"] == 1 or b["views"] == k]
    said = ", ".join(f"{100 * b['accuracy_bound']:.2f} % with "
                     + ("1 view" if b["views"] == 1 else f"{b['views']} {b['selection']} views") for b in bounds)
    missed = any(o and not o["reached"] for o in (target_outcome(results, s) for s in ("first", "spread")))
    return (f"Shot noise alone allows an accuracy up to {said}: the ideal observer, told everything the simulator "
            f"drew but the label, on {observer['n_objects']} test objects (`{observer['file']}`)."
            + (" The dose hides no label: the gap to the target is in the models, which must also find the "
               "orientation, size and cut depth the observer is told." if missed else ""))


TIME_BUDGET_MINUTES = 60
"""What a default bench run may take on the 2-core CPU machine the benches are sized for."""


def time_line(results: dict) -> str:
    """The rows' training and evaluation time in all, against the budget of a default run
    (rows from before evaluations were timed count their training only, and the line says so)."""
    rows = results["models"]
    if not rows:
        return ""
    training = sum(r["train_seconds"] for r in rows) / 60
    evaluation = sum(r.get("evaluation_seconds", 0.0) for r in rows) / 60
    timed = sum("evaluation_seconds" in r for r in rows)
    env = results["environment"]
    where = f"{env.get('device', 'cpu')}, {env.get('cpus', '?')} cpus"
    text = f"Time: training the {len(rows)} model{'s' * (len(rows) != 1)} took {_minutes(training)}"
    if timed == len(rows):
        text += f" and evaluating them {_minutes(evaluation)} ({where})"
    elif timed:
        text += (f" and evaluating {timed} of them {_minutes(evaluation)} ({where}; the others' evaluation "
                 "was not timed)")
    else:
        text += f" ({where}; the evaluation was not timed)"
    if len({r.get("processor") for r in rows}) > 1:  # rows kept from a run on another machine
        text += ("; the rows were trained on more than one machine (each row's `processor` in results.json, "
                 "unrecorded for rows from before it was), so their times compare within one machine only")
    if results["bench"].get("mode") == "full":
        return text + "; a --full run has no time budget."
    verdict = "within it" if training + evaluation <= TIME_BUDGET_MINUTES else "OVER it"
    if verdict == "within it" and timed < len(rows):
        verdict += " without the untimed evaluations"
    return text + f"; a default run's budget is {TIME_BUDGET_MINUTES} min: {verdict}."


def _minutes(minutes: float) -> str:
    return f"{minutes:.0f} min" if minutes >= 0.5 else "under a minute"


def family_lines(results: dict) -> list[str]:
    """One sentence per majority-polling family row: does it beat the bench's single models of
    its member architecture that learnt the same targets (``data.targets``, on data that has
    them) on mean ROC AUC and on mean balanced accuracy (the test split)?"""
    lines = []
    for family in (r for r in results["models"] if r.get("family")):
        member, k = family["family"]["member"], family["family"]["group_size"]
        singles = {r["name"]: _auc_and_balanced(r) for r in results["models"]
                   if r["model"] == member and r.get("targets") == family.get("targets")}
        if not singles:
            continue
        auc, balanced = own = _auc_and_balanced(family)
        against = "; ".join(f"{name}'s {a:.3f} and {_fmt(b)}" for name, (a, b) in singles.items())
        higher = [metric for i, metric in enumerate(("ROC AUC", "balanced accuracy"))
                  if all(own[i] > other[i] for other in singles.values())]
        members = f"its single member{'s' * (len(singles) > 1)}"
        verdict = (f"it beats {members} on both" if len(higher) == 2 else
                   f"it does NOT beat {members}: higher on {higher[0]} only" if higher else
                   f"it does NOT beat {members}: higher on neither")
        every = family["family"].get("members_learn") == "all"
        who = f"{k} {member} members each learning every category" if every else f"{k} {member} members per category"
        line = (f"Family: {family['name']} ({who}, majority vote) scores mean ROC "
                f"AUC {auc:.3f} and mean balanced accuracy {_fmt(balanced)}, against {against}: {verdict}.")
        members = family["family"].get("members")
        if members and members["mean_member_roc_auc"] is not None:
            how = "all categories" if every else "one-vs-rest"
            line += (f" Its members on their own ({how}, each with its own initialisation) score mean ROC AUC "
                     f"{members['mean_member_roc_auc']:.3f}, and a category's {k} members vote alike on "
                     f"{_fmt(members['unanimous'])} of the test images: a vote adds what its members disagree on.")
        lines.append(line)
    return lines


def _auc_and_balanced(row: dict) -> tuple[float, float]:
    m = row["metrics"]
    return m.get("roc_auc_macro"), m.get("mean_category_balanced_accuracy", m.get("balanced_accuracy"))


def _value(metrics: dict, name: str):
    if name in ("roc_auc", "mean_roc_auc"):
        return metrics.get("roc_auc_macro")
    return metrics.get(name)


def _plot_curves(history_file: Path, target: Path, title: str) -> None:
    import matplotlib.pyplot as plt

    if not history_file.is_file():
        return
    history = json.loads(history_file.read_text())
    if not history:
        return
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, 2, figsize=(8, 3))
    for axis, key in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = [row.get(prefix + key) for row in history]
            if any(v is not None for v in values):
                axis.plot(epochs, values, style, label=f"{'validation' if prefix else 'training'}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(target, dpi=80)
    plt.close(figure)


def _sample_grid(dataset: Path, target: Path, per_class: int = 6) -> None:
    """One row of test images per class (stemsim datasets: the class folders)."""
    import matplotlib.pyplot as plt
    from PIL import Image

    test = dataset / "test"
    if (dataset / "labels.csv").is_file():  # the real STM set: images of each category
        _category_grid(dataset, target, per_class)
        return
    if not test.is_dir():
        return
    classes = sorted(p.name for p in test.iterdir() if p.is_dir())
    if not classes:
        return
    figure, axes = plt.subplots(len(classes), per_class, figsize=(1.4 * per_class, 1.5 * len(classes)),
                                squeeze=False)
    for r, name in enumerate(classes):
        files = sorted((test / name).glob("*.png"))[:per_class]
        for c in range(per_class):
            axis = axes[r, c]
            axis.axis("off")
            if c < len(files):
                axis.imshow(np.asarray(Image.open(files[c])), cmap="gray")
            if c == 0:
                axis.set_title(name, fontsize=8, loc="left")
    figure.tight_layout()
    figure.savefig(target, dpi=70)
    plt.close(figure)


def _category_grid(dataset: Path, target: Path, per_class: int) -> None:
    """Images whose mean score for each category is highest (STM set: ``labels.csv`` + npz)."""
    import matplotlib.pyplot as plt

    with (dataset / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    archive = next(dataset.glob("images_*.npz"), None)
    if archive is None:
        return
    images = np.load(archive)["images"]
    from classifiers.config import STM_CATEGORIES

    figure, axes = plt.subplots(len(STM_CATEGORIES), per_class, figsize=(1.4 * per_class, 1.5 * len(STM_CATEGORIES)),
                                squeeze=False)
    for r, name in enumerate(STM_CATEGORIES):
        scores = np.array([float(row[name]) for row in rows])
        for c, index in enumerate(np.argsort(-scores, kind="stable")[:per_class]):
            axes[r, c].imshow(images[index], cmap="gray")
            axes[r, c].axis("off")
        axes[r, 0].set_title(name, fontsize=8, loc="left")
    figure.tight_layout()
    figure.savefig(target, dpi=70)
    plt.close(figure)
