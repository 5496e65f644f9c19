"""``stemsim evaluate``: score a run on a split of its data (or of other data).

Writes into ``RUN_DIR/evaluation/<name>/`` (or ``out``), replacing an earlier evaluation of
the same name as a whole:

* ``metrics.json`` — every number below, plus run/data/weights provenance;
* ``report.md`` — the same as readable tables;
* ``confusion.csv`` / ``confusion.png`` — the confusion matrix (single-label: C×C, rows =
  true class; multi-label: tn/fp/fn/tp per category);
* ``predictions.csv`` — per image: id, truth, decision, probabilities;
* on people-labelled STM data (``data.kind: stm``, a ``labels.csv`` naming every image), also
  ``metrics.json`` ``by_label_certainty``: the macro ROC AUC on the images labelled by one
  person, by two or more, and by two or more who all agreed per category
  (:mod:`stemsim.classifiers.label_certainty`), a table in ``report.md``.

Multi-view data is scored per OBJECT (:mod:`stemsim.classifiers.views`): ``predictions.csv`` has one
row per object id, and ``metrics.json`` says ``views`` = ``{count, available, fusion}`` (views
used per object, views in the data, and ``mean``/``vote`` late fusion of a single-view model
or ``multiview-cnn pooling max|mean``; and ``indices``, which views, when they are not the
first ones) and ``data.n_objects``. ``fusion`` overrides the run's ``evaluation.fusion``;
``views=K`` uses the first K views of every object, ``spread=True`` K views evenly spread over
them. Each, when given, is added to the default folder name (``test-vote``, ``test-views2``,
``test-views4-spread``) so that such evaluations sit side by side.

Which images: ``split="auto"`` (the default) scores the test split of the run's own data and
*every* image (``all``) of other data; the run's own data is the one it was trained on, found
by its path or, for a stemsim dataset, by its ``spec_hash`` (the same dataset in another
folder). What the run's data rules leave out is counted in ``metrics.json`` ``data.dropped``
and said in one line (``report["dropped"]``): images of classes the model does not know
(single-label data; scored are the others), STM images under ``data.min_agreement`` or stopped
early (``data.min_height_fraction``, counted over the whole set), images over
``data.max_per_split``.

Backend and calibration: ``inference`` says which library ran the model on which device
(:func:`stemsim.classifiers.backend.environment`: scikit-learn for geometric/texture runs, Keras for
networks, both for two_stage). Single-label metrics include the expected calibration error
(:func:`stemsim.classifiers.metrics.calibration`, 10 bins): gradient-boosted trees (geometric, texture,
two_stage) give probabilities near 0 or 1 even for wrong decisions, and the report says so.
"""

from __future__ import annotations

import csv
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.backend import model_line
from stemsim.classifiers.data import SPLITS, dataset_record, load_dataset, recorded_spec_hash, usage_line
from stemsim.classifiers.inference import Predictor
from stemsim.classifiers.label_certainty import certainty_markdown, label_certainty
from stemsim.classifiers.metrics import constant_baseline, multilabel_metrics, single_label_metrics
from stemsim.classifiers.models.family import member_agreement, member_probabilities
from stemsim.classifiers.pipelines import PIPELINES
from stemsim.classifiers.pixelwise import maps_markdown
from stemsim.classifiers.run import Run, StagingDir, environment, open_run, write_json
from stemsim.classifiers.tomography import check_tilt_series
from stemsim.classifiers.views import POOLED_FUSIONS, fusion_for, take_views, view_indices, views_report
from stemsim.errors import InputError, argument

DATA, SPLIT = argument("--data", "data"), argument("--split", "split")


