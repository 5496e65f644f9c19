"""What a model kind is, and the one registry of them.

A :class:`Pipeline` holds everything that depends on an experiment's ``model.name``: which
libraries run it, what it checks in a resolved experiment before any data is loaded, how it
trains, what it records in ``run.json``, how a run of it loads, what that model predicts and
which fusions of an object's views it offers. The rest of :mod:`classifiers` asks a run's
pipeline (:func:`stemsim.classifiers.pipelines.get_pipeline`) and never compares the name itself.

Every network builder of :data:`stemsim.classifiers.models.MODELS` without a pipeline of its own is a
:class:`~stemsim.classifiers.pipelines.keras.KerasPipeline` (images in, one output vector per image).
Adding a model kind: its :class:`~stemsim.classifiers.models.ModelSpec` (options and defaults), a module
in this package with its pipeline, and one line in the registry (:mod:`stemsim.classifiers.pipelines`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.backend import KERAS, KERAS_AND_SKLEARN, SKLEARN  # noqa: F401  (the stacks, for the kinds)
from stemsim.classifiers.models import ModelSpec, get_spec
from stemsim.schema import check_section
from stemsim.classifiers.views import POOLED_FUSIONS
from stemsim.errors import InputError

class Pipeline:
    """One model kind (``model.name``); subclasses override what differs.

    Attributes (class level) say what the kind is; methods do what depends on it. A run's
    ``model``/``info`` arguments are its resolved config's ``model`` section and its run.json.
    """

    name: str = ""
    aliases: tuple[str, ...] = ()
    """Other ``model.name`` spellings that mean this kind (none yet)."""
    stack: str = KERAS
    """The libraries that run it: :data:`SKLEARN`, :data:`KERAS` or :data:`KERAS_AND_SKLEARN`."""
    makes: tuple[str, ...] = ("images",)
    """The run.json ``pipeline`` values its runs hold (what the saved model takes)."""
    takes_objects = False
    """Takes whole multi-view objects ``(B, V, H, W, C)`` (else single images)."""
    feature_model = False
    """Features + scikit-learn (``model.skops``): the model takes prepared images and gives
    ``predict_proba``; it refuses NaN pixels; no network input shape to check."""
    makes_maps = False
    """Also predicts pixel-wise maps (``predict --maps``, ``maps`` in evaluation reports)."""
    pools_views = False
    """Trained on multi-view data, its runs also offer the view-pooled fusions
    (:data:`stemsim.classifiers.views.POOLED_FUSIONS`)."""
    overconfident = False
    """Gradient-boosted probabilities, near 0 or 1 even when wrong (the calibration note)."""

    def __init__(self, name: str | None = None):
        if name is not None:
            self.name = name

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"

    # ---- the experiment -------------------------------------------------------------

    @property
    def needs_keras(self) -> bool:
        """Whether training, evaluating or predicting it imports Keras (TensorFlow)."""
        return self.stack != SKLEARN

    @property
    def spec(self) -> ModelSpec:
        """Its architecture's options and defaults (:data:`stemsim.classifiers.models.MODELS`)."""
        return get_spec(self.name)

    def effective_spec(self, model: dict[str, Any]) -> ModelSpec:
        """The spec that gives input/optimiser defaults (a family's member for a family)."""
        return self.spec

    def resolve_model(self, given: dict[str, Any]) -> dict[str, Any]:
        """The resolved ``model`` section from the given keys (``name`` taken out already)."""
        return {"name": self.name, **check_section("model", given, self.spec.options)}

    def group_size(self, model: dict[str, Any]) -> int | None:
        """Members voting on each category (a family), else None."""
        return None

    def check(self, cfg: dict[str, Any]) -> None:
        """InputError (one line naming the key) if the resolved experiment ``cfg`` cannot train
        this kind; nothing is loaded before it passes."""
        fusion = cfg["evaluation"]["fusion"]
        if fusion in POOLED_FUSIONS and not self.pools_views:
            raise InputError(f"evaluation.fusion: {fusion} is the two_stage model's view pooling; "
                             f"model.name {self.name} fuses views by mean or vote")

    # ---- training -------------------------------------------------------------------

    def as_model_takes(self, model: dict[str, Any], dataset):
        """The data as the model takes it: every view an image of its own."""
        return dataset.per_view() if dataset.views > 1 else dataset

    def train(self, cfg: dict[str, Any], dataset, pre, tmp: Path, weights: np.ndarray | None,
              verbose: int) -> dict[str, Any]:
        """Fit on ``dataset`` (as :meth:`as_model_takes` gave it) into ``tmp``; returns what
        :func:`stemsim.classifiers.training.train` records: ``history``, ``pipeline``, ``weights``
        (None: :meth:`weights_description`), ``model_file``, and run.json keys of its own."""
        raise NotImplementedError

    def weights_description(self, model: dict[str, Any]) -> str:
        """Which initial weights it used, for every report."""
        return "none: random initialisation, trained from scratch"

    def run_facts(self, model: dict[str, Any]) -> dict[str, Any]:
        """run.json keys of this kind that loading and reports read (beyond ``group_size``)."""
        return {}

    # ---- a saved run ----------------------------------------------------------------

    def load(self, run) -> Any:
        """The saved model of ``run`` (a :class:`stemsim.classifiers.run.Run`); InputError if missing
        or unreadable."""
        raise NotImplementedError

    def map_scores(self, model, data: dict[str, Any], split: str, views: int | None) -> dict[str, Any] | None:
        """Its pixel-wise maps scored against the ground truth of the ``data`` section's dataset
        (or why they are not), for an evaluation report; None: it makes no maps."""
        return None

    def feature_cache(self, run, pre) -> Any:
        """The bottleneck cache a head-only run's model reads its inputs from, else None."""
        return None

    def fusions(self, info: dict[str, Any]) -> tuple[str, ...]:
        """How its runs combine the views of one object (:mod:`stemsim.classifiers.views`): the
        per-view outputs by ``mean`` or ``vote``."""
        return ("mean", "vote")

