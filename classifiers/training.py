"""``stemsim train``: train one experiment and write its run directory.

:func:`train` checks the experiment (nothing is loaded before it passes), loads the data,
builds the model, fits it with the configured optimiser/schedule/early stopping while
keeping the best-on-validation model, and moves the finished run directory into place
(a failed run leaves nothing behind). What depends on ``model.name`` — the checks of its
experiment, the form of the data it takes, how it fits, what run.json records of it — is the
model's pipeline's (:mod:`stemsim.classifiers.pipelines`): Inception-v3 transfer learning
(:mod:`stemsim.classifiers.transfer`), the ``geometric`` baseline (features + scikit-learn, no
network, :mod:`stemsim.classifiers.geometric`), the ``two_stage`` model (U-Net maps, then features,
:mod:`stemsim.classifiers.two_stage`), the ``texture`` model (texture features + gradient boosting,
:mod:`stemsim.classifiers.texture`), and every Keras network (:mod:`stemsim.classifiers.pipelines.keras`; the
fitting itself is :mod:`stemsim.classifiers.fitting`).

Multi-view data (:mod:`stemsim.classifiers.views`): the ``multiview`` model trains on whole objects
(batches ``(B, V, S, S, C)``); any other model trains on every view as an image of its own
(late fusion at evaluation). The training label counts (the constant baseline) are per object.
"""

from __future__ import annotations

import csv
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from stemsim.classifiers.backend import import_keras, model_line
from stemsim.classifiers.config import load_experiment, read_yaml
from stemsim.classifiers.data import Dataset, Split, load_dataset
from stemsim.classifiers.fitting import (compile_model, fit, image_batches,  # noqa: F401  (their home before fitting)
                                 make_optimizer, save_inference_model)
from stemsim.classifiers.pipelines import get_pipeline
from stemsim.classifiers.preprocessing import Preprocessing
from stemsim.classifiers.run import (CONFIG_FILE, HISTORY_CSV, HISTORY_FILE, MODEL_FILE, RUN_FILE, StagingDir,
                             environment, write_json)
from stemsim.classifiers.scale import training_scale
from stemsim.errors import InputError, argument


def train(experiment: str | Path | dict[str, Any], out: str | Path, *, overwrite: bool = False,
          data_path: str | Path | None = None, verbose: int = 0, allow_incomplete: bool = False,
          announce=None) -> Path:
    """Train ``experiment`` (YAML path or mapping) into run directory ``out``; returns ``out``.

    ``data_path`` replaces ``data.path``. ``verbose``: Keras fit verbosity (0 silent, 2 one
    line per epoch). ``allow_incomplete``: train on the complete shards of an incomplete
    stemsim dataset (:func:`stemsim.classifiers.data.dataset_record`) instead of refusing it; run.json
    ``data.record`` says how many images it held of how many its spec promises.
    ``announce(line)``, when given, gets the line ``model: NAME (backend, device)``
    (:func:`stemsim.classifiers.backend.model_line`) once the data is loaded, before fitting. run.json
    ``scale`` records the training images' pixel size and size (:mod:`stemsim.classifiers.scale`).
    """
    raw = read_yaml(experiment) if not isinstance(experiment, dict) else dict(experiment)
    if data_path is not None:
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
            raise InputError(f"data: the experiment has no data section to take {argument('--data', 'data_path')}")
        raw = {**raw, "data": {**raw["data"], "path": str(data_path)}}
    cfg = load_experiment(raw)
    name = cfg["model"]["name"]
    pipeline = get_pipeline(name)
    pipeline.check(cfg)
    staging = StagingDir(out, overwrite)  # refuses a non-empty --out before any work

    keras = import_keras() if pipeline.needs_keras else None  # geometric, texture: scikit-learn only
    spec = pipeline.effective_spec(cfg["model"])
    pre = Preprocessing.from_config(cfg, spec.channels)
    dataset = load_dataset(cfg["data"], pre, ("train", "val"), allow_incomplete)
    train_split = dataset.split("train")
    dataset.split("val")  # best-on-validation needs a non-empty validation split
    _check_labels(dataset, train_split)
    label_counts = _label_counts(dataset, train_split)  # per object, the unit that evaluation scores
    views = dataset.views
    dataset = pipeline.as_model_takes(cfg["model"], dataset)
    train_split = dataset.split("train")
    weights = _sample_weights(cfg, dataset, train_split)
    env = environment(name)
    if announce is not None:
        announce(model_line(name, env))
    started = time.time()
    with staging as tmp:
        if keras is not None:
            keras.utils.set_random_seed(cfg["seed"])
        else:  # what keras.utils.set_random_seed seeds, but TensorFlow
            random.seed(cfg["seed"])
            np.random.seed(cfg["seed"])
        result = pipeline.train(cfg, dataset, pre, tmp, weights, verbose)
        info = {
            "model": name,
            "classes": dataset.classes,
            "multilabel": dataset.multilabel,
            "channels": pre.channels,
            "input_shape": [pre.input_size, pre.input_size, pre.channels],
            "group_size": pipeline.group_size(cfg["model"]),
            "pipeline": result.get("pipeline", "images"),
            "weights": result.get("weights") or pipeline.weights_description(cfg["model"]),
            "train_label_counts": label_counts,
            "views": views,
            **pipeline.run_facts(cfg["model"]),
            "data": dataset.info,
            "scale": training_scale(cfg["data"]),
            "seconds": round(time.time() - started, 2),
            "environment": env,
            **{k: v for k, v in result.items() if k not in ("history", "pipeline", "weights")},
        }
        history = result["history"]
        info.update(_best_epoch(history, cfg["training"]["monitor"]) if "best" not in result
                    else {"epochs_run": len(history)})
        (tmp / CONFIG_FILE).write_text(yaml.safe_dump(cfg, sort_keys=False))
        write_json(tmp / RUN_FILE, info)
        write_json(tmp / HISTORY_FILE, history)
        _write_history_csv(tmp / HISTORY_CSV, history)
        if not (tmp / result.get("model_file", MODEL_FILE)).is_file():
            raise RuntimeError("training ended without saving a model")
    return Path(out)


