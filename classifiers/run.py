"""A training run directory: reading it, checking it, and writing one in place.

``RUN_DIR`` (written by :func:`stemsim.classifiers.training.train`)::

    model.keras    best-on-validation model; takes images, or, for head-only Inception-v3
                   (run.json "pipeline": "features"), the extractor's bottleneck features
    config.yaml    the resolved experiment (every key, defaults filled in)
    run.json       classes, task, pipeline, weights used, data summary, training label counts
    history.json   per-epoch loss/metrics/learning rate (also history.csv)

A ``geometric`` run (no network, :mod:`stemsim.classifiers.geometric`) holds ``model.skops``
instead of ``model.keras`` (run.json ``pipeline: geometric``, ``model_file``); a ``two_stage``
run holds ``model.skops`` + ``unet.keras`` (:mod:`stemsim.classifiers.two_stage`), a ``texture`` run
``model.skops`` (:mod:`stemsim.classifiers.texture`).

What depends on the model kind (how a run loads, what it predicts, which fusions it offers,
which run.json ``pipeline`` it makes) is asked of its pipeline (:attr:`Run.model_kind`,
:mod:`stemsim.classifiers.pipelines`); this module is the run directory's I/O. The file names and the
safe Keras loader live in :mod:`stemsim.classifiers.run_files` (re-exported here).

Runs are shared, so loading one runs no code of its author's: scikit-learn models are skops
files checked against a list of trusted types (:mod:`stemsim.classifiers.model_files`), Keras models
load with ``safe_mode=True`` (no ``Lambda`` layers, no references to Python code), and every
file a run names lies inside its directory (:meth:`Run.file`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.backend import KERAS
from stemsim.classifiers.backend import environment as describe
from stemsim.classifiers.config import effective_spec, resolve
from stemsim.classifiers.decisions import decide
from stemsim.classifiers.pipelines import Pipeline, get_pipeline
from stemsim.classifiers.preprocessing import Preprocessing
from stemsim.classifiers.run_files import (CONFIG_FILE, HISTORY_CSV, HISTORY_FILE,  # noqa: F401  (the run's files)
                                   KERAS_MEMBERS, MODEL_FILE, RUN_FILE, check_keras_file, load_keras_model,
                                   write_json)
from stemsim.classifiers.scale import check_scale
from stemsim.schema import stored_paths
from stemsim.errors import InputError, argument, reason
from stemsim.yamlio import read_yaml


@dataclass
class Run:
    """A finished run: its resolved config and run.json, read from ``path``."""

    path: Path
    config: dict[str, Any]
    info: dict[str, Any]

    @property
    def classes(self) -> list[str]:
        return list(self.info["classes"])

    @property
    def multilabel(self) -> bool:
        return bool(self.info["multilabel"])

    @property
    def group_size(self) -> int | None:
        return self.info.get("group_size")

    @property
    def model_kind(self) -> Pipeline:
        """The pipeline of the run's ``model.name`` (:mod:`stemsim.classifiers.pipelines`): what it
        predicts, how it loads, which fusions it offers."""
        return get_pipeline(self.config["model"]["name"])

    @property
    def multiview(self) -> bool:
        """A multiview CNN (takes whole objects), rather than a single-view network."""
        return self.model_kind.takes_objects

    @property
    def pipeline(self) -> str:
        return self.info.get("pipeline", "images")

    @property
    def geometric(self) -> bool:
        """A features + scikit-learn run (``model.skops``): the ``geometric`` baseline, the
        ``two_stage`` model (whose features come from a U-Net's maps) or the ``texture`` model."""
        return self.model_kind.feature_model

    @property
    def two_stage(self) -> bool:
        """The ``two_stage`` model: it can also predict the pixel-wise maps."""
        return self.model_kind.makes_maps

    @property
    def fusions(self) -> tuple[str, ...]:
        """How this run can combine the views of one object (:mod:`stemsim.classifiers.views`): a
        multiview CNN pools them itself (``pooling``); any other run fuses its per-view outputs
        (``mean``, ``vote``), a ``two_stage`` run trained on multi-view data also its
        view-pooled map features (``features``), and one trained on a tilt series also those
        with its back-projected heat-maps (``backprojection``)."""
        return self.model_kind.fusions(self.info)

    @property
    def model_path(self) -> Path:
        """The saved model: ``model.keras``, or ``model.skops`` for a geometric run."""
        return self.file(self.info.get("model_file", MODEL_FILE), "model_file")

    def file(self, name: Any, key: str) -> Path:
        """``self.path / name`` for a file name that ``key`` of the run's files gives; InputError
        unless it is a plain relative name that stays inside the run directory (no absolute
        path, no ``..``, no link out): a shared run must not make us read files elsewhere."""
        text = str(name)
        if not isinstance(name, str) or not text or "\0" in text:
            raise InputError(f"{self.path / RUN_FILE}: {key}: expected a file name, got {name!r:.80}")
        relative = Path(text)
        if relative.is_absolute() or ".." in relative.parts:
            raise InputError(f"{self.path / RUN_FILE}: {key}: {text!r:.80} is not a file inside the run directory")
        path = self.path / relative
        try:
            path.resolve().relative_to(self.path.resolve())
        except ValueError:
            raise InputError(f"{self.path / RUN_FILE}: {key}: {text!r:.80} leads outside the run directory") from None
        return path

    def preprocessing(self) -> Preprocessing:
        """The evaluation-time preprocessing (no augmentation)."""
        cfg = {**self.config, "augment": {"hflip": False, "vflip": False, "rot90": False, "crop": False}}
        return Preprocessing.from_config(cfg, channels=int(self.info["channels"]))

    def load_model(self):
        """The saved model, as the run's pipeline loads it (a Keras model, or a
        :class:`stemsim.classifiers.geometric.GeometricModel` and its kinds for a features +
        scikit-learn run); InputError if missing or unreadable."""
        return self.model_kind.load(self)

    def decide(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`decide`."""
        return decide(outputs, self.multilabel, self.group_size)


def open_run(path: str | Path) -> Run:
    """Read a run directory and check it against its own schema; InputError (one line naming
    the file and the key) if it is not one or its files are damaged or disagree.

    ``config.yaml`` is resolved again as an experiment (:func:`stemsim.classifiers.config.resolve`,
    paths taken as stored: a shared run names its author's data and weights files), and
    ``run.json`` must say what that experiment trains (:func:`check_run_info`). The model
    itself is checked when it is loaded (:func:`check_model_outputs`).
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: no such run directory")
    for name in (CONFIG_FILE, RUN_FILE):
        if not (path / name).is_file():
            raise InputError(f"{path}: not a run directory ({name} is missing)")
    config = _read_run_config(path / CONFIG_FILE)
    try:
        info = json.loads((path / RUN_FILE).read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise InputError(f"{path / RUN_FILE}: not readable JSON ({reason(error)})") from None
    if not isinstance(info, dict):
        raise InputError(f"{path / RUN_FILE}: expected a JSON object of run facts, got {type(info).__name__}")
    run = Run(path, config, info)
    check_run_info(run)
    return run


def _read_run_config(file: Path) -> dict[str, Any]:
    """A run's ``config.yaml``, checked and resolved as an experiment (errors name the file)."""
    raw = read_yaml(file, "run config")
    if not isinstance(raw, dict):
        raise InputError(f"{file}: expected a mapping of experiment keys, got {type(raw).__name__}")
    try:
        with stored_paths():
            return resolve(raw)
    except InputError as error:
        raise InputError(f"{file}: {error}") from None


def check_run_info(run: Run) -> None:
    """InputError (``RUN/run.json: KEY: problem``) unless ``run.json`` holds what evaluation
    and prediction read, of the right types, and agrees with ``config.yaml``: the model, the
    task (multi-label iff ``data.kind: stm``), the input channels and shape, a family's
    group size, the pipeline, the training label counts."""
    file, info, cfg = run.path / RUN_FILE, run.info, run.config
    name, model_kind = cfg["model"]["name"], run.model_kind

    def bad(key: str, problem: str) -> None:
        raise InputError(f"{file}: {key}: {problem}")

    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if "model" not in info:
        bad("model", "required key is missing")
    if info["model"] != name:
        raise InputError(f"{run.path / CONFIG_FILE}: model.name: {name}, but {RUN_FILE} says the run trained "
                         f"a {str(info['model'])[:80]!r} model (the files are of different runs, or edited)")
    for key in ("classes", "multilabel", "channels", "weights", "train_label_counts"):
        if key not in info:
            bad(key, "required key is missing")
    classes, multilabel = info["classes"], info["multilabel"]
    if not isinstance(classes, list) or not all(isinstance(c, str) and c for c in classes):
        bad("classes", f"expected a list of class names, got {str(classes)[:80]!r}")
    if len(set(classes)) != len(classes):
        bad("classes", "names must not repeat")
    if not isinstance(multilabel, bool):
        bad("multilabel", f"expected true or false, got {str(multilabel)[:80]!r}")
    kind = cfg["data"]["kind"]
    if multilabel != (kind == "stm"):
        bad("multilabel", f"{str(multilabel).lower()} does not fit {CONFIG_FILE}'s data.kind {kind} "
            f"({'multi' if kind == 'stm' else 'single'}-label data)")
    if len(classes) < (1 if multilabel else 2):
        bad("classes", f"a {'multi' if multilabel else 'single'}-label run needs at least "
            f"{1 if multilabel else 2}, got {len(classes)}")

    channels = info["channels"]
    expected = 3 if cfg["preprocess"]["color"] == "rgb" else effective_spec(cfg["model"]).channels
    if not integer(channels) or channels not in (1, 3):
        bad("channels", f"expected 1 or 3, got {str(channels)[:80]!r}")
    if channels != expected:
        bad("channels", f"{channels}, but {CONFIG_FILE} (model.name {name}, preprocess.color "
            f"{cfg['preprocess']['color']}) takes {expected}")
    size = cfg["preprocess"]["input_size"]
    if "input_shape" in info and info["input_shape"] != [size, size, channels]:
        bad("input_shape", f"{str(info['input_shape'])[:80]}, but {CONFIG_FILE} gives {[size, size, channels]}")
    group = info.get("group_size")
    wanted = model_kind.group_size(cfg["model"])
    if group != wanted or (group is not None and not integer(group)):
        bad("group_size", f"{str(group)[:80]}, but {CONFIG_FILE} gives "
            f"{'model.group_size ' + str(wanted) if wanted else 'no family (null)'}")
    pipeline = info.get("pipeline", "images")
    if pipeline not in model_kind.makes:
        bad("pipeline", f"{str(pipeline)[:80]!r} is not what a {name} run makes ({' or '.join(model_kind.makes)})")
    if not isinstance(info["weights"], str):
        bad("weights", f"expected a description, got {str(info['weights'])[:80]!r}")
    if "views" in info and (not integer(info["views"]) or info["views"] < 1):
        bad("views", f"expected a number of views >= 1, got {str(info['views'])[:80]!r}")
    if "scale" in info:
        problem = check_scale(info["scale"])
        if problem:
            bad("scale", problem)
    counts = info["train_label_counts"]
    if not isinstance(counts, dict) or not integer(counts.get("n_images")) or counts["n_images"] < 0 \
            or not isinstance(counts.get("positives"), dict):
        bad("train_label_counts", "expected {n_images: N, positives: {class: n}}")
    for label, n in counts["positives"].items():
        if label not in classes:
            bad("train_label_counts.positives", f"{str(label)[:80]!r} is not one of the classes")
        if not integer(n) or n < 0:
            bad(f"train_label_counts.positives.{label}", f"expected a count, got {str(n)[:80]!r}")
    if "backprojection" in info:
        series = info["backprojection"].get("tilt_series") if isinstance(info["backprojection"], dict) else None
        if not (isinstance(series, dict) and _numbers(series.get("axis"), 3) and _numbers(series.get("angles"))):
            bad("backprojection.tilt_series", "expected the tilt series it was trained on ({axis: [x, y, z], "
                "angles: [degrees, ...]})")


def _numbers(value: Any, length: int | None = None) -> bool:
    """A non-empty list of finite numbers (of ``length`` when given)."""
    return (isinstance(value, list) and bool(value) and (length is None or len(value) == length)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) for v in value))


def check_model_outputs(run: Run, model: Any, path: Path | None = None) -> None:
    """InputError unless a loaded model decides ``run.json``'s classes: a Keras model has
    ``len(classes)`` outputs (× ``group_size`` for a family), a scikit-learn model
    (:class:`stemsim.classifiers.geometric.GeometricModel` and its kinds) holds the same class names
    in the same order. ``path``: the file to name (default the run's model file)."""
    path = path or run.model_path
    n_classes, group = len(run.classes), run.group_size or 1
    shape = getattr(model, "output_shape", None)
    if shape is None:
        classes = getattr(model, "classes", None)
        if classes is not None and list(classes) != run.classes:
            raise InputError(f"{path}: the model decides the classes {str(list(classes))[:80]}, but {RUN_FILE} "
                             f"says {str(run.classes)[:80]}")
        return
    if not isinstance(shape, tuple) or not shape or not isinstance(shape[-1], int):
        raise InputError(f"{path}: the model has outputs of shape {str(shape)[:80]}, not one vector per image")
    if shape[-1] != n_classes * group:
        need = f"{n_classes} classes" + (f" × group_size {group}" if run.group_size else "")
        raise InputError(f"{path}: the model has {shape[-1]} outputs, but {RUN_FILE}'s {need} need "
                         f"{n_classes * group}")


class StagingDir:
    """Write into a temporary sibling of ``target`` and move it into place only on success.

    ``with StagingDir(target, overwrite, marker) as tmp: ...`` — on an exception the
    temporary directory is removed and ``target`` is untouched (nothing half-written).
    A non-empty ``target`` is replaced only with ``overwrite`` and only if it holds
    ``marker`` (i.e. it is an earlier output of the same kind, never an arbitrary folder).
    """

    def __init__(self, target: str | Path, overwrite: bool = False, marker: str = RUN_FILE):
        self.target = Path(target)
        if self.target.exists() and (not self.target.is_dir() or any(self.target.iterdir())):
            if not overwrite:
                raise InputError(f"{self.target}: already exists and is not empty (choose another "
                                 f"{argument('--out', 'out')} or {argument('--overwrite', 'overwrite=True')})")
            if not (self.target / marker).is_file():
                raise InputError(f"{self.target}: not empty and not an earlier output ({marker} missing); "
                                 "refusing to replace it")

    def __enter__(self) -> Path:
        self.target.parent.mkdir(parents=True, exist_ok=True)
        self.tmp = Path(tempfile.mkdtemp(prefix=f".{self.target.name}.", dir=self.target.parent))
        os.chmod(self.tmp, 0o755)
        return self.tmp

    def __exit__(self, kind, value, traceback) -> bool:
        if kind is not None:
            shutil.rmtree(self.tmp, ignore_errors=True)
            return False
        if self.target.exists():
            if self.target.is_dir():
                shutil.rmtree(self.target)
            else:
                self.target.unlink()
        os.replace(self.tmp, self.target)
        return False


def environment(model_name: str | None = None) -> dict[str, Any]:
    """Library versions, backend and device of a model (:func:`stemsim.classifiers.backend.environment`
    of its pipeline's ``stack``): scikit-learn for geometric/texture runs, Keras and its backend
    otherwise (None: Keras)."""
    return describe(get_pipeline(model_name).stack if model_name is not None else KERAS)
