"""The ``two_stage`` classifier: a U-Net's pixel-wise maps, then gradient boosting on their features.

Stage 1 (:mod:`classifiers.pixelwise`, :func:`classifiers.models.unet.unet`) learns from the
ground truth in a ``stemsim`` dataset's npz shards to turn an image into the particle mask,
its thickness map (nm) and vertex heat-maps (every vertex / deformed ones). Stage 2 is the
``geometric`` classifier (:mod:`classifiers.geometric`) on
:data:`~classifiers.pixelwise.MAP_FEATURE_NAMES` + the geometric features of the predicted
thickness map — the outline, corners and volume now come from a denoised, support-free map.

Keys (beside the ``geometric`` ones: ``classifier``, ``iterations``, …):
``unet_width`` (8), ``unet_depth`` (3), ``unet_epochs`` (10), ``unet_batch_size`` (16),
``unet_learning_rate`` (2e-3), ``unet_images`` (training images of stage 1, the first ones
of the train split; null: all), ``unet_val_images`` (300). Stage 2 learns from every
training image's *predicted* maps, as it will see them at test time.

What is stored: ``model.joblib`` (stage 2, as for ``geometric``), ``unet.keras`` (stage 1),
``unet_history.json``; on multi-view data also ``views_model.joblib``, a second stage-2
classifier on view-pooled features (``--fusion features``, :mod:`classifiers.views`: it
learns from the pooled features of view subsets of every training object; ``run.json``
``view_features`` scores it on the validation objects). ``run.json`` ``maps.val`` scores
stage 1 on the validation images (:func:`classifiers.pixelwise.map_metrics`). ``stemsim
evaluate`` scores the maps on the evaluated split too (``metrics.json`` ``maps``), and
``stemsim predict --maps DIR`` writes them.

Images are resampled to the training images' width before stage 1 when they differ, so that
a pixel is the training pixel size (the model takes any image to span the training field of
view, like the ``geometric`` model).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from classifiers.data import Dataset
from classifiers.features import FEATURE_NAMES
from classifiers.geometric import (MODEL_FILE, GeometricModel, calibration, finite_rows, fit_estimator,
                                   fit_feature_model, gray, read_estimator_file, train_val_features,
                                   write_estimator_file)
from classifiers.pixelwise import (MAP_FEATURE_NAMES, load_maps, map_features, map_metrics, predict_maps,
                                   train_unet)
from classifiers.preprocessing import Preprocessing
from classifiers.run import load_keras_model, write_json
from classifiers.views import pool_view_features, pooled_feature_names, view_subsets
from stemsim.errors import InputError

UNET_FILE = "unet.keras"
UNET_HISTORY = "unet_history.json"
VIEWS_MODEL_FILE = "views_model.joblib"


class TwoStageModel(GeometricModel):
    """A fitted two-stage model: U-Net maps → features → scikit-learn probabilities."""

    feature_names = tuple(MAP_FEATURE_NAMES) + tuple(f"thickness_map_{name}" for name in FEATURE_NAMES)

    def __init__(self, estimator, classes: Sequence[str], pixel_size_nm: float | None, reference_width: float,
                 classifier: str = "gbm", jobs: int = 1, unet=None, views_estimator=None):
        super().__init__(estimator, classes, pixel_size_nm, reference_width, classifier, jobs)
        self.unet = unet
        self.views_estimator = views_estimator  # on view-pooled features; None: single-view training data

    def maps(self, images: Sequence[np.ndarray], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Prepared images of one size (resampled to the training width first) →
        :func:`classifiers.pixelwise.predict_maps` output."""
        return predict_maps(self.unet, [self._at_training_width(gray(image)) for image in images], batch_size)

    def _at_training_width(self, image: np.ndarray) -> np.ndarray:
        width = int(round(self.reference_width))
        if image.shape[1] == width:
            return image
        from skimage.transform import resize

        height = max(1, int(round(image.shape[0] * width / image.shape[1])))
        return resize(image, (height, width), order=1, anti_aliasing=True, preserve_range=True)

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Prepared images → ``(N, len(feature_names))`` features of their predicted maps (one
        forward pass per image size)."""
        return self.maps_and_features(images)[1]

    def predict_with_maps(self, images: Sequence[np.ndarray]) -> tuple[np.ndarray, list[dict[str, np.ndarray]]]:
        """Prepared images → ``(probabilities (N, C), maps)`` from one U-Net pass; ``maps[i]`` is
        image ``i``'s :func:`predict_maps` output (arrays of length 1)."""
        maps, features = self.maps_and_features(images)
        return self.probabilities(features), maps

    def maps_and_features(self, images: Sequence[np.ndarray]) -> tuple[list[dict[str, np.ndarray]], np.ndarray]:
        """Each image's maps (arrays of length 1) and the ``(N, len(feature_names))`` features,
        images of one size in one forward pass."""
        maps: list[dict[str, np.ndarray] | None] = [None] * len(images)
        rows: list[np.ndarray | None] = [None] * len(images)
        by_shape: dict[tuple, list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(np.shape(image)[:2], []).append(i)
        for index in by_shape.values():
            group = self.maps([images[i] for i in index])
            for k, (i, row) in enumerate(zip(index, self.features_of_maps(group))):
                rows[i], maps[i] = row, {key: value[k:k + 1] for key, value in group.items()}
        return maps, finite_rows(rows, len(self.feature_names))

    def features_of_maps(self, maps: dict[str, np.ndarray]) -> list[np.ndarray]:
        pixel = self.pixel_size_nm or 1.0
        items = [(maps["mask"][i], maps["thickness"][i], maps["vertices"][i], pixel) for i in range(len(maps["mask"]))]
        if self.jobs > 1 and len(items) > 1:
            from joblib import Parallel, delayed

            return Parallel(n_jobs=self.jobs)(delayed(map_features)(*item) for item in items)
        return [map_features(*item) for item in items]

    def pooled_probabilities(self, objects: Sequence[np.ndarray]) -> np.ndarray:
        """Prepared objects ``(V, h, w, c)`` (any V each) → ``(N, C)`` probabilities of the
        view-pooling classifier (:func:`classifiers.views.pool_view_features`)."""
        if self.views_estimator is None:
            raise InputError(f"--fusion features: this two_stage run has no view-pooling classifier "
                             f"({VIEWS_MODEL_FILE} is made only by training on multi-view data)")
        per_view = self.features([view for obj in objects for view in obj])
        bounds = np.cumsum([0] + [len(obj) for obj in objects])
        pooled = np.array([pool_view_features(per_view[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
        return self._probabilities_of(self.views_estimator, pooled)

    def save(self, path: Path) -> None:
        super().save(path)
        self.unet.save(Path(path).parent / UNET_FILE)
        if self.views_estimator is not None:
            write_estimator_file(Path(path).parent / VIEWS_MODEL_FILE, self.views_estimator,
                                 pooled_feature_names(self.feature_names))

    @classmethod
    def load(cls, path: Path) -> "TwoStageModel":
        """``model.joblib`` + ``unet.keras`` (+ ``views_model.joblib`` when there is one) beside
        it; InputError (one line) if one is missing or unreadable."""
        model = super().load(path)
        model.unet = load_keras_model(Path(path).parent / UNET_FILE, "stage-1 network file")
        views_file = Path(path).parent / VIEWS_MODEL_FILE
        if views_file.is_file():  # made only by training on multi-view data
            model.views_estimator = read_estimator_file(views_file, pooled_feature_names(cls.feature_names),
                                                        what="view-pooling classifier")["estimator"]
        return model


def train_two_stage(cfg: dict[str, Any], dataset: Dataset, pre: Preprocessing, tmp: Path,
                    weights: np.ndarray | None, verbose: int = 0) -> dict[str, Any]:
    """Fit both stages of experiment ``cfg`` (module doc) into ``tmp``; returns what
    :func:`classifiers.training.train` records."""
    from classifiers.models import build_model

    m = cfg["model"]
    root = Path(cfg["data"]["path"])
    train_maps = load_maps(root, "train", m["unet_images"])
    val_maps = load_maps(root, "val", m["unet_val_images"])
    started = time.time()
    unet, unet_history = train_unet(train_maps, val_maps, width=m["unet_width"], depth=m["unet_depth"],
                                    epochs=m["unet_epochs"], batch_size=m["unet_batch_size"],
                                    learning_rate=m["unet_learning_rate"], seed=cfg["seed"],
                                    verbose=2 if verbose else 0)
    unet_seconds = time.time() - started
    val_scores = map_metrics(predict_maps(unet, val_maps.images), val_maps)
    pixel, reference, source = calibration(cfg, dataset)
    estimator = build_model("geometric", (None, None, 1), len(dataset.classes), "softmax", m, seed=cfg["seed"])
    model = TwoStageModel(estimator, dataset.classes, pixel, reference, m["classifier"], m["jobs"], unet)
    features = train_val_features(model, dataset)
    views = int(dataset.info.get("views", 1))
    if views > 1:  # fit before the per-view fit sets the all-missing feature columns to 0
        view_scores = fit_views_model(model, cfg, dataset, features[0], features[1], views, weights)
    result = fit_feature_model(model, cfg, dataset, tmp, weights, verbose, source, features)
    write_json(tmp / UNET_HISTORY, unet_history)
    result.update(
        pipeline="two_stage",
        weights="none: U-Net trained here on the dataset's ground-truth maps, then scikit-learn "
                f"{m['classifier']} on map features",
        parameters={"unet": int(unet.count_params()), "stage2": result["parameters"]},
        maps={"val": val_scores, "unet_images": len(train_maps), "unet_seconds": round(unet_seconds, 1),
              "unet_epochs_run": len(unet_history), "files": [UNET_FILE, UNET_HISTORY]},
    )
    if views > 1:
        result["view_features"] = view_scores
    return result


def fit_views_model(model: TwoStageModel, cfg: dict[str, Any], dataset: Dataset, x_train: np.ndarray,
                    x_val: np.ndarray, views: int, weights: np.ndarray | None) -> dict[str, Any]:
    """Fit ``model.views_estimator`` on the view-pooled features of every training object's
    :func:`~classifiers.views.view_subsets` (per-view features ``x_train`` of the single-view
    form of a ``views``-view dataset: each object's views in a row). Returns what ``run.json``
    ``view_features`` records: the rows learnt from, and validation accuracy with the first
    K views of every object."""
    from classifiers.models import build_model

    rng = np.random.default_rng(np.random.SeedSequence([cfg["seed"], views]))
    tr, va = dataset.split("train"), dataset.split("val")
    per_object = x_train.reshape(-1, views, x_train.shape[1])
    labels = tr.targets.argmax(axis=1)[::views]
    rows, targets, row_weights = [], [], []
    for i, features in enumerate(per_object):
        for index in view_subsets(views, rng):
            rows.append(pool_view_features(features[index]))
            targets.append(labels[i])
            row_weights.append(1.0 if weights is None else weights[i * views])
    estimator = build_model("geometric", (None, None, 1), len(dataset.classes), "softmax", cfg["model"],
                            seed=cfg["seed"])
    x = np.array(rows)
    fit_estimator(estimator, model.classifier, x, np.array(targets), None if weights is None else np.array(row_weights),
                  model.jobs)
    model.views_estimator = estimator
    val_objects = x_val.reshape(-1, views, x_val.shape[1])
    val_labels = va.targets.argmax(axis=1)[::views]
    accuracy = {}
    for k in sorted({1, 2, views // 2, views} - {0}):
        pooled = np.array([pool_view_features(features[:k]) for features in val_objects])
        accuracy[str(k)] = round(float(np.mean(model._probabilities_of(estimator, pooled).argmax(1) == val_labels)), 4)
    return {"file": VIEWS_MODEL_FILE, "rows": len(rows), "subsets": "first K and a random K of the views, K = 1…V",
            "features": x.shape[1], "val_accuracy_by_first_views": accuracy}


def evaluate_maps(model: TwoStageModel, root: str | Path, split: str, limit: int | None = None) -> dict[str, Any]:
    """Score ``model``'s stage-1 maps on ``split`` of the stemsim dataset at ``root``
    (:func:`classifiers.pixelwise.map_metrics`)."""
    data = load_maps(root, split, limit)
    return map_metrics(model.maps(list(data.images)), data)


__all__ = ["TwoStageModel", "train_two_stage", "fit_views_model", "evaluate_maps", "MODEL_FILE", "UNET_FILE",
           "VIEWS_MODEL_FILE"]
