"""The ``geometric`` baseline: hand-crafted features + scikit-learn, no deep learning.

Every image becomes the fixed feature vector :func:`stemsim.classifiers.features.image_features`
(:data:`~stemsim.classifiers.features.FEATURE_NAMES`: silhouette size and shape, outline polygon
and its corners, convex-hull defects, Hu moments, relative projected thickness), and a
scikit-learn classifier learns the labels from those vectors:

* ``model.classifier: gbm`` (default): :class:`sklearn.ensemble.HistGradientBoostingClassifier`
  (``iterations`` boosting rounds, ``learning_rate``, ``max_leaf_nodes``,
  ``min_samples_leaf`` — scikit-learn's 20 by default: lower it for training sets of less
  than a few hundred images, or the trees cannot split —, ``l2_regularization``; no early
  stopping; missing features — no particle found, fewer than two corners — are handled
  natively);
* ``model.classifier: logistic``: median imputation + standardisation +
  :class:`sklearn.linear_model.LogisticRegression` (``C``).

``random_state`` is the experiment's ``seed``. ``model.jobs`` (default 1) is the number of
processes computing features and of scikit-learn's OpenMP/BLAS threads in the fit;
prediction runs on one thread (its batches are small, and spare threads that spin on a busy
machine cost far more than they save). It trains through the ordinary paths
(``stemsim train`` / ``evaluate`` / ``predict``, :func:`stemsim.classifiers.training.train`),
so a bench lists it like any network: ``{model: {name: geometric}}``.

Which images, at which pixel size
    Features are computed from the **prepared** images (:meth:`Preprocessing.prepare`:
    intensities to [0, 1], gray), which keep the dataset's own resolution — the default
    ``preprocess.input_size`` of ``geometric`` is 2048, and only larger images are shrunk —
    so no resampling blurs the outline. The intensity features are scale-free (see
    :func:`stemsim.classifiers.features.thickness_descriptors`), so min–max scaled uint8/uint16
    images lose nothing they need; the volume entry is the relative volume ``volume_fill``,
    since the absolute calibration is gone from such images. Lengths are in nm with
    ``model.pixel_size`` (nm per pixel) or, when that is ``null``, the ``image.pixel_size``
    of a ``stemsim`` dataset's ``spec.yaml``; otherwise (folder data) in pixels. Like the
    networks, which resize every image to their input, the model takes any image to span the
    training images' field of view: an image ``w`` pixels wide gets the pixel size
    ``pixel_size · reference_width / w`` (``reference_width``: the spec's ``image.size``, or
    the training images' median width). ``evaluate --data`` on another dataset uses the
    run's calibration, not the other dataset's.

What is stored (``RUN_DIR/model.skops``, a plain dict in a skops file: :mod:`stemsim.classifiers.model_files`)
    ``estimator`` (the fitted scikit-learn object), ``classes``, ``feature_names``,
    ``pixel_size_nm``, ``reference_width``, ``length_unit``, ``classifier``, ``format``.
    Loading refuses a file whose feature names are not this version's
    :data:`~stemsim.classifiers.features.FEATURE_NAMES` (the features changed since training).

History
    ``history.json`` has one row per boosting iteration (gbm; from ``staged_predict_proba``)
    or one row (logistic): ``epoch``, ``loss`` and ``accuracy`` on the training split,
    ``val_loss`` and ``val_accuracy`` on the validation split (log-loss, unweighted). There is
    no early stopping: the final model is kept, and ``run.json`` ``best`` names its last row.

Ignored keys: ``augment`` (the features do not depend on flips and 90° turns, up to pixel
effects), ``training.*`` except ``class_weights`` (sample weights of the fit). Multi-label
data (``data.kind: stm``) is refused. Multi-view data: every view is an image of its own in
training, and the per-view probabilities are fused per object (``evaluation.fusion``), as
for every single-view model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from stemsim.classifiers.data import Dataset
from stemsim.classifiers.features import FEATURE_NAMES, image_features
from stemsim.classifiers.model_files import SUFFIX, read_estimator_file, write_estimator_file
from stemsim.classifiers.models import build_model
from stemsim.classifiers.preprocessing import Preprocessing
from stemsim.classifiers.progress import tracked
from stemsim.dataset.store import open_dataset
from stemsim.errors import InputError

MODEL_FILE = "model" + SUFFIX
CLASSIFIERS = {"gbm": "HistGradientBoostingClassifier", "logistic": "LogisticRegression"}


def geometric(input_shape: tuple[int, ...] = (None, None, 1), n_outputs: int = 2, output_activation: str = "softmax",
              classifier: str = "gbm", iterations: int = 200, learning_rate: float = 0.1, max_leaf_nodes: int = 15,
              min_samples_leaf: int = 20, l2_regularization: float = 0.0, C: float = 1.0, seed: int = 0):
    """The unfitted scikit-learn classifier of the ``geometric`` model (the registry's builder;
    ``input_shape`` / ``n_outputs`` / ``output_activation`` are accepted for the common
    signature and not needed: the classes come from the fit). Single-label only."""
    if output_activation != "softmax":
        raise InputError("model.name: geometric is a single-label classifier (no sigmoid / multi-label outputs)")
    if classifier == "gbm":
        from sklearn.ensemble import HistGradientBoostingClassifier

        return HistGradientBoostingClassifier(max_iter=iterations, learning_rate=learning_rate,
                                              max_leaf_nodes=max_leaf_nodes, min_samples_leaf=min_samples_leaf,
                                              l2_regularization=l2_regularization,
                                              early_stopping=False, random_state=seed)
    if classifier == "logistic":
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        return make_pipeline(SimpleImputer(strategy="median", keep_empty_features=True), StandardScaler(),
                             LogisticRegression(C=C, max_iter=5000, random_state=seed))
    raise InputError(f"model.classifier: expected gbm or logistic, got {classifier!r}")


def finite_rows(rows, width: int) -> np.ndarray:
    """Feature rows → float64 ``(N, width)`` with NaN for every non-finite value (missing to the fit)."""
    out = np.array(rows, np.float64).reshape(len(rows), width)
    return np.where(np.isfinite(out), out, np.nan)


def gray(image: np.ndarray) -> np.ndarray:
    x = np.asarray(image, np.float64)
    if x.ndim == 3:
        x = x[..., 0] if x.shape[2] == 1 else x.mean(axis=2)
    return x


class GeometricModel:
    """A fitted ``geometric`` model: features of prepared images → class probabilities."""

    feature_names: tuple[str, ...] = FEATURE_NAMES
    description = "geometric features"  # what run.json's weights text says the classifier learns from

    def __init__(self, estimator, classes: Sequence[str], pixel_size_nm: float | None, reference_width: float,
                 classifier: str = "gbm", jobs: int = 1):
        self.estimator = estimator
        self.classes = list(classes)
        self.pixel_size_nm = pixel_size_nm
        self.reference_width = float(reference_width)
        self.classifier = classifier
        self.jobs = jobs

    @property
    def length_unit(self) -> str:
        return "nm" if self.pixel_size_nm is not None else "pixel"

    def calibration_info(self, source: str) -> dict[str, Any]:
        """run.json's account of the lengths the features are in (``source``: where the pixel size came from)."""
        return {"length_unit": self.length_unit, "pixel_size_nm": self.pixel_size_nm,
                "reference_width_px": self.reference_width, "calibration": source}

    def pixel_size(self, width: int) -> float:
        """nm (or training-image pixels) per pixel of an image ``width`` pixels wide."""
        return (self.pixel_size_nm or 1.0) * self.reference_width / width

    def features(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Prepared images ``(h, w, c)`` (or ``(h, w)``) → features ``(N, len(FEATURE_NAMES))``."""
        grays = [gray(image) for image in images]
        pixels = [self.pixel_size(g.shape[1]) for g in grays]
        if self.jobs > 1 and len(grays) > 1:
            from joblib import Parallel, delayed

            rows = list(tracked(Parallel(n_jobs=self.jobs, return_as="generator")(
                delayed(image_features)(g, p) for g, p in zip(grays, pixels)), "geometric features", len(grays)))
        else:
            rows = [image_features(g, p) for g, p in tracked(zip(grays, pixels), "geometric features", len(grays))]
        return finite_rows(rows, len(FEATURE_NAMES))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Features → ``(N, C)`` float32 over ``classes`` (0 for a class absent from training)."""
        return self._probabilities_of(self.estimator, features)

    def _probabilities_of(self, estimator, features: np.ndarray) -> np.ndarray:
        from threadpoolctl import threadpool_limits

        out = np.zeros((len(features), len(self.classes)), np.float32)
        if len(features):
            with threadpool_limits(1):
                out[:, estimator.classes_] = estimator.predict_proba(features)
        return out

    def predict_proba(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Prepared images → ``(N, C)`` float32 class probabilities."""
        return self.probabilities(self.features(images))

    def staged_probabilities(self, features: np.ndarray):
        """Per boosting iteration (gbm), or once (logistic): ``(N, C)`` probabilities."""
        from threadpoolctl import threadpool_limits

        if not hasattr(self.estimator, "staged_predict_proba"):
            yield self.probabilities(features)
            return
        with threadpool_limits(1):
            stages = list(self.estimator.staged_predict_proba(features))
        for p in stages:
            out = np.zeros((len(features), len(self.classes)), np.float32)
            out[:, self.estimator.classes_] = p
            yield out

    def parameters(self) -> int | None:
        """Fitted numbers: tree nodes (gbm) or coefficients + intercepts (logistic)."""
        try:
            if self.classifier == "gbm":
                return tree_nodes(self.estimator)
            final = self.estimator[-1]
            return int(final.coef_.size + final.intercept_.size)
        except Exception:  # informative only (a private attribute of scikit-learn)
            return None

    def save(self, path: Path) -> None:
        write_estimator_file(path, self.estimator, self.feature_names, classes=self.classes,
                             pixel_size_nm=self.pixel_size_nm, reference_width=self.reference_width,
                             length_unit=self.length_unit, classifier=self.classifier)

    @classmethod
    def load(cls, path: Path, feature_names: Sequence[str] | None = None) -> "GeometricModel":
        """Read ``model.skops``; InputError (one line) if missing, unreadable or of other features
        than ``feature_names`` (default: the class's)."""
        data = read_estimator_file(path, feature_names or cls.feature_names,
                                   ("classes", "pixel_size_nm", "reference_width", "classifier"))
        return cls(data["estimator"], data["classes"], data["pixel_size_nm"], data["reference_width"],
                   data["classifier"])


def tree_nodes(estimator) -> int:
    """The nodes of a fitted gradient-boosting classifier's trees, summed over the members of
    one with a classifier per category (``estimators_``; constants count none). Read from a
    private attribute of scikit-learn: callers treat a failure as "unknown"."""
    members = getattr(estimator, "estimators_", None)
    if members is not None:
        return sum(tree_nodes(e) for e in members if not isinstance(e, float))
    return int(sum(len(p.nodes) for stage in estimator._predictors for p in stage))


# ---- training ------------------------------------------------------------------------


def calibration(cfg: dict[str, Any], dataset: Dataset) -> tuple[float | None, float, str]:
    """``(pixel_size_nm or None, reference_width, source)`` of the training data (module doc)."""
    pixel = cfg["model"]["pixel_size"]
    reference, source = None, "model.pixel_size" if pixel is not None else "none: lengths in pixels"
    store = open_dataset(cfg["data"]["path"])
    spec_file = store.spec_file
    if cfg["data"]["kind"] == "stemsim" and store.has_spec:
        try:
            spec_pixel, spec_size = store.pixel_size, store.image_size
        except InputError:
            raise InputError(f"{spec_file}: cannot read image.pixel_size and image.size") from None
        if pixel is None:
            pixel, source = spec_pixel, f"image.pixel_size of {spec_file}"
        reference = spec_size
    if reference is None:
        widths = [np.shape(im)[1] for im in dataset.split("train").images]
        reference = float(np.median(widths))
    return pixel, float(reference), source


def _curve_row(epoch: int, p_train, y_train, p_val, y_val) -> dict[str, Any]:
    """Log-loss and accuracy on both splits; ``y`` class indices ``(N,)``, or ``(N, C)`` 0/1
    targets of multi-label data (binary cross-entropy and per-label accuracy, as Keras's
    ``binary_accuracy``)."""
    def loss(p, y):
        if y.ndim == 2:
            p = np.clip(p, 1e-7, 1 - 1e-7)
            return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-7, 1.0))))

    def accuracy(p, y):
        return float(np.mean((p > 0.5) == (y > 0.5))) if y.ndim == 2 else float(np.mean(p.argmax(1) == y))

    return {"epoch": epoch, "loss": loss(p_train, y_train), "accuracy": accuracy(p_train, y_train),
            "val_loss": loss(p_val, y_val), "val_accuracy": accuracy(p_val, y_val)}


