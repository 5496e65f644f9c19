"""The generic pipeline of a Keras network of :data:`stemsim.classifiers.models.MODELS`.

Images in (``(B, S, S, C)``, every view of multi-view data an image of its own), one output
vector per image, fitted with the configured optimiser, schedule and early stopping
(:func:`stemsim.classifiers.fitting.fit`, best-on-validation kept); the run holds ``model.keras``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.fitting import compile_model, fit, image_batches
from stemsim.classifiers.models import build_model
from stemsim.classifiers.pipelines.base import KERAS, Pipeline
from stemsim.classifiers.run_files import MODEL_FILE, load_keras_model
from stemsim.schema import REQUIRED


class KerasPipeline(Pipeline):
    """A network builder of :data:`stemsim.classifiers.models.MODELS` trained end to end on images."""

    stack = KERAS

    def output_activation(self, multilabel: bool) -> str:
        """The output layer's activation: one sigmoid per category, or a softmax over classes."""
        return "sigmoid" if multilabel else "softmax"

    def member_targets(self, model: dict[str, Any], targets: np.ndarray) -> np.ndarray:
        """What the outputs learn for targets ``(N, C)`` (one column per output)."""
        return targets

    def train(self, cfg: dict[str, Any], dataset, pre, tmp: Path, weights: np.ndarray | None,
              verbose: int) -> dict[str, Any]:
        model_cfg = cfg["model"]
        model = build_model(model_cfg["name"], (pre.input_size, pre.input_size, pre.channels), len(dataset.classes),
                            self.output_activation(dataset.multilabel), model_cfg)
        compile_model(model, cfg)
        tr, va = dataset.split("train"), dataset.split("val")
        y_train = self.member_targets(model_cfg, tr.training_targets())
        y_val = self.member_targets(model_cfg, va.targets)
        batch = cfg["training"]["batch_size"]
        history = fit(model, image_batches(tr, pre, y_train, weights, batch, True, cfg["seed"],
                                           model_cfg.get("train_views")),
                      image_batches(va, pre, y_val, None, batch, False, cfg["seed"]),
                      cfg, tmp / MODEL_FILE, cfg["training"]["epochs"], verbose)
        return {"history": history, "pipeline": "images", "parameters": int(model.count_params())}

    def weights_description(self, model: dict[str, Any]) -> str:
        weights = model.get("weights", "none")
        if weights in (None, "none"):
            # 'none' is said to be asked for where the architecture requires weights (featurenet, finenet)
            option = self.spec.options.get("weights")
            asked = " as asked (weights: none)" if option is not None and option.default is REQUIRED else ""
            return f"none: random initialisation, trained from scratch{asked}"
        digest = hashlib.sha1(Path(weights).read_bytes()).hexdigest()[:12]
        return f"ResNet-18 weights from {weights} (sha1 {digest})"

    def load(self, run) -> Any:
        import stemsim.classifiers.models.multiview  # noqa: F401  (registers the multiview layers for loading; imports Keras)

        return load_keras_model(run.model_path)