def align_targets(targets: np.ndarray, data_classes: list[str], model_classes: list[str],
                  multilabel: bool) -> np.ndarray:
    """Reorder the data's target columns into the model's class order.

    Multi-label data must have exactly the model's categories; single-label data may hold a
    subset of the model's classes. Anything else is an InputError naming both label sets.
    """
    extra = [c for c in data_classes if c not in model_classes]
    if extra or (multilabel and set(data_classes) != set(model_classes)):
        raise InputError(f"data: labels {data_classes} do not match the model's {model_classes}")
    out = np.zeros((len(targets), len(model_classes)), np.float32)
    for k, name in enumerate(data_classes):
        out[:, model_classes.index(name)] = targets[:, k]
    return out


def unknown_classes(targets: np.ndarray, data_classes: list[str], model_classes: list[str]) -> dict[str, int]:
    """Single-label data: how many items of each class the model does not know (class → count)."""
    counts = targets.sum(axis=0).astype(int) if len(targets) else np.zeros(len(data_classes), int)
    return {c: int(n) for c, n in zip(data_classes, counts) if c not in model_classes and n}


def own_data(run: Run, path: str | Path) -> bool:
    """Whether the dataset at ``path`` is the one the run was trained on: the same folder, or a
    stemsim dataset of the same ``spec_hash`` (the run recorded one)."""
    trained = run.config["data"]["path"]
    if Path(path).resolve() == Path(trained).resolve():
        return True
    recorded = (run.info.get("data") or {}).get("spec_hash")
    return recorded is not None and recorded == recorded_spec_hash(path)


def dropped_line(dropped: dict[str, Any], data_cfg: dict[str, Any], what: str = "images") -> str:
    """One line of what the run's data rules left out (``data.dropped``), or ``dropped: none``."""
    parts = []
    unknown = dropped.get("unknown_classes") or {}
    if unknown:
        listed = ", ".join(f"{c}: {n}" for c, n in unknown.items())
        parts.append(f"{sum(unknown.values())} {what} of classes the model does not know ({listed})")
    if dropped.get("low_agreement"):
        parts.append(f"{dropped['low_agreement']} of agreement < data.min_agreement {data_cfg['min_agreement']:g} "
                     "(whole set)")
    if dropped.get("stopped_early"):
        parts.append(f"{dropped['stopped_early']} scans stopped early (orig_height < data.min_height_fraction "
                     f"{data_cfg['min_height_fraction']:g} × orig_width; whole set)")
    over = dropped.get("max_per_split") or {}
    if over:
        parts.append(f"{sum(over.values())} over data.max_per_split {data_cfg['max_per_split']} "
                     f"({', '.join(f'{s}: {n}' for s, n in over.items())})")
    return "dropped by the run's data rules: " + ("; ".join(parts) if parts else "none")


