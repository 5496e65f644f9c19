"""One pipeline per model kind, registered once: :func:`get_pipeline` (``model.name`` → its
:class:`~stemsim.classifiers.pipelines.base.Pipeline`).

=================  ===========================================  ======================
model.name         pipeline                                     runs on
=================  ===========================================  ======================
geometric          :class:`.geometric.GeometricPipeline`        scikit-learn
texture            :class:`.texture.TexturePipeline`            scikit-learn
two_stage          :class:`.two_stage.TwoStagePipeline`         Keras + scikit-learn
inception_v3       :class:`.inception.InceptionPipeline`        Keras
multiview          :class:`.multiview.MultiviewPipeline`        Keras
family             :class:`.family.FamilyPipeline`              Keras
any other network  :class:`.keras.KerasPipeline`                Keras
=================  ===========================================  ======================

Adding a model kind: its :class:`~stemsim.classifiers.models.ModelSpec`, a module here, one line in
:data:`PIPELINES`. Importing this package imports no Keras (each pipeline imports it when it
trains or loads a network).
"""

from __future__ import annotations

from typing import Any

from stemsim.classifiers.models import MODELS
from stemsim.classifiers.pipelines.base import Pipeline
from stemsim.classifiers.pipelines.family import FamilyPipeline
from stemsim.classifiers.pipelines.geometric import GeometricPipeline
from stemsim.classifiers.pipelines.inception import InceptionPipeline
from stemsim.classifiers.pipelines.keras import KerasPipeline
from stemsim.classifiers.pipelines.multiview import MultiviewPipeline
from stemsim.classifiers.pipelines.texture import TexturePipeline
from stemsim.classifiers.pipelines.two_stage import TwoStagePipeline
from stemsim.schema import fail

PIPELINES: dict[str, Pipeline] = {}
"""``model.name`` (and alias) → its pipeline; every other network of
:data:`stemsim.classifiers.models.MODELS` gets a :class:`KerasPipeline` of its own."""


def register(pipeline: Pipeline) -> Pipeline:
    """Make ``pipeline`` the one of its name and aliases; returns it."""
    for name in (pipeline.name, *pipeline.aliases):
        if PIPELINES.get(name, pipeline) is not pipeline:
            raise ValueError(f"model kind {name!r} is registered twice")
        PIPELINES[name] = pipeline
    return pipeline


for _pipeline in (GeometricPipeline(), TexturePipeline(), TwoStagePipeline(), InceptionPipeline(),
                  MultiviewPipeline(), FamilyPipeline()):
    register(_pipeline)
for _name in MODELS:  # the default: a network builder trained on images
    if _name not in PIPELINES:
        register(KerasPipeline(_name))


def get_pipeline(name: Any) -> Pipeline:
    """The pipeline of ``model.name`` ``name``; InputError ``model.name: unknown model 'X'
    (known: ...)`` for a name that is none."""
    if not isinstance(name, str) or name not in PIPELINES:
        fail("model.name", f"unknown model {name!r} (known: {', '.join(MODELS)})")
    return PIPELINES[name]


__all__ = ["PIPELINES", "Pipeline", "get_pipeline", "register"]
