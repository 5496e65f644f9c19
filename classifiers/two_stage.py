"""The ``two_stage`` classifier: a U-Net's pixel-wise maps, then gradient boosting on their features.

Stage 1 (:mod:`stemsim.classifiers.pixelwise`, :func:`stemsim.classifiers.models.unet.unet`) learns from the
ground truth in a ``stemsim`` dataset's npz shards to turn an image into the particle mask,
its thickness map (nm) and vertex heat-maps (every vertex / deformed ones). Stage 2 is the
``geometric`` classifier (:mod:`stemsim.classifiers.geometric`) on
:data:`~stemsim.classifiers.pixelwise.MAP_FEATURE_NAMES` + the geometric features of the predicted
thickness map — the outline, corners and volume now come from a denoised, support-free map.

Keys (beside the ``geometric`` ones: ``classifier``, ``iterations``, …):
``unet_width`` (8), ``unet_depth`` (3), ``unet_epochs`` (10), ``unet_batch_size`` (16),
``unet_learning_rate`` (2e-3), ``unet_images`` (training images of stage 1, the first ones
of the train split; null: all), ``unet_val_images`` (300), ``unet_tta`` (false: with true,
the maps are averaged over each image's 8 rotations and mirror images, for stage 2's training
and at every prediction; :func:`stemsim.classifiers.pixelwise.predict_maps`), ``corner_classifier``
(false: with true, a third classifier decides for each vertex peak whether that corner is cut,
:mod:`stemsim.classifiers.corners`, and stage 2 also gets each image's expected cuts summed up;
stored as ``corner_model.skops``; ``run.json`` ``corners`` scores it on the validation
images), ``corner_patches`` (false: with true, that classifier also reads the image, the
relative thickness and the deformed heat on a grid around each corner, in the corner's own
frame; :func:`stemsim.classifiers.corners.corner_patches`), ``corner_target`` (``near``: that
classifier learns whether a cut vertex lies within 3 px of each peak; ``count``: how many cut
vertices each peak stands for, :func:`stemsim.classifiers.corners.cut_counts`). Stage 2 learns from every training
image's *predicted* maps, as it will see them at test time.

What is stored: ``model.skops`` (stage 2, as for ``geometric``), ``unet.keras`` (stage 1),
``unet_history.json``; on multi-view data also ``views_model.skops``, a second stage-2
classifier on view-pooled features (``--fusion features``, :mod:`stemsim.classifiers.views`: it
learns from the pooled features of view subsets of every training object; ``run.json``
``view_features`` scores it on the validation objects); on a tilt series (``views.mode:
tilt``) also ``backprojection_model.skops``, a third on the pooled features plus those of
the heat-maps back-projected into 3-D along the series' angles (``--fusion backprojection``,
:mod:`stemsim.classifiers.tomography`; ``run.json`` ``backprojection``). It takes the views of an
object to be the first views of the training tilt series, in order. ``run.json``
``maps.val`` scores stage 1 on the validation images (:func:`stemsim.classifiers.pixelwise.map_metrics`).
``stemsim evaluate`` scores the maps on the evaluated split too (``metrics.json`` ``maps``),
and ``stemsim predict --maps DIR`` writes them.

Images are resampled to the training images' width before stage 1 when they differ, so that
a pixel is the training pixel size (the model takes any image to span the training field of
view, like the ``geometric`` model).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from stemsim.classifiers.corners import (CORNER_SUMMARY_NAMES, Corners, corner_feature_names, corner_rows, corner_summary,
                                 corner_truth, expected_cuts, fit_corner_classifier)
from stemsim.classifiers.data import Dataset
from stemsim.classifiers.features import FEATURE_NAMES
from stemsim.classifiers.geometric import (MODEL_FILE, GeometricModel, calibration, finite_rows, fit_estimator,
                                   fit_feature_model, gray, train_val_features)
from stemsim.classifiers.model_files import SUFFIX, read_estimator_file, write_estimator_file
from stemsim.classifiers.models import build_model
from stemsim.classifiers.pixelwise import (MAP_FEATURE_NAMES, load_maps, load_sites, map_features, map_metrics,
                                   predict_maps, train_unet)
from stemsim.classifiers.preprocessing import Preprocessing
from stemsim.classifiers.progress import tracked
from stemsim.classifiers.run_files import load_keras_model, write_json
from stemsim.classifiers.tomography import TILT_FEATURE_NAMES, TiltSeries, tilt_features
from stemsim.classifiers.views import curve_counts, pool_view_features, pooled_feature_names, view_subsets
from stemsim.dataset.store import object_of
from stemsim.errors import InputError

UNET_FILE = "unet.keras"
UNET_HISTORY = "unet_history.json"
VIEWS_MODEL_FILE = "views_model" + SUFFIX
TILT_MODEL_FILE = "backprojection_model" + SUFFIX
CORNER_MODEL_FILE = "corner_model" + SUFFIX
OBJECT_CHUNK = 32  # objects whose maps are held at once while training the view classifiers


class TwoStageModel(GeometricModel):
    """A fitted two-stage model: U-Net maps → features → scikit-learn probabilities."""

    map_feature_names = tuple(MAP_FEATURE_NAMES) + tuple(f"thickness_map_{name}" for name in FEATURE_NAMES)

    def __init__(self, estimator, classes: Sequence[str], pixel_size_nm: float | None, reference_width: float,
                 classifier: str = "gbm", jobs: int = 1, unet=None, views_estimator=None,
                 symmetric_maps: bool = False, corner_classifier: bool = False, corner_patches: bool = False):
        super().__init__(estimator, classes, pixel_size_nm, reference_width, classifier, jobs)
        self.unet = unet
        self.symmetric_maps = symmetric_maps  # the run's unet_tta: maps averaged over the image's symmetries
        self.corner_classifier = corner_classifier  # the run's key: per-corner decisions feed stage 2
        self.corner_patches = corner_patches  # the run's key: the corner classifier also reads patches
        self.corner_estimator = None  # fitted per-corner classifier (None until fitted)
        self.views_estimator = views_estimator  # on view-pooled features; None: single-view training data
        self.tilt_estimator = None  # on view-pooled + back-projected features; only from a tilt series
        self.tilt_series: TiltSeries | None = None

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.map_feature_names + (CORNER_SUMMARY_NAMES if self.corner_classifier else ())

    def maps(self, images: Sequence[np.ndarray], batch_size: int = 32) -> dict[str, np.ndarray]:
        """Prepared images of one size (resampled to the training width first) →
        :func:`stemsim.classifiers.pixelwise.predict_maps` output."""
        return self._maps_of_inputs(self.unet_inputs(images), batch_size)

    def unet_inputs(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Prepared images → what the U-Net sees: gray ``(H, W)`` at the training width."""
        return [self._at_training_width(gray(image)) for image in images]

    def _maps_of_inputs(self, inputs: Sequence[np.ndarray], batch_size: int = 32) -> dict[str, np.ndarray]:
        return predict_maps(self.unet, inputs, batch_size, self.symmetric_maps)

    @property
    def corner_feature_names(self) -> tuple[str, ...]:
        return corner_feature_names(self.corner_patches)

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
        maps, rows, corners = self.maps_and_parts(images)
        return maps, self.with_corner_summary(rows, corners)

    def maps_and_parts(self, images: Sequence[np.ndarray]):
        """Each image's maps (arrays of length 1), its map features ``(N, len(map_feature_names))``
        and, with ``corner_classifier``, its :func:`stemsim.classifiers.corners.corner_rows` (candidate
        corners, their features; else ``None``s)."""
        maps: list[dict[str, np.ndarray] | None] = [None] * len(images)
        parts: list[tuple | None] = [None] * len(images)
        by_shape: dict[tuple, list[int]] = {}
        for i, image in enumerate(images):
            by_shape.setdefault(np.shape(image)[:2], []).append(i)
        for index in by_shape.values():
            inputs = self.unet_inputs([images[i] for i in index])
            group = self._maps_of_inputs(inputs)
            for k, (i, part) in enumerate(zip(index, self.parts_of_maps(group, inputs))):
                parts[i], maps[i] = part, {key: value[k:k + 1] for key, value in group.items()}
        rows = finite_rows([part[0] for part in parts], len(self.map_feature_names))
        return maps, rows, [part[1] for part in parts]

    def parts_of_maps(self, maps: dict[str, np.ndarray], inputs: Sequence[np.ndarray] | None = None) -> list[tuple]:
        """:func:`_map_parts` of each image of a :func:`predict_maps` output (``inputs``: the
        images the maps were made from, which ``corner_patches`` needs)."""
        pixel = self.pixel_size_nm or 1.0
        if self.corner_patches and inputs is None:
            raise ValueError("corner_patches: the corner features need the images the maps were made from")
        items = [(maps["mask"][i], maps["thickness"][i], maps["vertices"][i], pixel, self.corner_classifier,
                  inputs[i] if self.corner_patches else None) for i in range(len(maps["mask"]))]
        if self.jobs > 1 and len(items) > 1:
            from joblib import Parallel, delayed

            return list(tracked(Parallel(n_jobs=self.jobs, return_as="generator")(
                delayed(_map_parts)(*item) for item in items), "map features", len(items)))
        return [_map_parts(*item) for item in tracked(items, "map features", len(items))]

    def with_corner_summary(self, rows: np.ndarray, corners: Sequence[Corners | None],
                            probabilities: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """Map features ``(N, F)`` → the model's features: with ``corner_classifier`` the
        :func:`~stemsim.classifiers.corners.corner_summary` of each image's expected cuts per candidate
        (``probabilities``, or the fitted corner classifier's on ``corners``, the
        :meth:`maps_and_parts` items) appended."""
        if not self.corner_classifier:
            return rows
        if probabilities is None:
            probabilities = expected_cuts(self.corner_estimator, [c.features for c in corners])
        summary = np.array([corner_summary(c, p) for c, p in zip(corners, probabilities)])
        summary = summary.reshape(len(rows), len(CORNER_SUMMARY_NAMES))
        return np.hstack([rows, summary])

    def pooled_probabilities(self, objects: Sequence[np.ndarray], fusion: str = "features",
                             view_indices: Sequence[int] | None = None) -> np.ndarray:
        """Prepared objects ``(V, h, w, c)`` (any V each) → ``(N, C)`` probabilities of the
        view-pooling classifier (``features``: :func:`stemsim.classifiers.views.pool_view_features`) or
        of the tilt-series one (``backprojection``: those + :func:`tilt_object_features`).
        ``view_indices``: the views' positions in the training tilt series, the same for every
        object (default: the first V)."""
        if fusion == "backprojection":
            if self.tilt_estimator is None:
                raise InputError(f"--fusion backprojection: this two_stage run has no back-projection "
                                 f"classifier ({TILT_MODEL_FILE} is made only by training on a tilt series)")
            for obj in objects:
                self.check_tilt_views(len(obj), view_indices)
        elif self.views_estimator is None:
            raise InputError(f"--fusion features: this two_stage run has no view-pooling classifier "
                             f"({VIEWS_MODEL_FILE} is made only by training on multi-view data)")
        maps, per_view = self.maps_and_features([view for obj in objects for view in obj])
        bounds = np.cumsum([0] + [len(obj) for obj in objects])
        rows = [pool_view_features(per_view[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
        if fusion == "features":
            return self._probabilities_of(self.views_estimator, np.array(rows))
        rows = [np.concatenate([row, self.tilt_object_features(maps[a:b], view_indices)])
                for row, a, b in zip(rows, bounds[:-1], bounds[1:])]
        return self._probabilities_of(self.tilt_estimator, np.array(rows))

    def check_tilt_views(self, count: int, view_indices: Sequence[int] | None = None) -> None:
        """InputError unless ``count`` views (at positions ``view_indices``, default the first
        ``count``) are views of the training tilt series."""
        series = len(self.tilt_series.angles)
        if view_indices is None and count > series:
            raise InputError(f"--fusion backprojection: an object has {count} views; the run's tilt series "
                             f"({self.tilt_series.describe()}) has only {series}")
        if view_indices is not None and max(view_indices) >= series:
            raise InputError(f"--fusion backprojection: view {max(view_indices)} is not in the run's tilt series "
                             f"({self.tilt_series.describe()}: views 0–{series - 1})")

    def tilt_object_features(self, maps: Sequence[dict[str, np.ndarray]],
                             view_indices: Sequence[int] | None = None) -> np.ndarray:
        """The maps of one object's views (:meth:`maps_and_features` items, in view order) at
        positions ``view_indices`` of the training tilt series (default: the first ones) →
        :func:`stemsim.classifiers.tomography.tilt_features` at those views' angles."""
        heat = np.concatenate([m["vertices"] for m in maps])
        thickness = np.concatenate([m["thickness"] for m in maps])
        index = np.arange(len(maps)) if view_indices is None else np.asarray(view_indices, int)
        return tilt_features(heat, thickness, self.tilt_series.projections()[index], self.pixel_size_nm or 1.0)

    def save(self, path: Path) -> None:
        super().save(path)
        self.unet.save(Path(path).parent / UNET_FILE)
        if self.views_estimator is not None:
            write_estimator_file(Path(path).parent / VIEWS_MODEL_FILE, self.views_estimator,
                                 pooled_feature_names(self.feature_names))
        if self.tilt_estimator is not None:
            write_estimator_file(Path(path).parent / TILT_MODEL_FILE, self.tilt_estimator, self.tilt_feature_names(),
                                 tilt_axis=list(self.tilt_series.axis), tilt_angles=list(self.tilt_series.angles))
        if self.corner_estimator is not None:
            write_estimator_file(Path(path).parent / CORNER_MODEL_FILE, self.corner_estimator,
                                 self.corner_feature_names)

    def tilt_feature_names(self) -> list[str]:
        return pooled_feature_names(self.feature_names) + list(TILT_FEATURE_NAMES)

    @classmethod
    def load(cls, path: Path, symmetric_maps: bool = False, corner_classifier: bool = False,
             corner_patches: bool = False) -> "TwoStageModel":
        """``model.skops`` + ``unet.keras`` (+ ``views_model.skops``, ``backprojection_model.skops``
        when there are; + ``corner_model.skops`` with ``corner_classifier``) beside it;
        InputError (one line) if one is missing or unreadable. ``symmetric_maps``,
        ``corner_classifier``, ``corner_patches``: the run's keys of those names."""
        model = super().load(path, cls.map_feature_names + (CORNER_SUMMARY_NAMES if corner_classifier else ()))
        model.symmetric_maps, model.corner_classifier = symmetric_maps, corner_classifier
        model.corner_patches = corner_patches
        model.unet = load_keras_model(Path(path).parent / UNET_FILE, "stage-1 network file")
        if corner_classifier:
            model.corner_estimator = read_estimator_file(Path(path).parent / CORNER_MODEL_FILE,
                                                         model.corner_feature_names,
                                                         what="corner classifier")["estimator"]
        views_file = Path(path).parent / VIEWS_MODEL_FILE
        if views_file.is_file():  # made only by training on multi-view data
            model.views_estimator = read_estimator_file(views_file, pooled_feature_names(model.feature_names),
                                                        what="view-pooling classifier")["estimator"]
        tilt_file = Path(path).parent / TILT_MODEL_FILE
        if tilt_file.is_file():  # made only by training on a tilt series
            data = read_estimator_file(tilt_file, model.tilt_feature_names(), ("tilt_axis", "tilt_angles"),
                                       what="back-projection classifier")
            model.tilt_estimator = data["estimator"]
            model.tilt_series = TiltSeries(tuple(data["tilt_axis"]), tuple(data["tilt_angles"]))
        return model


def train_two_stage(cfg: dict[str, Any], dataset: Dataset, pre: Preprocessing, tmp: Path,
                    weights: np.ndarray | None, verbose: int = 0) -> dict[str, Any]:
    """Fit both stages of experiment ``cfg`` (module doc) into ``tmp``; returns what
    :func:`stemsim.classifiers.training.train` records."""
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
    val_scores = map_metrics(predict_maps(unet, val_maps.images, symmetric=m["unet_tta"]), val_maps)
    pixel, reference, source = calibration(cfg, dataset)
    estimator = build_model("geometric", (None, None, 1), len(dataset.classes), "softmax", m, seed=cfg["seed"])
    model = TwoStageModel(estimator, dataset.classes, pixel, reference, m["classifier"], m["jobs"], unet,
                          symmetric_maps=m["unet_tta"], corner_classifier=m["corner_classifier"],
                          corner_patches=m["corner_patches"])
    if model.corner_classifier:
        features, corner_scores = fit_corners(model, cfg, dataset, root)
    else:
        features = train_val_features(model, dataset)
    views = int(dataset.info.get("views", 1))
    if views > 1:  # fit before the per-view fit sets the all-missing feature columns to 0
        view_scores, tilt_scores = fit_views_model(model, cfg, dataset, features[0], features[1], views, weights,
                                                   TiltSeries.of_dataset(root))
    result = fit_feature_model(model, cfg, dataset, tmp, weights, verbose, model.calibration_info(source), features)
    write_json(tmp / UNET_HISTORY, unet_history)
    result.update(
        pipeline="two_stage",
        weights="none: U-Net trained here on the dataset's ground-truth maps, then scikit-learn "
                f"{m['classifier']} on map features"
                + (" and per-corner decisions" if model.corner_classifier else "")
                + (" (with image patches)" if model.corner_patches else "")
                + (", each counting the cut vertices it stands for" if m["corner_target"] == "count" else ""),
        parameters={"unet": int(unet.count_params()), "stage2": result["parameters"]},
        maps={"val": val_scores, "unet_images": len(train_maps), "unet_seconds": round(unet_seconds, 1),
              "unet_epochs_run": len(unet_history), "files": [UNET_FILE, UNET_HISTORY]},
    )
    if model.corner_classifier:
        result["corners"] = corner_scores
    if views > 1:
        result["view_features"] = view_scores
        if tilt_scores is not None:
            result["backprojection"] = tilt_scores
    return result


def fit_corners(model: TwoStageModel, cfg: dict[str, Any], dataset: Dataset,
                root: Path) -> tuple[tuple[np.ndarray, np.ndarray, float], dict[str, Any]]:
    """Fit ``model.corner_estimator`` on the candidate corners of every training image, whose
    truth (``model.corner_target``) comes from the dataset's ground truth at ``root``; returns
    the train and validation features with the corner summary (out-of-fold on the train split,
    :mod:`stemsim.classifiers.corners`) and the seconds they took, as
    :func:`~stemsim.classifiers.geometric.train_val_features` does, and what ``run.json`` ``corners``
    records: the corner classifier's scores on the validation images' candidates (its answer is
    its expected cuts rounded; "cut" is an answer of one or more)."""
    started = time.time()
    target = cfg["model"]["corner_target"]
    tr, va = dataset.split("train"), dataset.split("val")
    _, x_train, train_corners = model.maps_and_parts(tr.images)
    _, x_val, val_corners = model.maps_and_parts(va.images)
    train_truth = _corner_truth(root, "train", tr, train_corners, target)
    val_truth = _corner_truth(root, "val", va, val_corners, target)
    objects = np.unique([object_of(ident) for ident in tr.ids], return_inverse=True)[1]
    model.corner_estimator, held_out = fit_corner_classifier([c.features for c in train_corners], train_truth,
                                                             objects, cfg["seed"], model.jobs, target)
    val_expected = expected_cuts(model.corner_estimator, [c.features for c in val_corners])
    x_train = model.with_corner_summary(x_train, train_corners, held_out)
    x_val = model.with_corner_summary(x_val, val_corners, val_expected)
    answers, truth = np.round(np.concatenate(val_expected)), np.concatenate(val_truth)
    decided, cut = answers >= 1, truth >= 1
    scores = {"file": CORNER_MODEL_FILE, "target": target,
              "train_candidates": int(sum(len(t) for t in train_truth)), "val_candidates": int(len(truth)),
              "val_accuracy": round(float(np.mean(answers == truth)), 4) if len(truth) else None,
              "val_precision": round(float(cut[decided].mean()), 4) if decided.any() else None,
              "val_recall": round(float(decided[cut].mean()), 4) if cut.any() else None,
              "val_images_all_right": round(float(np.mean([np.array_equal(np.round(e), t)
                                                           for e, t in zip(val_expected, val_truth)])), 4)}
    return (x_train, x_val, time.time() - started), scores


def _corner_truth(root: Path, split: str, items, corners: Sequence[Corners], target: str) -> list[np.ndarray]:
    """:func:`stemsim.classifiers.corners.corner_truth` (``target``) of each image of dataset split
    ``items`` (ids matched to the ground truth of the npz shards at ``root``)."""
    ids, sites = load_sites(root, split)
    where = {ident: i for i, ident in enumerate(ids)}
    missing = [ident for ident in items.ids if ident not in where]
    if missing:
        raise InputError(f"{root}: the {split} split's npz shards hold no ground truth for image {missing[0]}")
    return [corner_truth(c.peaks, sites[where[ident]], np.shape(image)[:2], target)
            for ident, image, c in zip(items.ids, items.images, corners)]


def _map_parts(mask: np.ndarray, thickness: np.ndarray, heat: np.ndarray, pixel: float,
               corners: bool, image: np.ndarray | None = None) -> tuple[np.ndarray, Corners | None]:
    """One image's maps → its :func:`~stemsim.classifiers.pixelwise.map_features` and, with ``corners``,
    its :func:`~stemsim.classifiers.corners.corner_rows` (with the patches of ``image`` when given; else None)."""
    return (map_features(mask, thickness, heat, pixel),
            corner_rows(mask, thickness, heat, image) if corners else None)


def fit_views_model(model: TwoStageModel, cfg: dict[str, Any], dataset: Dataset, x_train: np.ndarray,
                    x_val: np.ndarray, views: int, weights: np.ndarray | None,
                    tilt: TiltSeries | None = None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fit ``model.views_estimator`` on the view-pooled features of every training object's
    :func:`~stemsim.classifiers.views.view_subsets` (per-view features ``x_train`` of the single-view
    form of a ``views``-view dataset: each object's views in a row), and on a tilt series
    ``tilt`` also ``model.tilt_estimator`` on the same subsets' pooled + back-projected
    features. Returns what ``run.json`` records of each (``view_features``, ``backprojection``;
    None without ``tilt``): the rows learnt from, and validation accuracy with the first K
    views of every object."""
    rng = np.random.default_rng(np.random.SeedSequence([cfg["seed"], views]))
    tr, va = dataset.split("train"), dataset.split("val")
    per_object = x_train.reshape(-1, views, x_train.shape[1])
    labels = tr.targets.argmax(axis=1)[::views]
    subsets = [view_subsets(views, rng) for _ in range(len(per_object))]
    pooled = [pool_view_features(features[index]) for features, chosen in zip(per_object, subsets)
              for index in chosen]
    targets = np.repeat(labels, len(subsets[0]))
    row_weights = None if weights is None else np.repeat(weights[::views], len(subsets[0]))
    val_objects = x_val.reshape(-1, views, x_val.shape[1])
    val_labels = va.targets.argmax(axis=1)[::views]
    counts = curve_counts(views)

    def fit(x: np.ndarray):
        estimator = build_model("geometric", (None, None, 1), len(dataset.classes), "softmax", cfg["model"],
                                seed=cfg["seed"])
        fit_estimator(estimator, model.classifier, x, targets, row_weights, model.jobs)
        return estimator

    def scores(estimator, file: str, x: np.ndarray, val_rows) -> dict[str, Any]:
        accuracy = {str(k): round(float(np.mean(model._probabilities_of(estimator, rows).argmax(1) == val_labels)), 4)
                    for k, rows in zip(counts, val_rows)}
        return {"file": file, "rows": len(x), "subsets": "first K and a random K of the views, K = 1…V",
                "features": x.shape[1], "val_accuracy_by_first_views": accuracy}

    x = np.array(pooled)
    model.views_estimator = fit(x)
    val_pooled = [np.array([pool_view_features(features[:k]) for features in val_objects]) for k in counts]
    view_scores = scores(model.views_estimator, VIEWS_MODEL_FILE, x, val_pooled)
    if tilt is None:
        return view_scores, None
    model.tilt_series = tilt
    x = np.hstack([np.array(pooled), tilt_rows(model, tr.images, views, subsets)])
    model.tilt_estimator = fit(x)
    val_tilt = tilt_rows(model, va.images, views, [[np.arange(k) for k in counts]] * len(val_objects))
    val_tilt = [np.hstack([rows, val_tilt[i::len(counts)]]) for i, rows in enumerate(val_pooled)]
    tilt_scores = scores(model.tilt_estimator, TILT_MODEL_FILE, x, val_tilt)
    return view_scores, {**tilt_scores, "tilt_series": {"axis": list(tilt.axis), "angles": list(tilt.angles)}}


def tilt_rows(model: TwoStageModel, images: Sequence[np.ndarray], views: int,
              subsets: Sequence[Sequence[np.ndarray]]) -> np.ndarray:
    """:func:`~stemsim.classifiers.tomography.tilt_features` of view subsets. ``images``: the views of
    every object in a row, ``views`` per object (the whole tilt series); ``subsets[i]`` lists
    index arrays into object ``i``'s views → one row per subset, objects in order. Maps are
    made for :data:`OBJECT_CHUNK` objects at once."""
    projections = model.tilt_series.projections()
    pixel = model.pixel_size_nm or 1.0
    rows = []
    for start in range(0, len(subsets), OBJECT_CHUNK):
        chunk = range(start, min(start + OBJECT_CHUNK, len(subsets)))
        maps = model.maps(images[start * views:chunk[-1] * views + views])
        for j, i in enumerate(chunk):
            for index in subsets[i]:
                chosen = j * views + np.asarray(index)
                rows.append(tilt_features(maps["vertices"][chosen], maps["thickness"][chosen], projections[index],
                                          pixel))
    return np.array(rows).reshape(-1, len(TILT_FEATURE_NAMES))


def evaluate_maps(model: TwoStageModel, root: str | Path, split: str, limit: int | None = None) -> dict[str, Any]:
    """Score ``model``'s stage-1 maps on ``split`` of the stemsim dataset at ``root``
    (:func:`stemsim.classifiers.pixelwise.map_metrics`)."""
    data = load_maps(root, split, limit)
    return map_metrics(model.maps(list(data.images)), data)


__all__ = ["TwoStageModel", "train_two_stage", "fit_corners", "fit_views_model", "tilt_rows", "evaluate_maps",
           "MODEL_FILE", "UNET_FILE", "VIEWS_MODEL_FILE", "TILT_MODEL_FILE", "CORNER_MODEL_FILE"]