def train_geometric(cfg: dict[str, Any], dataset: Dataset, pre: Preprocessing, tmp: Path,
                    weights: np.ndarray | None, verbose: int = 0) -> dict[str, Any]:
    """Fit the ``geometric`` model of experiment ``cfg`` on ``dataset`` (single-view form) and
    save it to ``tmp / model.skops``; returns what :func:`stemsim.classifiers.training.train` records."""
    if dataset.multilabel:
        raise InputError("model.name: geometric is a single-label classifier; the data is multi-label")
    model_cfg = cfg["model"]
    pixel, reference, source = calibration(cfg, dataset)
    estimator = build_model("geometric", (None, None, 1), len(dataset.classes), "softmax", model_cfg,
                            seed=cfg["seed"])
    model = GeometricModel(estimator, dataset.classes, pixel, reference, model_cfg["classifier"], model_cfg["jobs"])
    return fit_feature_model(model, cfg, dataset, tmp, weights, verbose, model.calibration_info(source))


def train_val_features(model: GeometricModel, dataset: Dataset) -> tuple[np.ndarray, np.ndarray, float]:
    """``model``'s features of the train and validation splits, and the seconds they took."""
    started = time.time()
    x_train, x_val = model.features(dataset.split("train").images), model.features(dataset.split("val").images)
    return x_train, x_val, time.time() - started