# ---- data-dependent pieces ----------------------------------------------------------


def _check_labels(dataset: Dataset, train_split: Split) -> None:
    present = int((train_split.targets.sum(axis=0) > 0).sum())
    if not dataset.multilabel and present < 2:
        raise InputError(f"data: the training split holds {present} class(es); at least 2 are needed")
    if dataset.multilabel and present == 0:
        raise InputError("data: no category holds for any training image")


def _sample_weights(cfg: dict[str, Any], dataset: Dataset, split: Split) -> np.ndarray | None:
    """Per-image training weights: the data's own (STM weighting) × class weights."""
    weights = split.weights
    choice = cfg["training"]["class_weights"]
    if choice == "none":
        return weights
    labels = split.targets.argmax(axis=1)
    counts = np.bincount(labels, minlength=len(dataset.classes)).astype(np.float64)
    if choice == "balanced":
        per_class = np.where(counts > 0, len(labels) / (np.count_nonzero(counts) * np.maximum(counts, 1)), 0.0)
    else:
        unknown = sorted(set(choice) - set(dataset.classes))
        if unknown:
            raise InputError(f"training.class_weights.{unknown[0]}: not a class of the data "
                             f"(classes: {', '.join(dataset.classes)})")
        per_class = np.array([choice.get(c, 1.0) for c in dataset.classes])
    w = per_class[labels].astype(np.float32)
    return w if weights is None else w * weights


def _label_counts(dataset: Dataset, split: Split) -> dict[str, Any]:
    """Training label counts over distinct images (before any oversampling)."""
    first = sorted({ident: i for i, ident in reversed(list(enumerate(split.ids)))}.values())
    targets = split.targets[first]
    return {"n_images": len(first), "positives": dict(zip(dataset.classes, targets.sum(axis=0).astype(int).tolist()))}


def weights_description(model_cfg: dict[str, Any]) -> str:
    """Which initial weights a (non-Inception) model used, for every report (its pipeline's)."""
    return get_pipeline(model_cfg["name"]).weights_description(model_cfg)


def _best_epoch(history: list[dict[str, Any]], monitor: str) -> dict[str, Any]:
    values = [(row[monitor], row["epoch"], row.get("stage")) for row in history if monitor in row]
    if not values:
        return {"epochs_run": len(history)}
    pick = min if monitor == "val_loss" else max
    value, epoch, stage = pick(values, key=lambda v: v[0])
    best = {"monitor": monitor, "value": value, "epoch": epoch}
    if stage:
        best["stage"] = stage
    return {"epochs_run": len(history), "best": best}


def _write_history_csv(path: Path, history: list[dict[str, Any]]) -> None:
    keys: list[str] = []
    for row in history:
        keys += [k for k in row if k not in keys]
    with open(path, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=keys)
        writer.writeheader()
        writer.writerows(history)
