"""``texture``: texture features of scanning-probe images + gradient boosting, one binary
classifier per category on multi-label data (:mod:`stemsim.classifiers.texture`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.pipelines.geometric import FeaturePipeline
from stemsim.classifiers.texture import TextureModel, train_texture


class TexturePipeline(FeaturePipeline):
    name = "texture"
    makes = ("texture",)

    def train(self, cfg: dict[str, Any], dataset, pre, tmp: Path, weights: np.ndarray | None,
              verbose: int) -> dict[str, Any]:
        return train_texture(cfg, dataset, pre, tmp, weights, verbose)

    def load(self, run) -> TextureModel:
        return TextureModel.load(run.model_path)
