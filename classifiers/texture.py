"""The ``texture`` model: hand-crafted texture features + gradient boosting, no deep learning.

Made for scanning-probe images of a surface (the STM tip-state task): every image is resized
to ``preprocess.input_size`` (128 by default) and becomes the feature vector
:func:`stemsim.classifiers.texture_features.texture_features` (scan-line jumps, power spectrum,
blobs, local binary patterns, co-occurrence, sharpness;
:data:`~stemsim.classifiers.texture_features.TEXTURE_FEATURE_NAMES`). A
:class:`sklearn.ensemble.HistGradientBoostingClassifier` (``iterations``, ``learning_rate``,
``max_leaf_nodes``, ``min_samples_leaf``, ``l2_regularization``; no early stopping) learns

* **multi-label data** (``data.kind: stm``): one binary classifier per category
  (:class:`PerCategory`), each giving P(category holds) — the "one binary classifier per
  category" of the published STM work, with boosted trees for networks;
* **single-label data**: one multi-class classifier.

The training split's sample weights (``data.weighting``, ``training.class_weights``) weight
the fit. ``random_state`` is the experiment's ``seed``; ``model.jobs`` processes compute the
features and as many threads fit. It trains, evaluates and predicts through the ordinary
paths (``stemsim train`` / ``evaluate`` / ``predict``), so a bench lists it like any network:
``{model: {name: texture}}``. The run holds ``model.skops`` (a dict in a skops file, :mod:`stemsim.classifiers.model_files`:
``estimator``, ``classes``, ``side``, ``feature_names``, ``format``); loading refuses a file
of other feature names than this version's.

Ignored keys: ``augment`` (the scan direction is part of what the features read: flips and
turns would mix it up), ``training.*`` except ``class_weights``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from stemsim.classifiers.data import Dataset
from stemsim.classifiers.geometric import MODEL_FILE, GeometricModel, finite_rows, fit_feature_model, geometric, gray
from stemsim.classifiers.model_files import read_estimator_file, write_estimator_file
from stemsim.classifiers.models import build_model
from stemsim.classifiers.preprocessing import Preprocessing, resize
from stemsim.classifiers.progress import tracked
from stemsim.classifiers.texture_features import TEXTURE_FEATURE_NAMES, texture_features


def texture(input_shape: tuple[int, ...] = (128, 128, 1), n_outputs: int = 2, output_activation: str = "softmax",
            iterations: int = 300, learning_rate: float = 0.03, max_leaf_nodes: int = 15, min_samples_leaf: int = 20,
            l2_regularization: float = 1.0, seed: int = 0):
    """The unfitted estimator of the ``texture`` model (the registry's builder): a
    :class:`PerCategory` of binary gradient-boosting classifiers for ``sigmoid`` (multi-label)
    outputs, one multi-class one for ``softmax``: the ``geometric`` model's booster."""
    booster = geometric(classifier="gbm", iterations=iterations, learning_rate=learning_rate,
                        max_leaf_nodes=max_leaf_nodes, min_samples_leaf=min_samples_leaf,
                        l2_regularization=l2_regularization, seed=seed)
    return PerCategory(booster, n_outputs) if output_activation == "sigmoid" else booster


class PerCategory:
    """Multi-label: one binary classifier per category, each a clone of ``prototype``.

    ``fit(x, targets (N, C), sample_weight)``; ``predict_proba(x)`` → ``(N, C)`` P(category
    holds); ``staged_predict_proba`` per boosting iteration. A category that holds for every
    training item, or for none, is that constant (no classifier can be fitted to it).

    Soft targets (any value strictly between 0 and 1, e.g. the fraction of people who ticked
    the category): each item is fitted twice, as a positive weighted by its target ``t`` and as
    a negative weighted by ``1 − t`` (× its sample weight), which is the binary cross-entropy
    against ``t`` that boosting minimises; 0/1 targets are fitted as they are.
    """

    def __init__(self, prototype, n_categories: int):
        self.prototype = prototype
        self.n_categories = n_categories
        self.classes_ = np.arange(n_categories)

    def fit(self, x: np.ndarray, targets: np.ndarray, sample_weight: np.ndarray | None = None) -> "PerCategory":
        from sklearn.base import clone

        targets = np.asarray(targets, np.float64)
        soft = bool(np.any((targets > 0) & (targets < 1)))
        weight = np.ones(len(x)) if sample_weight is None else np.asarray(sample_weight, np.float64)
        self.estimators_: list[Any] = []
        for c in range(self.n_categories):
            t = targets[:, c] if soft else (targets[:, c] > 0.5).astype(np.float64)
            if np.all(t >= 1) or np.all(t <= 0):
                self.estimators_.append(float(t[0] >= 1))
            elif soft:
                both = np.r_[weight * t, weight * (1 - t)]
                rows, used = np.r_[np.arange(len(x)), np.arange(len(x))], both > 0
                answers = np.r_[np.ones(len(x), bool), np.zeros(len(x), bool)]
                self.estimators_.append(clone(self.prototype).fit(x[rows[used]], answers[used],
                                                                  sample_weight=both[used]))
            else:
                self.estimators_.append(clone(self.prototype).fit(x, t > 0.5, sample_weight=sample_weight))
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return np.stack([np.full(len(x), e) if isinstance(e, float) else e.predict_proba(x)[:, 1]
                         for e in self.estimators_], axis=1)

    def staged_predict_proba(self, x: np.ndarray):
        stages = [None if isinstance(e, float) else [p[:, 1] for p in e.staged_predict_proba(x)]
                  for e in self.estimators_]
        n_stages = max((len(s) for s in stages if s is not None), default=1)
        for k in range(n_stages):
            yield np.stack([np.full(len(x), e) if s is None else s[min(k, len(s) - 1)]
                            for e, s in zip(self.estimators_, stages)], axis=1)


class TextureModel(GeometricModel):
    """A fitted ``texture`` model: texture features of prepared images → probabilities."""

    feature_names = TEXTURE_FEATURE_NAMES
    description = "texture features"

    def __init__(self, estimator, classes: Sequence[str], side: int, jobs: int = 1):
        super().__init__(estimator, classes, None, side, "gbm", jobs)
        self.side = int(side)

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Prepared images ``(h, w, c)`` → features ``(N, len(TEXTURE_FEATURE_NAMES))``, each
        image resized to ``side`` × ``side`` first."""
        grays = [self._square(gray(image)) for image in images]
        if self.jobs > 1 and len(grays) > 1:
            from joblib import Parallel, delayed

            rows = list(tracked(Parallel(n_jobs=self.jobs, return_as="generator")(
                delayed(texture_features)(g) for g in grays), "texture features", len(grays)))
        else:
            rows = [texture_features(g) for g in tracked(grays, "texture features", len(grays))]
        return finite_rows(rows, len(self.feature_names))

    def _square(self, image: np.ndarray) -> np.ndarray:
        if image.shape == (self.side, self.side):
            return image
        return resize(image[..., None].astype(np.float32), self.side, self.side)[..., 0].astype(np.float64)

    def save(self, path: Path) -> None:
        write_estimator_file(path, self.estimator, self.feature_names, classes=self.classes, side=self.side)

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str] | None = None) -> "TextureModel":
        """Read ``model.skops``; InputError (one line) if missing, unreadable or of other features."""
        data = read_estimator_file(path, feature_names or cls.feature_names, ("classes", "side"))
        return cls(data["estimator"], data["classes"], data["side"])


def train_texture(cfg: dict[str, Any], dataset: Dataset, pre: Preprocessing, tmp: Path,
                  weights: np.ndarray | None, verbose: int = 0) -> dict[str, Any]:
    """Fit the ``texture`` model of experiment ``cfg`` on ``dataset`` and save it to
    ``tmp / model.skops``; returns what :func:`stemsim.classifiers.training.train` records."""
    m = cfg["model"]
    activation = "sigmoid" if dataset.multilabel else "softmax"
    estimator = build_model("texture", (pre.input_size, pre.input_size, 1), len(dataset.classes), activation, m,
                            seed=cfg["seed"])
    model = TextureModel(estimator, dataset.classes, pre.input_size, m["jobs"])
    result = fit_feature_model(model, cfg, dataset, tmp, weights, verbose,
                               {"side_px": model.side, "per_category": dataset.multilabel})
    result.update(pipeline="texture", model_file=MODEL_FILE)
    return result
