"""``family``: ``group_size`` binary members per category, deciding by majority vote
(:mod:`stemsim.classifiers.models.family`); its member architecture gives the input and optimiser
defaults and the member options."""

from __future__ import annotations

from typing import Any

import numpy as np

from stemsim.classifiers.models import MODELS, ModelSpec, get_spec
from stemsim.classifiers.models.family import member_targets
from stemsim.classifiers.pipelines.keras import KerasPipeline
from stemsim.schema import check_section


class FamilyPipeline(KerasPipeline):
    name = "family"

    def effective_spec(self, model: dict[str, Any]) -> ModelSpec:
        return get_spec(model["member"])

    def resolve_model(self, given: dict[str, Any]) -> dict[str, Any]:
        out = super().resolve_model(given)
        member = MODELS[out["member"]]
        out["member_options"] = check_section("model.member_options", out["member_options"], member.options)
        return out

    def group_size(self, model: dict[str, Any]) -> int | None:
        return model["group_size"]

    def output_activation(self, multilabel: bool) -> str:
        return "sigmoid"  # every member is a binary classifier

    def member_targets(self, model: dict[str, Any], targets: np.ndarray) -> np.ndarray:
        return member_targets(targets, model["group_size"])

    def weights_description(self, model: dict[str, Any]) -> str:
        member = {"name": model["member"], **model["member_options"]}
        return f"family members: {KerasPipeline(model['member']).weights_description(member)}"
