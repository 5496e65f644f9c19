"""``two_stage``: a U-Net's pixel-wise maps, then features of them + scikit-learn
(:mod:`stemsim.classifiers.two_stage`). It learns its maps from a stemsim dataset's ground truth, can
predict those maps, and, trained on multi-view data, also pools an object's views itself.

What loading needs is recorded in run.json ``load_flags`` at training (:meth:`run_facts`):
``symmetric_maps`` (the experiment's ``model.unet_tta``: maps averaged over the image's 8
symmetries), ``corner_classifier`` and ``corner_patches``. Runs written before read them from
their config.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.pipelines.base import KERAS_AND_SKLEARN
from stemsim.classifiers.pipelines.geometric import FeaturePipeline
from stemsim.classifiers.two_stage import TwoStageModel, evaluate_maps, train_two_stage
from stemsim.errors import InputError

LOAD_FLAGS = {"symmetric_maps": "unet_tta", "corner_classifier": "corner_classifier",
              "corner_patches": "corner_patches"}
"""run.json ``load_flags`` key → the ``model`` key of the experiment it comes from."""


class TwoStagePipeline(FeaturePipeline):
    name = "two_stage"
    stack = KERAS_AND_SKLEARN
    makes = ("two_stage",)
    makes_maps = True
    pools_views = True

    def check(self, cfg: dict[str, Any]) -> None:
        kind = cfg["data"]["kind"]
        if kind != "stemsim":
            raise InputError(f"model.name: two_stage learns its maps from a stemsim dataset's ground truth; "
                             f"data.kind is {kind}")
        if not cfg["model"]["corner_classifier"]:
            for key, unset, what in (("corner_patches", False, "the patches are what the corner classifier reads"),
                                     ("corner_target", "near", "it is what the corner classifier learns")):
                if cfg["model"][key] != unset:
                    raise InputError(f"model.{key}: {what}; set model.corner_classifier: true")
        super().check(cfg)

    def train(self, cfg: dict[str, Any], dataset, pre, tmp: Path, weights: np.ndarray | None,
              verbose: int) -> dict[str, Any]:
        return train_two_stage(cfg, dataset, pre, tmp, weights, verbose)

    def run_facts(self, model: dict[str, Any]) -> dict[str, Any]:
        return {"load_flags": {flag: bool(model[key]) for flag, key in LOAD_FLAGS.items()}}

    def load_flags(self, run) -> dict[str, bool]:
        """run.json ``load_flags``, or for a run written before they were recorded its config.yaml's keys."""
        recorded = run.info.get("load_flags")
        if isinstance(recorded, dict):
            return {flag: bool(recorded.get(flag, False)) for flag in LOAD_FLAGS}
        model = run.config["model"]
        return {flag: bool(model.get(key, False)) for flag, key in LOAD_FLAGS.items()}

    def load(self, run) -> TwoStageModel:
        return TwoStageModel.load(run.model_path, **self.load_flags(run))

    def map_scores(self, model, data: dict[str, Any], split: str, views: int | None) -> dict[str, Any] | None:
        if data["kind"] != "stemsim" or split == "all":
            return {"skipped": "maps are scored on one split of a stemsim dataset with ground truth"}
        if views is not None:
            return {"skipped": "maps are scored per view, on the evaluation of all views (without --views)"}
        try:
            return evaluate_maps(model, data["path"], split)
        except InputError as error:
            return {"skipped": str(error)}

    def fusions(self, info: dict[str, Any]) -> tuple[str, ...]:
        if not info.get("view_features"):
            return ("mean", "vote")
        return ("mean", "vote", "features") + (("backprojection",) if info.get("backprojection") else ())
