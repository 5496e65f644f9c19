"""``inception_v3``: transfer learning on cached bottlenecks (:mod:`stemsim.classifiers.transfer`).

A run holds the new dense head only (run.json ``pipeline: features``: its inputs are the
extractor's bottleneck features, recomputed or read from the cache), or, when fine-tuning beat
it, the whole image network (``pipeline: images``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.pipelines.keras import KerasPipeline
from stemsim.schema import fail
from stemsim.classifiers.transfer import bottleneck_cache, train_inception
from stemsim.errors import InputError


class InceptionPipeline(KerasPipeline):
    name = "inception_v3"
    makes = ("features", "images")

    def resolve_model(self, given: dict[str, Any]) -> dict[str, Any]:
        if given.get("extractor", "keras") != "keras" and given.get("weights", "") is None:
            del given["weights"]  # what resolving gives a SavedModel extractor (a run's config.yaml) resolves again
        out = super().resolve_model(given)
        if out["extractor"] != "keras":
            if "weights" in given:
                fail("model.weights", "only for extractor: keras (a SavedModel carries its own weights)")
            if out["fine_tune_blocks"]:
                fail("model.fine_tune_blocks", "fine-tuning needs extractor: keras (a SavedModel is used frozen)")
            out["weights"] = None
        return out

    def train(self, cfg: dict[str, Any], dataset, pre, tmp: Path, weights: np.ndarray | None,
              verbose: int) -> dict[str, Any]:
        return train_inception(cfg, dataset, pre, tmp, weights, verbose)

    def feature_cache(self, run, pre) -> Any:
        if run.pipeline != "features":
            return None
        cache = bottleneck_cache(run.config["model"], pre)
        if cache.extractor.key != run.info.get("extractor_key"):
            raise InputError(f"{run.path}: the feature extractor ({cache.extractor.description}) "
                             "is not the one this run was trained with (its weights differ)")
        return cache