def evaluate(run_dir: str | Path, data: str | Path | None = None, split: str = "auto",
             out: str | Path | None = None, batch_size: int = 32, fusion: str | None = None,
             views: int | None = None, spread: bool = False, allow_incomplete: bool = False,
             announce=None) -> dict[str, Any]:
    """Evaluate run ``run_dir`` on ``split`` (auto, train, val, test or all) of its data, or of
    the dataset at ``data`` (same kind as the training data). Returns the metrics dict.

    ``split="auto"``: the test split of the run's own data, every image (``all``) of other data
    (:func:`own_data`); ``report["data"]["split"]`` says which. Images the run's data rules
    drop are counted in ``report["data"]["dropped"]`` and said in ``report["dropped"]`` (module
    doc). ``announce(line)``, when given, gets the ``model: NAME (backend, device)`` line once the
    data is loaded and predicted (:func:`stemsim.classifiers.backend.model_line`).

    An incomplete stemsim dataset is refused unless ``allow_incomplete`` (then its complete
    shards are scored); ``report["usage"]`` says how many images were used of how many the
    dataset's spec promises (:func:`stemsim.classifiers.data.usage_line`).

    Multi-view data: ``fusion`` (``mean``/``vote``/``features``/``backprojection``; default the
    run's ``evaluation.fusion``) combines a single-view model's per-view outputs; ``views``: use
    the first K views of every object (default all), or with ``spread`` K views evenly spread
    over them (:func:`stemsim.classifiers.views.view_indices`). See the module doc.
    """
    if split not in ("auto", *SPLITS, "all"):
        raise InputError(f"{SPLIT}: expected auto, train, val, test or all, got {split!r}")
    if spread and views is None:
        raise InputError("--spread: needs --views K (the number of views to spread over each object's views)")
    run = open_run(run_dir)
    how = fusion_for(run, fusion)
    data_cfg = dict(run.config["data"])
    if data is not None:
        if not Path(data).is_dir():
            raise InputError(f"{DATA}: no such directory: {data}")
        data_cfg["path"] = str(Path(data).resolve())
    elif not Path(data_cfg["path"]).is_dir():
        raise InputError(f"data.path: the run's data {data_cfg['path']} is gone; give {DATA}")
    requested = split
    if split == "auto":
        split = "test" if data is None or own_data(run, data_cfg["path"]) else "all"
    dataset_record(data_cfg["path"], allow_incomplete)  # an incomplete dataset: refused before the model loads
    if how == "backprojection":
        check_tilt_series(run.info["backprojection"]["tilt_series"], data_cfg["path"])
    target = Path(out) if out is not None else None
    if target is not None:
        StagingDir(target, overwrite=True, marker="metrics.json")  # refuses a foreign folder early
    predictor = Predictor(run, batch_size)
    wanted = SPLITS if split == "all" else (split,)
    dataset = load_dataset(data_cfg, predictor.pre, wanted, allow_incomplete)
    parts = [dataset.splits[s] for s in wanted if s in dataset.splits and len(dataset.splits[s])]
    if not parts:
        raise InputError(f"data: the {split!r} split of {data_cfg['path']} is empty")
    items = [im for p in parts for im in p.images]
    ids = [i for p in parts for i in p.ids]
    raw_targets = np.concatenate([p.targets for p in parts])
    dropped = _dropped(dataset.info, wanted)
    if not run.multilabel:  # single-label: images of classes the model does not know are left out
        unknown = unknown_classes(raw_targets, dataset.classes, run.classes)
        keep = [dataset.classes[k] in run.classes for k in raw_targets.argmax(axis=1)] if unknown else None
        if unknown and any(keep):
            dropped["unknown_classes"] = unknown
            items = [im for im, k in zip(items, keep) if k]
            ids = [i for i, k in zip(ids, keep) if k]
            raw_targets = raw_targets[np.asarray(keep)]
    if "unknown_classes" in dropped:
        columns = [k for k, c in enumerate(dataset.classes) if c in run.classes]
        targets = align_targets(raw_targets[:, columns], [dataset.classes[k] for k in columns], run.classes, False)
    else:
        targets = align_targets(raw_targets, dataset.classes, run.classes, run.multilabel)

    probs, decisions, indices, timed, outputs = _predict(predictor, items, dataset.views, views, spread, how)
    env = environment(run.info["model"])
    if announce is not None:
        announce(model_line(run.info["model"], env))
    used = len(indices)
    classes = run.classes
    counts = run.info["train_label_counts"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn: classes absent from a small split
        if run.multilabel:
            truth = targets > 0.5
            metrics = multilabel_metrics(truth, probs, decisions, classes)
            baseline = constant_baseline(truth, counts["positives"], counts["n_images"], classes, True)
        else:
            truth = targets.argmax(axis=1)
            metrics = single_label_metrics(truth, probs, decisions, classes)
            baseline = constant_baseline(truth, counts["positives"], counts["n_images"], classes, False)

    name = split if data is None else f"{Path(data_cfg['path']).name}-{split}"
    what = "objects" if dataset.views > 1 or run.multiview else "images"
    name += (f"-{fusion}" if fusion else "") + (f"-views{views}" if views else "") + ("-spread" if spread else "")
    by_object = dataset.views > 1 or run.multiview
    inference = predictor.throughput(timed)
    if by_object and inference["images_per_second"]:
        inference["objects_per_second"] = inference["images_per_second"] / used
    report = {
        "run": str(run.path.resolve()),
        "model": run.info["model"],
        "weights": run.info["weights"],
        "data": {"kind": data_cfg["kind"], "path": data_cfg["path"], "split": split, "split_asked": requested,
                 "n_images": len(items) * used, **({"n_objects": len(items)} if by_object else {}),
                 "classes": dataset.classes, "record": dataset.info["record"], "dropped": dropped},
        "usage": usage_line("evaluate", dataset.info, wanted),
        "dropped": dropped_line(dropped, data_cfg, what),
        "views": views_report(used, dataset.views, how, run.config["model"].get("pooling"), indices),
        "task": "multi-label" if run.multilabel else "single-label",
        "metrics": metrics,
        "constant_baseline": baseline,
        "model_size": predictor.size_on_disk(),
        "inference": {**inference, **env},
    }
    if "targets" in run.config["data"]:  # what it learnt: binarised labels or the people's mean scores
        report["targets"] = run.config["data"]["targets"]
    maps = run.model_kind.map_scores(predictor.model, data_cfg, split, views)  # a two_stage run's maps
    if maps is not None:
        report["maps"] = maps
    if run.group_size:
        report["family"] = {"member": run.config["model"]["member"], "group_size": run.group_size,
                            "members_learn": run.config["model"].get("members_learn", "one"),
                            "decision": "majority vote of each category's members"}
        if outputs is not None:
            one_hot = truth if run.multilabel else truth[:, None] == np.arange(len(classes))
            report["family"]["members"] = member_agreement(member_probabilities(outputs, run.group_size),
                                                           one_hot, classes)
    # people-labelled data: by how many people labelled an image, on the probabilities as
    # predictions.csv holds them (6 decimals), so that the STM benches' numbers are these
    certainty = label_certainty(data_cfg, ids, [[float(f"{x:.6f}") for x in row] for row in probs], classes)
    if certainty is not None:
        report["by_label_certainty"] = certainty
    target = target if target is not None else run.path / "evaluation" / name
    with StagingDir(target, overwrite=True, marker="metrics.json") as tmp:
        write_json(tmp / "metrics.json", report)
        (tmp / "report.md").write_text(markdown_report(report, classes))
        _write_confusion(tmp, metrics, classes, run.multilabel)
        _write_predictions(tmp / "predictions.csv", ids, truth, decisions, probs, classes, run.multilabel)
    report["output_dir"] = str(target)
    return report


def _dropped(info: dict[str, Any], splits: tuple[str, ...]) -> dict[str, Any]:
    """What loading the data left out (:func:`stemsim.classifiers.data.load_dataset`'s ``info``)."""
    out: dict[str, Any] = {}
    for key, name in (("dropped_low_agreement", "low_agreement"), ("dropped_stopped_early", "stopped_early")):
        if info.get(key):
            out[name] = int(info[key])
    over = {s: n for s, n in (info.get("over_max_per_split") or {}).items() if s in splits}
    if over:
        out["max_per_split"] = over
    return out


def _predict(predictor: Predictor, items: list[np.ndarray], available: int, views: int | None, spread: bool,
             fusion: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[np.ndarray], np.ndarray | None]:
    """Probabilities and decisions per item (image, or object of ``available`` views), the
    indices of the views used of each item, what the network alone runs on (for the
    throughput), and for single images the raw model outputs (a family's member probabilities)."""
    indices = view_indices(views, available, spread)
    if available == 1 and not predictor.multiview and fusion not in POOLED_FUSIONS:
        outputs = predictor.outputs(items)
        return (*predictor.run.decide(outputs), indices, items, outputs)
    objects = take_views(items if available > 1 else [image[None] for image in items], indices)
    probs, decisions = predictor.decide_objects(objects, fusion, indices)
    timed = objects if predictor.multiview else [view for obj in objects for view in obj]
    return probs, decisions, indices, timed, None


# ---- writers ------------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def markdown_report(report: dict[str, Any], classes: list[str]) -> str:
    """The evaluation as Markdown tables (headline vs constant baseline, per class, size, speed)."""
    m, b = report["metrics"], report["constant_baseline"]
    d, size, inf = report["data"], report["model_size"], report["inference"]
    lines = [f"# Evaluation of `{report['model']}`", "",
             f"- run: `{report['run']}`", f"- weights: {report['weights']}",
             f"- data: {d['kind']} `{d['path']}`, split **{d['split']}**"
             + (" (auto: the run's own data → test, other data → all)" if d.get("split_asked") == "auto" else "")
             + f", {_items(report)} ({report['task']})",
             f"- {report['dropped']}" if "dropped" in report else "",
             "", "| metric | model | constant baseline |", "|---|---|---|"]
    if report["task"] == "multi-label":
        lines += [f"| exact-match accuracy | {_fmt(m['exact_match_accuracy'])} | {_fmt(b['exact_match_accuracy'])} |",
                  f"| mean per-category accuracy | {_fmt(m['mean_category_accuracy'])} | "
                  f"{_fmt(b['mean_category_accuracy'])} |",
                  f"| mean per-category balanced accuracy | {_fmt(m['mean_category_balanced_accuracy'])} | 0.5000 |",
                  f"| macro-F1 | {_fmt(m['macro_f1'])} | {_fmt(b['macro_f1'])} |",
                  f"| macro ROC AUC | {_fmt(m['roc_auc_macro'])} | 0.5000 |", "",
                  "| category | accuracy | baseline accuracy | balanced acc. | precision | recall | F1 | ROC AUC | "
                  "positives |", "|---|---|---|---|---|---|---|---|---|"]
        for c in classes:
            v = m["per_category"][c]
            lines.append(f"| {c} | {_fmt(v['accuracy'])} | {_fmt(b['per_category_accuracy'][c])} | "
                         f"{_fmt(v['balanced_accuracy'])} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | "
                         f"{_fmt(v['f1'])} | {_fmt(v['roc_auc'])} | {v['support']} |")
    else:
        lines += [f"| accuracy | {_fmt(m['accuracy'])} | {_fmt(b['accuracy'])} (always `{b['predicts']}`) |",
                  f"| balanced accuracy | {_fmt(m['balanced_accuracy'])} | {_fmt(b['balanced_accuracy'])} |",
                  f"| macro-F1 | {_fmt(m['macro_f1'])} | {_fmt(b['macro_f1'])} |",
                  f"| macro ROC AUC | {_fmt(m['roc_auc_macro'])} | 0.5000 |",
                  f"| expected calibration error (10 bins) | {_fmt(m.get('expected_calibration_error'))} | – |", "",
                  *_calibration_note(report), "| class | precision | recall | F1 | ROC AUC | support |",
                  "|---|---|---|---|---|---|"]
        for c in classes:
            v = m["per_class"][c]
            lines.append(f"| {c} | {_fmt(v['precision'])} | {_fmt(v['recall'])} | {_fmt(v['f1'])} | "
                         f"{_fmt(v['roc_auc'])} | {v['support']} |")
        lines += ["", "Confusion matrix (rows: true class, columns: predicted):", "",
                  "| | " + " | ".join(classes) + " |", "|---" * (len(classes) + 1) + "|"]
        for c, row in zip(classes, m["confusion_matrix"]):
            lines.append(f"| **{c}** | " + " | ".join(str(x) for x in row) + " |")
    if report.get("by_label_certainty"):
        lines += ["", *certainty_markdown(report["by_label_certainty"], d["n_images"], m["roc_auc_macro"])]
    ips = inf.get("images_per_second")
    per_object = f" = {_fmt(inf['objects_per_second'])} objects/s" if "objects_per_second" in inf else ""
    lines += ["", f"- model size on disk: {size['total_megabytes']} MB"
              + (f" (head {size['model_file_bytes']} B + extractor {size['extractor_bytes']} B)"
                 if "extractor_bytes" in size else ""),
              f"- inference: {_fmt(ips)} images/s{per_object} ({inf['timed_images']} images, batch "
              f"{inf.get('batch_size')}, {inf.get('description') or inf['backend'] + ' on ' + inf['device']}; "
              f"{inf.get('timed', 'network only')}, no preprocessing)", ""]
    maps = report.get("maps")
    if maps is not None:
        lines += maps_markdown(maps) if "skipped" not in maps else [f"Pixel-wise maps not scored: {maps['skipped']}", ""]
    return "\n".join(lines)


def _calibration_note(report: dict[str, Any]) -> list[str]:
    """A scikit-learn classifier's probabilities are not calibrated: say so under the table."""
    kind = PIPELINES.get(report["model"])  # a report of another version may name a model no longer known
    if kind is None or not kind.overconfident:
        return []
    return ["The probabilities of this model's scikit-learn classifier (gradient-boosted trees by default) are "
            "not calibrated: they sit near 0 or 1 even for wrong decisions (0.99 on a wrong class happens), so "
            "read them as a ranking, not as chances; the expected calibration error above measures the gap "
            "(0: a probability of 0.9 is right 9 times in 10).", ""]


def _items(report: dict[str, Any]) -> str:
    """What was scored: ``N images``, or ``N objects × K views (of V), fusion F (M images)``."""
    d, v = report["data"], report["views"]
    if "n_objects" not in d:
        return f"{d['n_images']} images"
    which = f" (views {', '.join(map(str, v['indices']))} of {v['available']})" if "indices" in v \
        else f" (of {v['available']})"
    return (f"{d['n_objects']} objects × {v['count']} view{'s' * (v['count'] > 1)}{which}, "
            f"fusion {v['fusion']} ({d['n_images']} images); scored per object")


def _write_confusion(folder: Path, metrics: dict[str, Any], classes: list[str], multilabel: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if multilabel:
        with open(folder / "confusion.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["category", "tn", "fp", "fn", "tp"])
            for c in classes:
                k = metrics["per_category"][c]["confusion"]
                writer.writerow([c, k["tn"], k["fp"], k["fn"], k["tp"]])
        matrices = [np.array([[metrics["per_category"][c]["confusion"][a] for a in row]
                              for row in (("tn", "fp"), ("fn", "tp"))]) for c in classes]
        fig, axes = plt.subplots(1, len(classes), figsize=(2.6 * len(classes), 2.8), squeeze=False)
        for ax, c, mat in zip(axes[0], classes, matrices):
            _heatmap(ax, mat, ["no", "yes"], c)
    else:
        mat = np.array(metrics["confusion_matrix"])
        with open(folder / "confusion.csv", "w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["true \\ predicted", *classes])
            for c, row in zip(classes, mat):
                writer.writerow([c, *row.tolist()])
        side = 1.2 + 0.6 * len(classes)
        fig, ax = plt.subplots(figsize=(side, side))
        _heatmap(ax, mat, classes, "confusion matrix")
    fig.tight_layout()
    fig.savefig(folder / "confusion.png", dpi=100)
    plt.close(fig)


def _heatmap(ax, mat: np.ndarray, labels: list[str], title: str) -> None:
    ax.imshow(mat, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for (i, j), v in np.ndenumerate(mat):
        ax.text(j, i, str(v), ha="center", va="center", color="black" if v <= mat.max() / 2 else "white")


def _write_predictions(path: Path, ids: list[str], truth: np.ndarray, decisions: np.ndarray, probs: np.ndarray,
                       classes: list[str], multilabel: bool) -> None:
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "true", "predicted", *[f"p_{c}" for c in classes]])
        for i, ident in enumerate(ids):
            if multilabel:
                t = ";".join(c for c, v in zip(classes, truth[i]) if v)
                p = ";".join(c for c, v in zip(classes, decisions[i]) if v)
            else:
                t, p = classes[truth[i]], classes[decisions[i]]
            writer.writerow([ident, t, p, *[f"{x:.6f}" for x in probs[i]]])
