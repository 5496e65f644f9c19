"""Batch feeding for Keras ``fit``/``predict`` (backend-agnostic ``keras.utils.PyDataset``)."""

from __future__ import annotations

import math
from typing import Callable, Sequence

import keras
import numpy as np

MakeInputs = Callable[[np.ndarray, "np.random.Generator | None"], np.ndarray]


class Batches(keras.utils.PyDataset):
    """``(inputs, targets[, sample_weights])`` batches over N items.

    ``make_inputs(indices, rng)`` builds the input array for the given item indices; ``rng``
    is a numpy Generator when ``shuffle`` (training: random order each epoch, random
    augmentation) and ``None`` otherwise (fixed order, no augmentation).
    """

    def __init__(self, make_inputs: MakeInputs, targets: np.ndarray, weights: np.ndarray | None = None,
                 batch_size: int = 32, shuffle: bool = False, seed: int | Sequence[int] = 0):
        super().__init__()
        self.make_inputs = make_inputs
        self.targets = np.asarray(targets, np.float32)
        self.weights = None if weights is None else np.asarray(weights, np.float32)
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(np.random.SeedSequence(seed)) if shuffle else None
        self.order = np.arange(len(self.targets))
        if self.rng is not None:
            self.rng.shuffle(self.order)

    def __len__(self) -> int:
        return math.ceil(len(self.order) / self.batch_size)

    def __getitem__(self, index: int):
        idx = self.order[index * self.batch_size:(index + 1) * self.batch_size]
        x = self.make_inputs(idx, self.rng)
        if self.weights is None:
            return x, self.targets[idx]
        return x, self.targets[idx], self.weights[idx]

    def on_epoch_end(self) -> None:
        if self.rng is not None:
            self.rng.shuffle(self.order)


def predict_in_batches(model: keras.Model, make_inputs: MakeInputs, n: int, batch_size: int = 32) -> np.ndarray:
    """Model outputs for items ``0..n-1`` (inputs from ``make_inputs(indices, None)``)."""
    outputs = []
    for start in range(0, n, batch_size):
        idx = np.arange(start, min(n, start + batch_size))
        outputs.append(np.asarray(keras.ops.convert_to_numpy(model.predict_on_batch(make_inputs(idx, None)))))
    if not outputs:
        return np.zeros((0,) + tuple(model.output_shape[1:]), np.float32)
    return np.concatenate(outputs).astype(np.float32)
