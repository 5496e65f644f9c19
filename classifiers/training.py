"""``stemsim train``: train one experiment and write its run directory.

:func:`train` checks the experiment (nothing is loaded before it passes), loads the data,
builds the model, fits it with the configured optimiser/schedule/early stopping while
keeping the best-on-validation model, and moves the finished run directory into place
(a failed run leaves nothing behind). Inception-v3 transfer learning is delegated to
:mod:`classifiers.transfer`, the ``geometric`` baseline (features + scikit-learn, no
network) to :mod:`classifiers.geometric`, the ``two_stage`` model (U-Net maps, then features)
to :mod:`classifiers.two_stage`, the ``texture`` model (texture features + gradient boosting) to
:mod:`classifiers.texture`.

Multi-view data (:mod:`classifiers.views`): the ``multiview`` model trains on whole objects
(batches ``(B, V, S, S, C)``); any other model trains on every view as an image of its own
(late fusion at evaluation). The training label counts (the constant baseline) are per object.
"""

from __future__ import annotations

import csv
import hashlib
import random
import time
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from classifiers.config import effective_spec, load_experiment, read_yaml
from classifiers.data import Dataset, Split, load_dataset
from classifiers.preprocessing import Preprocessing
from classifiers.run import (CONFIG_FILE, HISTORY_CSV, HISTORY_FILE, MODEL_FILE, RUN_FILE, StagingDir,
                             environment, write_json)
from classifiers.scale import training_scale
from classifiers.views import POOLED_FUSIONS
from stemsim.errors import InputError, argument


