"""``geometric``: hand-crafted features + scikit-learn, no network (:mod:`stemsim.classifiers.geometric`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.geometric import GeometricModel, train_geometric
from stemsim.classifiers.pipelines.base import SKLEARN, Pipeline
from stemsim.errors import InputError


class FeaturePipeline(Pipeline):
    """A features + scikit-learn kind: the run holds ``model.skops`` (run.json ``model_file``)."""

    stack = SKLEARN
    feature_model = True
    overconfident = True


class GeometricPipeline(FeaturePipeline):
    name = "geometric"
    makes = ("geometric",)

    def check(self, cfg: dict[str, Any]) -> None:
        if cfg["data"]["kind"] == "stm":
            raise InputError("model.name: geometric is a single-label classifier; data.kind stm is multi-label")
        super().check(cfg)

    def train(self, cfg: dict[str, Any], dataset, pre, tmp: Path, weights: np.ndarray | None,
              verbose: int) -> dict[str, Any]:
        return train_geometric(cfg, dataset, pre, tmp, weights, verbose)

    def load(self, run) -> GeometricModel:
        return GeometricModel.load(run.model_path)
