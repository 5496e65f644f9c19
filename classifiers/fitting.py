"""Compiling and fitting a Keras model the one way every network of a run is trained.

Used by the Keras pipelines (:mod:`stemsim.classifiers.pipelines.keras`), Inception-v3 transfer
learning (:mod:`stemsim.classifiers.transfer`) and anything that fits a network on a run's images.
Keras is imported inside the functions: a geometric or texture run never imports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.data import Split
from stemsim.classifiers.preprocessing import Preprocessing


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
    """:class:`stemsim.classifiers.batches.Batches` of finished images ``(B, S, S, C)`` (augmented when
    ``train``), or of whole objects ``(B, V, S, S, C)`` when the split holds multi-view objects
    (each view augmented on its own; ``train_views``: a random K of each object's views in training)."""
    from stemsim.classifiers.batches import Batches  # imports Keras

    def make_inputs(idx, rng):
        items = [split.images[i] for i in idx]
        if items[0].ndim == 3:
            return pre.finish(items, rng)
        if rng is not None and train_views:
            items = [obj[rng.choice(len(obj), train_views, replace=False)] for obj in items]
        return pre.finish_views(items, rng)

    return Batches(make_inputs, targets, weights, batch_size, shuffle=train, seed=[seed, 11])