def fit_estimator(estimator, classifier: str, x: np.ndarray, y: np.ndarray, weights: np.ndarray | None,
                  jobs: int) -> None:
    """Fit a :func:`geometric` estimator on features ``x`` (modified: a feature missing in every
    row, e.g. no second corner found anywhere, cannot be binned by scikit-learn; as a constant 0
    it is simply never split on)."""
    from threadpoolctl import threadpool_limits

    x[:, np.isnan(x).all(axis=0)] = 0.0
    with threadpool_limits(jobs):
        if classifier == "gbm":
            estimator.fit(x, y, sample_weight=weights)
        else:
            estimator.fit(x, y, logisticregression__sample_weight=weights)


def fit_feature_model(model: GeometricModel, cfg: dict[str, Any], dataset: Dataset, tmp: Path,
                      weights: np.ndarray | None, verbose: int, feature_info: dict[str, Any],
                      features: tuple[np.ndarray, np.ndarray, float] | None = None) -> dict[str, Any]:
    """Fit ``model``'s estimator on its features of the train split (``features``: those of
    :func:`train_val_features`, computed here when None), save it to ``tmp / model.skops``;
    returns what :func:`stemsim.classifiers.training.train` records, run.json's ``features`` being
    the names, ``feature_info`` and the seconds they took. Multi-label data: the estimator
    takes the ``(N, C)`` targets (the training split's soft targets where it has them)."""
    estimator = model.estimator
    tr, va = dataset.split("train"), dataset.split("val")
    x_train, x_val, feature_seconds = features if features is not None else train_val_features(model, dataset)
    if dataset.multilabel:
        y_train, y_val = tr.training_targets(), va.targets
    else:
        y_train, y_val = tr.targets.argmax(axis=1), va.targets.argmax(axis=1)
    fit_estimator(estimator, model.classifier, x_train, y_train, weights, model.jobs)
    history = [_curve_row(k + 1, p_train, y_train, p_val, y_val) for k, (p_train, p_val) in
               enumerate(zip(model.staged_probabilities(x_train), model.staged_probabilities(x_val)))]
    if verbose:
        last = history[-1]
        print(f"{cfg['model']['name']} ({model.classifier}): accuracy {last['accuracy']:.4f}, "
              f"val_accuracy {last['val_accuracy']:.4f}")
    model.save(tmp / MODEL_FILE)
    monitor = cfg["training"]["monitor"]
    return {
        "history": history,
        "pipeline": "geometric",
        "weights": f"none (scikit-learn {CLASSIFIERS[model.classifier]} on {model.description})",
        "model_file": MODEL_FILE,
        "parameters": model.parameters(),
        "best": {"monitor": monitor, "value": history[-1][monitor], "epoch": history[-1]["epoch"],
                 "kept": "final model (no early stopping)"},
        "features": {"names": list(model.feature_names), "count": len(model.feature_names), **feature_info,
                     "seconds": round(feature_seconds, 2)},
    }