def train(experiment: str | Path | dict[str, Any], out: str | Path, *, overwrite: bool = False,
          data_path: str | Path | None = None, verbose: int = 0, allow_incomplete: bool = False,
          announce=None) -> Path:
    """Train ``experiment`` (YAML path or mapping) into run directory ``out``; returns ``out``.

    ``data_path`` replaces ``data.path``. ``verbose``: Keras fit verbosity (0 silent, 2 one
    line per epoch). ``allow_incomplete``: train on the complete shards of an incomplete
    stemsim dataset (:func:`classifiers.data.dataset_record`) instead of refusing it; run.json
    ``data.record`` says how many images it held of how many its spec promises.
    ``announce(line)``, when given, gets the line ``model: NAME (backend, device)``
    (:func:`classifiers.backend.model_line`) once the data is loaded, before fitting. run.json
    ``scale`` records the training images' pixel size and size (:mod:`classifiers.scale`).
    """
    raw = read_yaml(experiment) if not isinstance(experiment, dict) else dict(experiment)
    if data_path is not None:
        if not isinstance(raw, dict) or not isinstance(raw.get("data"), dict):
            raise InputError(f"data: the experiment has no data section to take {argument('--data', 'data_path')}")
        raw = {**raw, "data": {**raw["data"], "path": str(data_path)}}
    cfg = load_experiment(raw)
    name, kind = cfg["model"]["name"], cfg["data"]["kind"]
    if name == "geometric" and kind == "stm":
        raise InputError("model.name: geometric is a single-label classifier; data.kind stm is multi-label")
    if name == "two_stage" and kind != "stemsim":
        raise InputError(f"model.name: two_stage learns its maps from a stemsim dataset's ground truth; "
                         f"data.kind is {kind}")
    if name == "two_stage" and not cfg["model"]["corner_classifier"]:
        for key, unset, what in (("corner_patches", False, "the patches are what the corner classifier reads"),
                                 ("corner_target", "near", "it is what the corner classifier learns")):
            if cfg["model"][key] != unset:
                raise InputError(f"model.{key}: {what}; set model.corner_classifier: true")
    if cfg["evaluation"]["fusion"] in POOLED_FUSIONS and name != "two_stage":
        raise InputError(f"evaluation.fusion: {cfg['evaluation']['fusion']} is the two_stage model's view pooling; "
                         f"model.name {name} fuses views by mean or vote")
    staging = StagingDir(out, overwrite)  # refuses a non-empty --out before any work

    from classifiers.backend import import_keras, needs_keras

    keras = import_keras() if needs_keras(name) else None  # geometric, texture: scikit-learn only
    spec = effective_spec(cfg["model"])
    pre = Preprocessing.from_config(cfg, spec.channels)
    dataset = load_dataset(cfg["data"], pre, ("train", "val"), allow_incomplete)
    train_split = dataset.split("train")
    dataset.split("val")  # best-on-validation needs a non-empty validation split
    _check_labels(dataset, train_split)
    label_counts = _label_counts(dataset, train_split)  # per object, the unit that evaluation scores
    views = dataset.views
    dataset = _as_model_takes(cfg["model"], dataset)
    train_split = dataset.split("train")
    weights = _sample_weights(cfg, dataset, train_split)
    env = environment(name)
    if announce is not None:
        from classifiers.backend import model_line

        announce(model_line(name, env))
    started = time.time()
    with staging as tmp:
        if keras is not None:
            keras.utils.set_random_seed(cfg["seed"])
        else:  # what keras.utils.set_random_seed seeds, but TensorFlow
            random.seed(cfg["seed"])
            np.random.seed(cfg["seed"])
        if cfg["model"]["name"] == "inception_v3":
            from classifiers.transfer import train_inception

            result = train_inception(cfg, dataset, pre, tmp, weights, verbose)
        elif cfg["model"]["name"] == "two_stage":
            from classifiers.two_stage import train_two_stage

            result = train_two_stage(cfg, dataset, pre, tmp, weights, verbose)
        elif cfg["model"]["name"] == "texture":
            from classifiers.texture import train_texture

            result = train_texture(cfg, dataset, pre, tmp, weights, verbose)
        elif cfg["model"]["name"] == "geometric":
            from classifiers.geometric import train_geometric

            result = train_geometric(cfg, dataset, pre, tmp, weights, verbose)
        else:
            result = _train_image_model(cfg, dataset, pre, tmp, weights, verbose)
        info = {
            "model": cfg["model"]["name"],
            "classes": dataset.classes,
            "multilabel": dataset.multilabel,
            "channels": pre.channels,
            "input_shape": [pre.input_size, pre.input_size, pre.channels],
            "group_size": cfg["model"]["group_size"] if cfg["model"]["name"] == "family" else None,
            "pipeline": result.get("pipeline", "images"),
            "weights": result.get("weights") or weights_description(cfg["model"]),
            "train_label_counts": label_counts,
            "views": views,
            **({"view_pooling": cfg["model"]["pooling"]} if cfg["model"]["name"] == "multiview" else {}),
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


def _as_model_takes(model_cfg: dict[str, Any], dataset: Dataset) -> Dataset:
    """The data as the architecture takes it: whole objects for ``multiview`` (which needs
    multi-view data), every view an image of its own for single-view networks."""
    if model_cfg["name"] != "multiview":
        return dataset.per_view() if dataset.views > 1 else dataset
    if dataset.views == 1:
        raise InputError(f"model.name: multiview needs multi-view data (several views per object), but "
                         f"{dataset.info['path']} holds one image per object")
    k = model_cfg["train_views"]
    if k is not None and k > dataset.views:
        raise InputError(f"model.train_views: {k} is more than the data's {dataset.views} views per object")
    return dataset


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
    """Which initial weights a (non-Inception) model used, for every report."""
    if model_cfg["name"] == "family":
        member = {"name": model_cfg["member"], **model_cfg["member_options"]}
        return f"family members: {weights_description(member)}"
    weights = model_cfg.get("weights", "none")
    if weights in (None, "none"):
        asked = " as asked (weights: none)" if model_cfg["name"] in ("featurenet", "finenet") else ""
        return f"none: random initialisation, trained from scratch{asked}"
    digest = hashlib.sha1(Path(weights).read_bytes()).hexdigest()[:12]
    return f"ResNet-18 weights from {weights} (sha1 {digest})"


# ---- compiling and fitting ----------------------------------------------------------


def make_optimizer(opt: dict[str, Any], learning_rate: float | None = None):
    """Keras optimiser from a resolved ``training.optimizer`` section."""
    import keras

    lr = float(learning_rate if learning_rate is not None else opt["learning_rate"])
    if opt["name"] == "sgd":
        return keras.optimizers.SGD(learning_rate=lr, momentum=opt["momentum"], nesterov=bool(opt["nesterov"]))
    if opt["name"] == "rmsprop":
        return keras.optimizers.RMSprop(learning_rate=lr, momentum=opt["momentum"])
    return keras.optimizers.Adam(learning_rate=lr)


def _same_side_of_half(y_true, y_pred):
    from keras import ops

    return ops.mean(ops.cast(ops.equal(y_true > 0.5, y_pred > 0.5), "float32"), axis=-1)


def compile_model(model, cfg: dict[str, Any], learning_rate: float | None = None) -> None:
    import keras

    loss = cfg["training"]["loss"]
    if loss != "binary_crossentropy":
        metric = keras.metrics.CategoricalAccuracy(name="accuracy")
    elif cfg["data"].get("targets") == "score":
        # soft targets (2/3 ticked) never equal a 0/1 prediction: compare which side of 0.5 each is on
        metric = keras.metrics.MeanMetricWrapper(_same_side_of_half, name="accuracy")
    else:
        metric = keras.metrics.BinaryAccuracy(name="accuracy")
    model.compile(optimizer=make_optimizer(cfg["training"]["optimizer"], learning_rate), loss=loss,
                  metrics=[metric])


def fit(model, train_batches, val_batches, cfg: dict[str, Any], checkpoint: Path, epochs: int,
        verbose: int = 0, initial_best: float | None = None) -> list[dict[str, Any]]:
    """Fit, then save the best-on-``monitor`` weights as an inference model to ``checkpoint``.

    The best epoch's weights are kept in memory and written once at the end, without the
    optimiser state (:func:`save_inference_model`). ``initial_best``: only save when some
    epoch beats this value (a previous stage's best); otherwise nothing is written.
    Returns the history as one dict per epoch (epoch, loss, accuracy, val_*, learning_rate).
    """
    import keras

    training = cfg["training"]
    monitor = training["monitor"]
    mode = "min" if monitor == "val_loss" else "max"

    class BestWeights(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.best, self.weights = initial_best, None

        def on_epoch_end(self, epoch, logs=None):
            logs = logs if logs is not None else {}
            logs["learning_rate"] = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            value = logs.get(monitor)
            if value is None or not np.isfinite(value):
                return
            if self.best is None or (value < self.best if mode == "min" else value > self.best):
                self.best, self.weights = float(value), [np.array(w) for w in self.model.get_weights()]

    best = BestWeights()
    callbacks = [best]
    schedule = training["schedule"]
    if schedule["kind"] == "step":
        every, factor = schedule["every"], schedule["factor"]
        start_lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        callbacks.insert(0, keras.callbacks.LearningRateScheduler(
            lambda epoch, lr: start_lr * factor ** (epoch // every)))
    elif schedule["kind"] == "plateau":
        callbacks.append(keras.callbacks.ReduceLROnPlateau(monitor=monitor, mode=mode, factor=schedule["factor"],
                                                           patience=schedule["patience"], min_lr=schedule["min_lr"]))
    stopping = training["early_stopping"]
    if stopping["patience"]:
        callbacks.append(keras.callbacks.EarlyStopping(monitor=monitor, mode=mode, patience=stopping["patience"],
                                                       min_delta=stopping["min_delta"]))
    record = model.fit(train_batches, validation_data=val_batches, epochs=epochs, callbacks=callbacks,
                       verbose=verbose)
    if best.weights is not None:
        model.set_weights(best.weights)
        save_inference_model(model, checkpoint)
    keys = list(record.history)
    return [{"epoch": i + 1, **{k: float(record.history[k][i]) for k in keys}}
            for i in range(len(record.history[keys[0]]))]


def save_inference_model(model, path: Path) -> None:
    """Save ``model`` as ``.keras`` without its optimiser state (weights + architecture)."""
    optimizer = model.optimizer
    model.optimizer = None
    try:
        model.save(path)
    finally:
        model.optimizer = optimizer


def image_batches(split: Split, pre: Preprocessing, targets: np.ndarray, weights: np.ndarray | None,
                  batch_size: int, train: bool, seed: int, train_views: int | None = None):
    """:class:`classifiers.batches.Batches` of finished images ``(B, S, S, C)`` (augmented when
    ``train``), or of whole objects ``(B, V, S, S, C)`` when the split holds multi-view objects
    (each view augmented on its own; ``train_views``: a random K of each object's views in training)."""
    from classifiers.batches import Batches

    def make_inputs(idx, rng):
        items = [split.images[i] for i in idx]
        if items[0].ndim == 3:
            return pre.finish(items, rng)
        if rng is not None and train_views:
            items = [obj[rng.choice(len(obj), train_views, replace=False)] for obj in items]
        return pre.finish_views(items, rng)

    return Batches(make_inputs, targets, weights, batch_size, shuffle=train, seed=[seed, 11])


def _train_image_model(cfg, dataset: Dataset, pre: Preprocessing, tmp: Path, weights, verbose) -> dict[str, Any]:
    from classifiers.models import build_model
    from classifiers.models.family import member_targets

    model_cfg = cfg["model"]
    family = model_cfg["name"] == "family"
    activation = "sigmoid" if (dataset.multilabel or family) else "softmax"
    model = build_model(model_cfg["name"], (pre.input_size, pre.input_size, pre.channels), len(dataset.classes),
                        activation, model_cfg)
    compile_model(model, cfg)
    tr, va = dataset.split("train"), dataset.split("val")
    y_train, y_val = tr.training_targets(), va.targets
    if family:
        k = model_cfg["group_size"]
        y_train, y_val = member_targets(y_train, k), member_targets(y_val, k)
    batch = cfg["training"]["batch_size"]
    history = fit(model, image_batches(tr, pre, y_train, weights, batch, True, cfg["seed"],
                                       model_cfg.get("train_views")),
                  image_batches(va, pre, y_val, None, batch, False, cfg["seed"]),
                  cfg, tmp / MODEL_FILE, cfg["training"]["epochs"], verbose)
    return {"history": history, "pipeline": "images", "parameters": int(model.count_params())}


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
