"""Registry of the classifier architectures: one builder function per architecture.

Every builder has the Keras-applications signature
``builder(input_shape, n_outputs, output_activation=..., **options) -> keras.Model``
and returns an UNCOMPILED model. This module itself imports no Keras (the builders are
imported on first use), so experiment files are checked without loading TensorFlow.

| name | builder | default input (pixels × channels) | normalise |
|---|---|---|---|
| deepdog | `stemsim.classifiers.models.stm.deepdog` | 128×128×1 | none |
| vgg_like | `stemsim.classifiers.models.stm.vgg_like` | 128×128×1 | none |
| rashidi_wolkow | `stemsim.classifiers.models.stm.rashidi_wolkow` | 128×128×1 | none |
| family | `stemsim.classifiers.models.family.family` | member's | member's |
| convnet | `stemsim.classifiers.models.afm.convnet` | 224×224×3 | imagenet |
| resnet18 | `stemsim.classifiers.models.afm.resnet18` | 224×224×3 | imagenet |
| featurenet | `stemsim.classifiers.models.afm.featurenet` | 224×224×3 | imagenet |
| finenet | `stemsim.classifiers.models.afm.finenet` | 224×224×3 | imagenet |
| inception_v3 | `stemsim.classifiers.models.inception.inception_v3` | 299×299×3 | inception |
| stemnet | `stemsim.classifiers.models.stem.stemnet` | 128×128×1 | standardize |
| multiview | `stemsim.classifiers.models.multiview.multiview` | 128×128×1 | standardize |
| geometric | `stemsim.classifiers.geometric.geometric` | native | none |
| two_stage | `stemsim.classifiers.geometric.geometric` (stage 2) | native | none |
| texture | `stemsim.classifiers.texture.texture` | 128×128×1 | none |

``multiview`` takes whole objects, ``(B, V, H, W, C)`` (V views, any number); every other
architecture takes single images ``(B, H, W, C)`` and meets multi-view data through late
fusion (``stemsim.classifiers.views``).

``geometric`` is no network: hand-crafted features (``stemsim.classifiers.features``) and a
scikit-learn classifier, trained by ``stemsim.classifiers.geometric.train_geometric`` (its
builder returns the unfitted scikit-learn estimator; the run holds ``model.skops``).
``two_stage`` adds a U-Net (``stemsim.classifiers.models.unet``) before it, trained on the
dataset's ground-truth maps by ``stemsim.classifiers.two_stage.train_two_stage``. ``texture`` is
no network either: texture features of scanning-probe images
(``stemsim.classifiers.texture_features``) and gradient boosting, one binary classifier per
category on multi-label data (``stemsim.classifiers.texture.train_texture``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from stemsim.classifiers.corners import CORNER_TARGETS
from stemsim.schema import REQUIRED, Key, boolean, choice, existing_path, fail, integer, new_path, number, optional


def _weights_check(*, imagenet: bool) -> Callable[[str, Any], str]:
    """``none`` (asked for explicitly), ``imagenet`` (if the source offers it) or a weights file."""
    words = ("none", "imagenet") if imagenet else ("none",)
    file_check = existing_path("any")

    def check(path: str, value: Any) -> str:
        if isinstance(value, str) and value.lower() in words:
            return value.lower()
        if not isinstance(value, str):
            fail(path, f"expected {' or '.join(words)} or the path of a weights file, got {value!r}")
        return file_check(path, value)

    return check


def _odd_group(path: str, value: Any) -> int:
    value = integer(1, 99)(path, value)
    if value % 2 == 0:
        fail(path, f"must be odd so that a majority vote never ties, got {value}")
    return value


@dataclass(frozen=True)
class ModelSpec:
    """What the training code needs to know about one architecture."""

    name: str
    target: str  # "module:function" of the builder
    input_size: int  # default square input side, pixels
    channels: int  # default input channels
    normalize: str  # default intensity normalisation (see stemsim.classifiers.preprocessing)
    optimizer: dict[str, Any]  # the prior work's optimiser, used when the experiment gives none
    options: dict[str, Key] = field(default_factory=dict)
    build_options: tuple[str, ...] = ()  # option names passed on to the builder
    summary: str = ""

    def builder(self) -> Callable[..., Any]:
        module, function = self.target.split(":")
        return getattr(importlib.import_module(module), function)


_RMSPROP = {"name": "rmsprop", "learning_rate": 1e-3, "momentum": 0.0, "nesterov": False}
_SGD_NESTEROV = {"name": "sgd", "learning_rate": 1e-2, "momentum": 0.9, "nesterov": True}
_ADAM_SLOW = {"name": "adam", "learning_rate": 1e-4, "momentum": 0.0, "nesterov": False}
_SGD_TORCH = {"name": "sgd", "learning_rate": 1e-3, "momentum": 0.9, "nesterov": False}
_ADAM = {"name": "adam", "learning_rate": 1e-3, "momentum": 0.0, "nesterov": False}
_SGD_RETRAIN = {"name": "sgd", "learning_rate": 1e-2, "momentum": 0.0, "nesterov": False}
_NO_OPTIMIZER: dict[str, Any] = {}  # geometric: scikit-learn fits without a Keras optimiser

_RESNET_WEIGHTS_DOC = ("ResNet-18 ImageNet weights: a .npz of torchvision's resnet18 state_dict "
                       "or a .weights.h5 saved from stemsim.classifiers.models.afm.resnet18; 'none' = random init")

_GEOMETRIC_OPTIONS: dict[str, Key] = {
    "classifier": Key("gbm", choice("gbm", "logistic"),
                      "gbm (HistGradientBoostingClassifier) or logistic (LogisticRegression)"),
    "iterations": Key(200, integer(1, 10000), "gbm: boosting iterations (no early stopping)"),
    "learning_rate": Key(0.1, number(0.0, 1.0, low_open=True), "gbm: shrinkage"),
    "max_leaf_nodes": Key(15, integer(2, 4096), "gbm: leaves per tree"),
    "min_samples_leaf": Key(20, integer(1), "gbm: training images per leaf at least "
                            "(lower it for small training sets)"),
    "l2_regularization": Key(0.0, number(0.0), "gbm: L2 penalty of the leaf values"),
    "C": Key(1.0, number(0.0, low_open=True), "logistic: inverse regularisation strength"),
    "pixel_size": Key(None, optional(number(0.0, low_open=True)),
                      "nm per pixel (null: a stemsim dataset's spec.yaml image.pixel_size, else lengths in pixels)"),
    "jobs": Key(1, integer(1, 256), "processes computing the features, threads of the fit"),
}
_GEOMETRIC_BUILD_OPTIONS = ("classifier", "iterations", "learning_rate", "max_leaf_nodes", "min_samples_leaf",
                            "l2_regularization", "C")

_TEXTURE_DEFAULTS = {"iterations": 300, "learning_rate": 0.03, "max_leaf_nodes": 15, "min_samples_leaf": 20,
                     "l2_regularization": 1.0, "jobs": 1}  # chosen on the STM set's validation split
_TEXTURE_OPTIONS: dict[str, Key] = {name: replace(_GEOMETRIC_OPTIONS[name], default=value)
                                    for name, value in _TEXTURE_DEFAULTS.items()}

MEMBER_NAMES = ("deepdog", "vgg_like", "rashidi_wolkow", "stemnet", "convnet", "resnet18", "featurenet", "finenet")

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec("deepdog", "stemsim.classifiers.models.stm:deepdog", 128, 1, "none", _RMSPROP,
                  {"dropout": Key(0.0, number(0.0, 1.0, high_open=True), "dropout before the output layer"),
                   "batchnorm_momentum": Key(0.99, number(0.0, 1.0, high_open=True),
                                             "momentum of the BatchNormalization moving statistics")},
                  ("dropout", "batchnorm_momentum"), "DeepDog: separable-conv network of the STM tip-state work"),
        ModelSpec("vgg_like", "stemsim.classifiers.models.stm:vgg_like", 128, 1, "none", _SGD_NESTEROV,
                  summary="VGG-like: 2×(2 conv + max-pool + dropout), dense 256"),
        ModelSpec("rashidi_wolkow", "stemsim.classifiers.models.stm:rashidi_wolkow", 128, 1, "none", _ADAM_SLOW,
                  summary="Rashidi–Wolkow CNN: conv 30 5×5, conv 40 5×5, max-pool, dense 128"),
        ModelSpec("convnet", "stemsim.classifiers.models.afm:convnet", 224, 3, "imagenet", _SGD_TORCH,
                  summary="ConvNet (LeNet-like) of the AFM good/bad work"),
        ModelSpec("resnet18", "stemsim.classifiers.models.afm:resnet18", 224, 3, "imagenet", _SGD_TORCH,
                  {"weights": Key("none", _weights_check(imagenet=False), _RESNET_WEIGHTS_DOC)},
                  ("weights",), "ResNet-18 trained end to end (random init unless weights given)"),
        ModelSpec("featurenet", "stemsim.classifiers.models.afm:featurenet", 224, 3, "imagenet", _SGD_TORCH,
                  {"weights": Key(REQUIRED, _weights_check(imagenet=False), _RESNET_WEIGHTS_DOC)},
                  ("weights",), "FeatureNet: frozen ResNet-18 feature extractor + new dense head"),
        ModelSpec("finenet", "stemsim.classifiers.models.afm:finenet", 224, 3, "imagenet", _SGD_TORCH,
                  {"weights": Key(REQUIRED, _weights_check(imagenet=False), _RESNET_WEIGHTS_DOC)},
                  ("weights",), "FineNet: ResNet-18 fully fine-tuned with a new dense head"),
        ModelSpec("stemnet", "stemsim.classifiers.models.stem:stemnet", 128, 1, "standardize", _ADAM,
                  {"width": Key(16, integer(4, 256), "filters of the first stage (doubling per stage up to 8×)"),
                   "dropout": Key(0.3, number(0.0, 1.0, high_open=True), "dropout before the output layer")},
                  ("width", "dropout"),
                  "STEMNet: BN conv stages, global average+max pooling (this project's STEM baseline)"),
        ModelSpec("multiview", "stemsim.classifiers.models.multiview:multiview", 128, 1, "standardize", _ADAM,
                  {"backbone": Key("stemnet", choice("stemnet"), "shared per-view backbone"),
                   "width": Key(16, integer(4, 256), "filters of the backbone's first stage"),
                   "pooling": Key("max", choice("max", "mean"), "pooling of the view features over the views"),
                   "dropout": Key(0.3, number(0.0, 1.0, high_open=True), "dropout before the output layer"),
                   "train_views": Key(None, optional(integer(1)),
                                      "views per object in each training batch, a random subset (null: all)")},
                  ("backbone", "width", "pooling", "dropout"),
                  "Multi-view CNN: shared backbone over every view, max/mean view pooling, dense head"),
        ModelSpec("family", "stemsim.classifiers.models.family:family", 0, 0, "", {},
                  {"member": Key("deepdog", choice(*MEMBER_NAMES), "architecture of every member"),
                   "group_size": Key(3, _odd_group, "members per category (odd)"),
                   "member_options": Key({}, lambda p, v: v, "options of the member architecture"),
                   "members_learn": Key("one", choice("one", "all"),
                                        "one: each member one category, one-vs-rest (the prior's); all: each "
                                        "member every category, the same group_size members voting on each")},
                  ("member", "group_size", "member_options", "members_learn"),
                  "Majority-polling family: group_size one-vs-rest binary members per category"),
        ModelSpec("inception_v3", "stemsim.classifiers.models.inception:inception_v3", 299, 3, "inception",
                  _SGD_RETRAIN,
                  {"extractor": Key("keras", lambda p, v: v if v == "keras" else _handle(p, v),
                                    "'keras' (keras.applications) or a TF-Hub handle / SavedModel dir"),
                   "weights": Key("imagenet", _weights_check(imagenet=True),
                                  "keras extractor only: imagenet, a weights .h5 file, or none"),
                   "dropout": Key(0.0, number(0.0, 1.0, high_open=True), "dropout before the new head"),
                   "fine_tune_blocks": Key(0, integer(0, 11), "top 'mixed' blocks to fine-tune (keras only)"),
                   "fine_tune_epochs": Key(5, integer(1), "epochs of the fine-tuning stage"),
                   "fine_tune_learning_rate": Key(1e-4, number(0.0, low_open=True),
                                                  "learning rate of the fine-tuning stage"),
                   "cache_dir": Key(None, optional(new_path), "bottleneck cache (default ~/.cache/stemsim)"),
                   "feature_batch_size": Key(32, integer(1), "images per extractor call")},
                  ("weights", "fine_tune_blocks", "dropout"),
                  "Inception-v3 transfer learning: cached bottlenecks + new dense head"),
        ModelSpec("geometric", "stemsim.classifiers.geometric:geometric", 2048, 1, "none", _NO_OPTIMIZER,
                  _GEOMETRIC_OPTIONS, _GEOMETRIC_BUILD_OPTIONS,
                  "Geometric features (outline polygon, corners, hull defects, thickness) + scikit-learn, "
                  "no deep learning"),
        ModelSpec("two_stage", "stemsim.classifiers.geometric:geometric", 2048, 1, "none", _NO_OPTIMIZER,
                  {**_GEOMETRIC_OPTIONS,
                   "unet_width": Key(8, integer(4, 128), "U-Net filters at full resolution (doubling per level)"),
                   "unet_depth": Key(3, integer(1, 6), "U-Net 2× poolings (image sides: multiples of 2^depth)"),
                   "unet_epochs": Key(10, integer(1, 1000), "U-Net training epochs (best val_loss kept)"),
                   "unet_batch_size": Key(16, integer(1, 4096), "U-Net images per batch"),
                   "unet_learning_rate": Key(2e-3, number(0.0, low_open=True), "U-Net Adam learning rate"),
                   "unet_images": Key(2000, optional(integer(1)), "U-Net training images, the first of the "
                                      "train split (null: all)"),
                   "unet_val_images": Key(300, optional(integer(1)), "U-Net validation images (null: all)"),
                   "unet_tta": Key(False, boolean, "average the maps over each image's 8 rotations and "
                                   "mirror images (test-time augmentation: 8 U-Net passes)"),
                   "corner_classifier": Key(False, boolean, "decide for each vertex peak whether that corner "
                                            "is cut (stemsim.classifiers.corners) and give stage 2 the summed-up "
                                            "corner probabilities"),
                   "corner_patches": Key(False, boolean, "corner_classifier: also read the image, the thickness and "
                                         "the deformed heat on a grid around each corner, turned to point from "
                                         "the particle's centre out through it"),
                   "corner_target": Key("near", choice(*CORNER_TARGETS), "corner_classifier: what it learns of "
                                        "each peak: near, is a cut vertex within 3 px; count, how many cut "
                                        "vertices it stands for (0-2; paired within 6 px)")},
                  _GEOMETRIC_BUILD_OPTIONS,
                  "Two-stage: U-Net maps (mask, thickness nm, vertex heat-maps) from the ground truth, "
                  "then gradient boosting on map features"),
        ModelSpec("texture", "stemsim.classifiers.texture:texture", 128, 1, "none", _NO_OPTIMIZER, _TEXTURE_OPTIONS,
                  tuple(name for name in _TEXTURE_DEFAULTS if name != "jobs"),
                  "Texture features of scanning-probe images (scan-line jumps, spectrum, blobs, LBP, GLCM) + "
                  "gradient boosting, one binary classifier per category on multi-label data; no deep learning"),
    )
}


def _handle(path: str, value: Any) -> str:
    """A TF-Hub handle (URL) or a local SavedModel directory."""
    from pathlib import Path

    if not isinstance(value, str) or not value.strip():
        fail(path, f"expected 'keras', a TF-Hub handle or a SavedModel directory, got {value!r}")
    if "://" in value:
        return value
    p = Path(value).expanduser()
    if not p.is_dir():
        fail(path, f"not 'keras', not a URL and no such SavedModel directory: {value}")
    if not (p / "saved_model.pb").is_file():
        fail(path, f"{value} holds no saved_model.pb (not a SavedModel directory)")
    return str(p.resolve())


def get_spec(name: str) -> ModelSpec:
    """The ``ModelSpec`` of architecture ``name``.

    Parameters
    ----------
    name : str
        A key of ``MODELS`` (an experiment's ``model.name``).

    Returns
    -------
    ModelSpec
        Its builder, default input size (pixels) and channels, normalisation, optimiser and options.

    Raises
    ------
    InputError
        Naming ``model.name``, for an unknown architecture.
    """
    if name not in MODELS:
        fail("model.name", f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return MODELS[name]


def build_model(architecture: str, input_shape: tuple[int, ...], n_outputs: int, output_activation: str,
                options: dict[str, Any] | None = None, **extra: Any):
    """Build the uncompiled model ``architecture`` with the builder options found in ``options``.

    Parameters
    ----------
    architecture : str
        A key of ``MODELS``.
    input_shape : tuple of int
        One image's ``(H, W, C)``, pixels and channels (for ``multiview``, one view's).
    n_outputs : int
        Units of the output layer (classes, or categories of a multi-label task).
    output_activation : str
        ``softmax`` (one class) or ``sigmoid`` (independent categories).
    options : dict, optional
        The experiment's ``model`` section; only the architecture's ``build_options`` are passed on.
    **extra
        Passed to the builder as is (e.g. ``name=``).

    Returns
    -------
    keras.Model or sklearn estimator
        Uncompiled: input ``(B, H, W, C)`` (``multiview``: ``(B, V, H, W, C)``), output
        ``(B, n_outputs)`` probabilities; ``geometric`` and ``texture`` give an unfitted
        scikit-learn estimator.
    """
    spec = get_spec(architecture)
    options = options or {}
    kwargs = {key: options[key] for key in spec.build_options if key in options}
    return spec.builder()(input_shape=tuple(input_shape), n_outputs=n_outputs,
                          output_activation=output_activation, **kwargs, **extra)
