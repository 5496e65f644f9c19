"""``stemsim bench BENCH.yaml --out DIR``: make (or reuse) the dataset, train every listed
classifier, evaluate on the held-out test split, and write a report people read.

Output: ``DIR/report.md``, ``results.json``, ``results.csv``, ``samples.png``,
``confusion/<model>.png``, ``curves/<model>.png``, ``runs/<model>/`` (the run directories),
with ``views``, ``views.png`` (accuracy against the number of views per object), and for a
``two_stage`` model, ``maps/<model>.png`` with its pixel-wise scores in the report.

``--models a,b`` runs only those models; when ``DIR`` already holds results of the same bench
(name, mode, dataset), the other models' rows are kept, each with the command that made it.
``--report-only`` (:func:`rewrite_report`) trains nothing and writes the report again from
``DIR/results.json``. The bench file is :mod:`stemsim.benchmarks.benchfile`, the analyses
:mod:`stemsim.benchmarks.sections`, the report :mod:`stemsim.benchmarks.report`, the figures
:mod:`stemsim.benchmarks.figures`.
"""

from __future__ import annotations

import json
import platform
import time
from pathlib import Path
from typing import Any

from stemsim.benchmarks.benchfile import load_bench, model_experiment
from stemsim.benchmarks.figures import drop_stale_figures, plot_views, use_agg, write_figures
from stemsim.benchmarks.report import write_files
from stemsim.benchmarks.sections import SECTIONS
from stemsim.dataset.store import open_dataset
from stemsim.errors import InputError


def prepare_dataset(bench: dict, datasets: Path, jobs: int) -> tuple[dict, Path]:
    """The data section for the experiments, and the dataset's folder (made if needed)."""
    dataset = bench["dataset"]
    if "data" in dataset:
        if isinstance(dataset["data"].get("path"), str):  # an incomplete stemsim dataset: refused before any training
            open_dataset(dataset["data"]["path"]).record()
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


def run_model(entry: dict, data: dict, seed: int, runs: Path, views: dict | None = None) -> dict[str, Any]:
    """Train one model (or reuse an identical finished run) and evaluate it on the test split
    (and, with ``views``, on K views of every test object for each K and fusion)."""
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.training import train

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
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.run import open_run
    from stemsim.classifiers.views import view_indices

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
        for section in SECTIONS:  # each analysis adds its numbers of this model's evaluation
            row.update(section.row(bench, folder, row))
        rows.append({**row, "command": command})
    bench_info = _bench_info(bench)
    if only:
        rows, failures = _with_earlier_rows(out, bench_info, dataset_info, order, rows, failures, log)
    results = {"bench": bench_info, "dataset": dataset_info, "models": rows, "skipped": failures,
               "environment": _environment(), "command": command, "commands": _commands(rows + failures)}
    write_figures(results, out, folder)
    write_files(results, bench, out)
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
    use_agg()
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
    results["bench"] = _bench_info(bench)
    listed = [m["name"] for m in bench["models"]]
    for key in ("models", "skipped"):  # a model taken off the bench file (or moved to its full list) leaves it
        results[key] = _in_bench_order(results.get(key, []), listed)
    results["commands"] = _commands(results["models"] + results["skipped"]) or results.get("commands",
                                                                                           [results["command"]])
    out = Path(out)
    plot_views(results, out / "views.png")
    drop_stale_figures(results, out)
    write_files(results, bench, out)
    return results


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
    from stemsim.classifiers.run import environment

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
