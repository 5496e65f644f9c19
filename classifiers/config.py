"""The experiment file of ``stemsim train``: its schema, defaults and checks.

:func:`load_experiment` reads a YAML file (or takes a dict) and returns the *resolved*
configuration: every key present, model-dependent defaults filled in, paths absolute.
The resolved configuration is what a run directory stores as ``config.yaml``; loading
that file again gives the same configuration. See the section "Experiment YAML" of docs/classifiers.md
for the annotated schema; :data:`SCHEMA` is the single source of truth.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from stemsim.classifiers.models import ModelSpec
from stemsim.classifiers.pipelines import get_pipeline
from stemsim.schema import (REQUIRED, Key, boolean, check_section, choice, existing_path, fail,
                                integer, number, optional, section, string_list)
from stemsim.classifiers.stm_data import STM_CATEGORIES  # noqa: F401  (data.categories; re-exported)
from stemsim.classifiers.views import FUSIONS
from stemsim.yamlio import read_yaml as _read_yaml

NORMALIZATIONS = ("auto", "none", "inception", "imagenet", "standardize")


def _class_weights(path: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and value.lower() in ("none", "balanced")):
        return "none" if value is None else value.lower()
    if isinstance(value, dict) and value:
        return {str(k): number(0.0, low_open=True)(f"{path}.{k}", v) for k, v in value.items()}
    fail(path, f"expected none, balanced or a mapping class → weight, got {value!r}")


DATA_COMMON = {
    "kind": Key(REQUIRED, choice("stemsim", "folder", "stm"),
                "stemsim (a `stemsim generate` dataset), folder (class folders) or stm (real STM set)"),
    "path": Key(REQUIRED, existing_path("dir"), "dataset directory (relative paths: from the current directory)"),
    "max_per_split": Key(None, optional(integer(1)), "keep at most this many images per split (quick runs)"),
}
_SPLIT_KEYS = {
    "val_fraction": Key(0.15, number(0.0, 0.9, low_open=True), "fraction of images for validation"),
    "test_fraction": Key(0.15, number(0.0, 0.9), "fraction of images for the test split"),
    "split_seed": Key(0, integer(0), "seed of the split (kept apart from `seed` so the split stays fixed)"),
}
DATA_KIND = {
    "stemsim": {"format": Key("auto", choice("auto", "arrays", "png"),
                              "arrays (npz shards) or png (class folders); auto prefers arrays")},
    "folder": dict(_SPLIT_KEYS),
    "stm": {
        "categories": Key(list(STM_CATEGORIES), string_list(STM_CATEGORIES), "categories to learn"),
        "threshold": Key(0.5, number(0.0, 1.0, high_open=True), "a category holds if its mean score > threshold"),
        "min_agreement": Key(0.0, number(0.0, 1.0), "drop images whose agreement is below this (published: 0.4)"),
        "min_height_fraction": Key(0.5, number(0.0, 1.0),
                                   "drop scans stopped early: orig_height < fraction × orig_width"),
        "targets": Key("binary", choice("binary", "score"),
                       "what training learns: binary (score > threshold) or score (the mean scores themselves)"),
        "weighting": Key("none", choice("none", "score"),
                         "score: training sample weights ∝ mean scores, balanced over categories"),
        "oversample_max_repeat": Key(1, integer(1, 100),
                                     "repeat training images of rare categories up to this many times (1 = off)"),
        "split_group": Key("image", choice("image", "series"),
                           "image: identical images stay together; series: also whole scan series (name up to _k)"),
        **_SPLIT_KEYS,
    },
}

PREPROCESS = {
    "input_size": Key(None, optional(integer(16, 2048)), "square network input side, pixels (model default)"),
    "color": Key("gray", choice("gray", "rgb"), "gray: one intensity channel (replicated for 3-channel nets)"),
    "crop_right": Key(0.0, number(0.0, 0.9), "fraction of the width cut off the right (AFM colour bar: 0.3)"),
    "resize_short": Key(None, optional(integer(16, 4096)),
                        "resize the short side to this, then crop input_size (random when augment.crop)"),
    "intensity": Key("auto", choice("auto", "dtype", "minmax"),
                     "to [0,1]: dtype (integers ÷ max of dtype) or minmax per image; auto: floats minmax"),
    "normalize": Key("auto", choice(*NORMALIZATIONS), "after [0,1]: none, inception ([-1,1]), imagenet, standardize"),
}

AUGMENT = {
    "hflip": Key(False, boolean, "random left-right flips"),
    "vflip": Key(False, boolean, "random up-down flips"),
    "rot90": Key(False, boolean, "random 90° rotations"),
    "crop": Key(False, boolean, "random input_size crops of the resize_short image (else centre crop)"),
}

OPTIMIZER = {
    "name": Key(None, optional(choice("sgd", "adam", "rmsprop")), "optimiser (default: the model's prior choice)"),
    "learning_rate": Key(None, optional(number(0.0, low_open=True)), "initial learning rate"),
    "momentum": Key(None, optional(number(0.0, 1.0, high_open=True)), "momentum (sgd, rmsprop)"),
    "nesterov": Key(None, optional(boolean), "Nesterov momentum (sgd)"),
}
SCHEDULE = {
    "kind": Key("none", choice("none", "step", "plateau"), "learning-rate schedule"),
    "every": Key(10, integer(1), "step: multiply by factor every this many epochs"),
    "factor": Key(0.1, number(0.0, 1.0, low_open=True, high_open=True), "multiplier of the learning rate"),
    "patience": Key(3, integer(0), "plateau: epochs without improvement before reducing"),
    "min_lr": Key(0.0, number(0.0), "plateau: lower bound of the learning rate"),
}
EARLY_STOPPING = {
    "patience": Key(None, optional(integer(1)), "stop after this many epochs without improvement (null: off)"),
    "min_delta": Key(0.0, number(0.0), "smallest change that counts as an improvement"),
}
TRAINING = {
    "epochs": Key(20, integer(1, 100000), "training epochs"),
    "batch_size": Key(32, integer(1, 65536), "images per batch (multiview model: objects per batch)"),
    "loss": Key("auto", choice("auto", "binary_crossentropy", "categorical_crossentropy"),
                "auto: binary for multi-label data and families, categorical otherwise"),
    "class_weights": Key("none", _class_weights, "single-label data: none, balanced or {class: weight}"),
    "optimizer": Key({}, section(OPTIMIZER), "optimiser"),
    "schedule": Key({}, section(SCHEDULE), "learning-rate schedule"),
    "early_stopping": Key({}, section(EARLY_STOPPING), "early stopping on `monitor`"),
    "monitor": Key("val_loss", choice("val_loss", "val_accuracy"), "validation quantity for best model/stopping"),
}

EVALUATION = {
    "fusion": Key("mean", choice(*FUSIONS),
                  "multi-view data, single-view model: combine an object's per-view probabilities by their "
                  "mean, or by a majority vote of the per-view decisions (ties: highest mean probability); "
                  "features (two_stage only): a classifier of the view-pooled map features decides; "
                  "backprojection (two_stage on a tilt series): one that also sees the vertex heat-maps "
                  "back-projected into 3-D along the tilt angles; "
                  "a multiview model pools its views itself and ignores this"),
}

SCHEMA = {
    "model": Key(REQUIRED, lambda p, v: v, "architecture and its options (see below)"),
    "data": Key(REQUIRED, lambda p, v: v, "dataset (see data.kind)"),
    "preprocess": Key({}, section(PREPROCESS), "image preparation"),
    "augment": Key({}, section(AUGMENT), "training-split augmentation"),
    "training": Key({}, section(TRAINING), "optimisation"),
    "evaluation": Key({}, section(EVALUATION), "evaluation defaults (late fusion of views; see stemsim.classifiers.views)"),
    "seed": Key(0, integer(0), "seed of weights init, shuffling and augmentation"),
}


def read_yaml(path: str | Path) -> Any:
    """Parse an experiment file; InputError naming the file on any problem (``1e-4`` is a number)."""
    return _read_yaml(path, "experiment")


def effective_spec(model: dict[str, Any]) -> ModelSpec:
    """The spec that gives input/optimiser defaults (a family's member for a family)."""
    return get_pipeline(model["name"]).effective_spec(model)


def _check_model(given: Any) -> dict[str, Any]:
    if isinstance(given, str):
        given = {"name": given}
    if not isinstance(given, dict) or "name" not in given:
        fail("model.name", "required key is missing")
    given = dict(given)
    name = given.pop("name")
    return get_pipeline(name).resolve_model(given)  # the kind's own options and rules


def _check_data(given: Any) -> dict[str, Any]:
    if not isinstance(given, dict):
        fail("data", f"expected a mapping with kind and path, got {given!r}")
    if "kind" not in given:
        fail("data.kind", "required key is missing (stemsim, folder or stm)")
    kind = DATA_COMMON["kind"].check("data.kind", given["kind"])
    out = check_section("data", given, {**DATA_COMMON, **DATA_KIND[kind]})
    if kind in ("folder", "stm") and out["val_fraction"] + out["test_fraction"] >= 0.95:
        fail("data.test_fraction", "val_fraction + test_fraction must leave at least 5 % for training")
    return out


def resolve(raw: Any) -> dict[str, Any]:
    """Check the experiment mapping ``raw`` and return the resolved configuration."""
    raw = copy.deepcopy(raw)
    cfg = check_section("", raw, SCHEMA)
    cfg["model"] = _check_model(cfg["model"])
    cfg["data"] = _check_data(cfg["data"])
    spec = effective_spec(cfg["model"])
    pre, aug, train = cfg["preprocess"], cfg["augment"], cfg["training"]

    if pre["input_size"] is None:
        pre["input_size"] = spec.input_size
    extractor = cfg["model"].get("extractor")
    if pre["normalize"] == "auto":
        # TF-Hub image modules take [0, 1]; keras.applications InceptionV3 takes [-1, 1].
        pre["normalize"] = "none" if extractor not in (None, "keras") else spec.normalize
    if extractor not in (None, "keras") and pre["normalize"] != "none":
        fail("preprocess.normalize", "a TF-Hub/SavedModel extractor takes images in [0, 1]: use none or auto")
    if extractor == "keras" and pre["input_size"] < 75:
        fail("preprocess.input_size", f"Inception-v3 needs at least 75 pixels, got {pre['input_size']}")
    if pre["resize_short"] is not None and pre["resize_short"] < pre["input_size"]:
        fail("preprocess.resize_short", f"must be >= input_size ({pre['input_size']}), got {pre['resize_short']}")
    if aug["crop"] and pre["resize_short"] is None:
        fail("augment.crop", "random crops need preprocess.resize_short (the size to crop input_size from)")

    opt = train["optimizer"]
    if opt["name"] is None:
        for key, value in spec.optimizer.items():
            opt[key] = value if opt[key] is None else opt[key]
    else:
        defaults = {"learning_rate": 1e-3, "momentum": 0.0, "nesterov": False}
        for key, value in defaults.items():
            opt[key] = value if opt[key] is None else opt[key]
    if opt["name"] == "adam" and opt["momentum"]:
        fail("training.optimizer.momentum", "adam has no momentum setting (use sgd or rmsprop)")
    if opt["nesterov"] and opt["name"] != "sgd":
        fail("training.optimizer.nesterov", f"only sgd has Nesterov momentum, not {opt['name']}")
    if opt["nesterov"] and not opt["momentum"]:
        fail("training.optimizer.nesterov", "Nesterov needs momentum > 0")

    multilabel = cfg["data"]["kind"] == "stm"
    family = get_pipeline(cfg["model"]["name"]).group_size(cfg["model"]) is not None  # binary members
    if train["loss"] == "auto":
        train["loss"] = "binary_crossentropy" if (multilabel or family) else "categorical_crossentropy"
    if train["loss"] == "categorical_crossentropy" and (multilabel or family):
        fail("training.loss", "categorical_crossentropy needs single-label data and a non-family model")
    if train["class_weights"] != "none" and multilabel:
        fail("training.class_weights",
             "only for single-label data; for multi-label data use data.weighting or data.oversample_max_repeat")
    return cfg


def load_experiment(source: str | Path | dict[str, Any]) -> dict[str, Any]:
    """Read and resolve an experiment (a YAML path or an already-parsed mapping)."""
    if isinstance(source, dict):
        return resolve(source)
    return resolve(read_yaml(source))
