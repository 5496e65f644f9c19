"""A training run directory, and turning model outputs into decisions.

``RUN_DIR`` (written by :func:`classifiers.training.train`)::

    model.keras    best-on-validation model; takes images, or, for head-only Inception-v3
                   (run.json "pipeline": "features"), the extractor's bottleneck features
    config.yaml    the resolved experiment (every key, defaults filled in)
    run.json       classes, task, pipeline, weights used, data summary, training label counts
    history.json   per-epoch loss/metrics/learning rate (also history.csv)

A ``geometric`` run (no network, :mod:`classifiers.geometric`) holds ``model.joblib``
instead of ``model.keras`` (run.json ``pipeline: geometric``, ``model_file``); a ``two_stage``
run holds ``model.joblib`` + ``unet.keras`` (:mod:`classifiers.two_stage`), a ``texture`` run
``model.joblib`` (:mod:`classifiers.texture`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from classifiers.preprocessing import Preprocessing
from stemsim.errors import InputError, reason

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
HISTORY_FILE = "history.json"
HISTORY_CSV = "history.csv"


def load_keras_model(path: Path, what: str = "model file"):
    """An uncompiled Keras model from ``path``; InputError (one line) if missing or unreadable."""
    if not path.is_file():
        raise InputError(f"{path}: {what} is missing")
    import keras

    try:
        return keras.saving.load_model(path, compile=False)
    except Exception as error:
        raise InputError(f"{path}: cannot load the model ({reason(error)})") from None


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
    def multiview(self) -> bool:
        """A multiview CNN (takes whole objects), rather than a single-view network."""
        return self.config["model"]["name"] == "multiview"

    @property
    def pipeline(self) -> str:
        return self.info.get("pipeline", "images")

    @property
    def geometric(self) -> bool:
        """A features + scikit-learn run (``model.joblib``): the ``geometric`` baseline, the
        ``two_stage`` model (whose features come from a U-Net's maps) or the ``texture`` model."""
        return self.config["model"]["name"] in ("geometric", "two_stage", "texture")

    @property
    def two_stage(self) -> bool:
        """The ``two_stage`` model: it can also predict the pixel-wise maps."""
        return self.config["model"]["name"] == "two_stage"

    @property
    def fusions(self) -> tuple[str, ...]:
        """How this run can combine the views of one object (:mod:`classifiers.views`): a
        multiview CNN pools them itself (``pooling``); any other run fuses its per-view outputs
        (``mean``, ``vote``), a ``two_stage`` run trained on multi-view data also its
        view-pooled map features (``features``), and one trained on a tilt series also those
        with its back-projected heat-maps (``backprojection``)."""
        if self.multiview:
            return ("pooling",)
        if self.two_stage and self.info.get("view_features"):
            return ("mean", "vote", "features") + (("backprojection",) if self.info.get("backprojection") else ())
        return ("mean", "vote")

    @property
    def model_path(self) -> Path:
        """The saved model: ``model.keras``, or ``model.joblib`` for a geometric run."""
        return self.path / self.info.get("model_file", MODEL_FILE)

    def preprocessing(self) -> Preprocessing:
        """The evaluation-time preprocessing (no augmentation)."""
        cfg = {**self.config, "augment": {"hflip": False, "vflip": False, "rot90": False, "crop": False}}
        return Preprocessing.from_config(cfg, channels=int(self.info["channels"]))

    def load_model(self):
        """The saved Keras model (a :class:`classifiers.geometric.GeometricModel` for a
        geometric run); InputError if missing or unreadable."""
        path = self.model_path
        if self.two_stage:
            from classifiers.two_stage import TwoStageModel

            model = self.config["model"]
            return TwoStageModel.load(path, symmetric_maps=bool(model.get("unet_tta", False)),
                                      corner_classifier=bool(model.get("corner_classifier", False)),
                                      corner_patches=bool(model.get("corner_patches", False)))
        if self.config["model"]["name"] == "texture":
            from classifiers.texture import TextureModel

            return TextureModel.load(path)
        if self.geometric:
            from classifiers.geometric import GeometricModel

            return GeometricModel.load(path)
        import classifiers.models.multiview  # noqa: F401  (registers the multiview layers for loading)

        return load_keras_model(path)

    def decide(self, outputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """See :func:`decide`."""
        return decide(outputs, self.multilabel, self.group_size)


def decide(outputs: np.ndarray, multilabel: bool, group_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model outputs → ``(probabilities (N, C), decisions)``.

    Decisions: multi-label → bool ``(N, C)`` (probability > 0.5, or the family's majority
    vote); single-label → int ``(N,)`` class index (argmax, or most family votes). For a
    family the probabilities are the mean member probabilities per category.
    """
    from classifiers.models.family import majority_vote, member_probabilities, single_label_decision

    outputs = np.asarray(outputs, np.float32)
    if group_size:
        members = member_probabilities(outputs, group_size)
        probs = members.mean(axis=-1)
        return probs, (majority_vote(members) if multilabel else single_label_decision(members))
    return outputs, (outputs > 0.5 if multilabel else outputs.argmax(axis=1))


def open_run(path: str | Path) -> Run:
    """Read a run directory; InputError (one line) if it is not one or its files are damaged."""
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: no such run directory")
    for name in (CONFIG_FILE, RUN_FILE):
        if not (path / name).is_file():
            raise InputError(f"{path}: not a run directory ({name} is missing)")
    try:
        config = yaml.safe_load((path / CONFIG_FILE).read_text())
        info = json.loads((path / RUN_FILE).read_text())
        assert isinstance(config, dict) and isinstance(info, dict)
        for key in ("classes", "multilabel", "channels"):
            info[key]
    except Exception:
        raise InputError(f"{path}: damaged run files ({CONFIG_FILE} / {RUN_FILE} unreadable)") from None
    return Run(path, config, info)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


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
                raise InputError(f"{self.target}: already exists and is not empty "
                                 "(choose another --out or --overwrite)")
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


def environment() -> dict[str, Any]:
    """Library versions, Keras backend and the device that runs the model."""
    import keras

    backend = keras.config.backend()
    env: dict[str, Any] = {"keras": keras.__version__, "backend": backend, "numpy": np.__version__}
    device = "cpu"
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            env["tensorflow"] = tf.__version__
            gpus = tf.config.list_physical_devices("GPU")
            device = f"{len(gpus)} GPU(s)" if gpus else "cpu"
        elif backend == "jax":
            import jax

            env["jax"] = jax.__version__
            device = ", ".join(sorted({d.platform for d in jax.devices()}))
        elif backend == "torch":
            import torch

            env["torch"] = torch.__version__
            device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # the description is informative only
        device = "unknown"
    env["device"] = device
    return env
