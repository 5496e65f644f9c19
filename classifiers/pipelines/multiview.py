"""``multiview``: a CNN that takes whole objects ``(B, V, S, S, C)`` and pools its views
itself (:mod:`stemsim.classifiers.models.multiview`); it needs multi-view data."""

from __future__ import annotations

from typing import Any

from stemsim.classifiers.pipelines.keras import KerasPipeline
from stemsim.errors import InputError


class MultiviewPipeline(KerasPipeline):
    name = "multiview"
    takes_objects = True

    def as_model_takes(self, model: dict[str, Any], dataset):
        if dataset.views == 1:
            raise InputError(f"model.name: multiview needs multi-view data (several views per object), but "
                             f"{dataset.info['path']} holds one image per object")
        k = model["train_views"]
        if k is not None and k > dataset.views:
            raise InputError(f"model.train_views: {k} is more than the data's {dataset.views} views per object")
        return dataset

    def run_facts(self, model: dict[str, Any]) -> dict[str, Any]:
        return {"view_pooling": model["pooling"]}

    def fusions(self, info: dict[str, Any]) -> tuple[str, ...]:
        return ("pooling",)
