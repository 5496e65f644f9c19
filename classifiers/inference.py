"""Running a trained model on prepared images or objects (shared by ``evaluate`` and ``predict``).

Objects are multi-view items ``(V, h, w, c)``: a multiview CNN takes them whole, a
single-view network gets every view as an image and its outputs are fused per object
(:func:`stemsim.classifiers.views.fuse_views`).

A ``geometric`` run (:mod:`stemsim.classifiers.geometric`) has no network: its "model" is the
feature extraction and the scikit-learn classifier, both run (and timed) on prepared images.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from stemsim.classifiers.run import MODEL_FILE, Run, check_model_outputs
from stemsim.classifiers.scale import image_preparer
from stemsim.classifiers.views import POOLED_FUSIONS, fuse_views
from stemsim.errors import InputError


class Predictor:
    """A run's model with its preprocessing (and, for head-only Inception, its extractor)."""

    def __init__(self, run: Run, batch_size: int = 32, warn=None):
        self.run = run
        self.batch_size = batch_size
        self.pre = run.preprocessing()
        self.prepare_image = image_preparer(run, warn)
        """``prepare_image(image, pixel_size=None, name="image")``: a raw image of ``pixel_size``
        nm per pixel → the model's prepared input (:func:`stemsim.classifiers.scale.image_preparer`)."""
        self.model = run.load_model()
        check_model_outputs(run, self.model)  # run.json's classes are what the model decides
        self.multiview = run.multiview
        self.geometric = run.geometric
        self.cache = None
        if self.geometric:
            return
        self.cache = run.model_kind.feature_cache(run, self.pre)  # head-only Inception: its bottlenecks
        expected = tuple(self.model.input_shape[2 if self.multiview else 1:])  # multiview: after (B, V)
        wanted = (self.cache.extractor.feature_dim,) if self.cache is not None else \
            (self.pre.input_size, self.pre.input_size, self.pre.channels)
        if self.cache is None and expected != wanted:
            raise InputError(f"{run.path / MODEL_FILE}: model input {expected} does not match run.json {wanted}")

    def outputs(self, images: Sequence[np.ndarray]) -> np.ndarray:
        """Raw model outputs for prepared images (bottlenecks come from the cache)."""
        if self.geometric:
            return self.model.predict_proba(images)
        if self.cache is not None:
            features = self.cache.features(list(images), None, self.batch_size)
            return np.asarray(self.model.predict(features, batch_size=self.batch_size, verbose=0), np.float32)
        chunks = [np.asarray(self.model.predict_on_batch(self.pre.finish(images[i:i + self.batch_size])))
                  for i in range(0, len(images), self.batch_size)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)

    def object_outputs(self, objects: Sequence[np.ndarray]) -> np.ndarray:
        """Multiview model: raw outputs ``(N, D)`` for prepared objects ``(V, h, w, c)`` (one V
        per batch of ``batch_size`` objects)."""
        chunks = [np.asarray(self.model.predict_on_batch(self.pre.finish_views(objects[i:i + self.batch_size])))
                  for i in range(0, len(objects), self.batch_size)]
        return np.concatenate(chunks).astype(np.float32) if chunks else np.zeros((0, 0), np.float32)

    def decide_objects(self, objects: Sequence[np.ndarray], fusion: str = "mean",
                       view_indices: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Prepared objects ``(V, h, w, c)`` (one V for all) → ``(probabilities (N, C), decisions)``:
        the multiview model on all views at once, or a single-view model on every view, fused
        per object by ``fusion`` (``mean``/``vote``, see :func:`stemsim.classifiers.views.fuse_views`;
        ``features``, ``backprojection``: a two-stage run's classifiers of view-pooled features).
        ``view_indices``: which views of the series the objects' views are (backprojection
        reads their angles; default the first V)."""
        if self.multiview:
            return self.run.decide(self.object_outputs(objects))
        if fusion in POOLED_FUSIONS:  # a two-stage run's own classifiers
            return self.run.decide(self.model.pooled_probabilities(objects, fusion, view_indices))

        outputs = self.outputs([view for obj in objects for view in obj])
        per_view = outputs.reshape(len(objects), -1, outputs.shape[-1])
        return fuse_views(per_view, fusion, self.run.multilabel, self.run.group_size)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        """Image batch → outputs without any cache (the whole network, for timing)."""
        if self.cache is not None:
            return np.asarray(self.model.predict_on_batch(self.cache.extractor(batch)))
        return np.asarray(self.model.predict_on_batch(batch))

    def throughput(self, items: Sequence[np.ndarray], max_images: int = 256) -> dict[str, Any]:
        """Inference speed of the network alone (preprocessing excluded, bottleneck cache not
        used) on up to ``max_images`` images, after one untimed warm-up batch.

        ``items``: prepared images, or for a multiview model prepared objects ``(V, h, w, c)``
        (whole objects, ``batch_size`` objects per batch); ``images_per_second`` counts
        images (views) either way. A geometric run times its feature extraction + classifier.
        """
        if self.geometric:
            items = list(items[:max_images])
            batches = [items[i:i + self.batch_size] for i in range(0, len(items), self.batch_size)]
            return {**self._timed(batches, self.model.predict_proba, len(items)),
                    "timed": "feature extraction + classifier"}
        if self.multiview:
            per_object = len(items[0]) if len(items) else 1
            items = list(items[:max(1, max_images // per_object)])
            finish, n_images = self.pre.finish_views, sum(len(obj) for obj in items)
        else:
            items = list(items[:max_images])
            finish, n_images = self.pre.finish, len(items)
        batches = [finish(items[i:i + self.batch_size]) for i in range(0, len(items), self.batch_size)]
        return self._timed(batches, self.forward, n_images)

    def _timed(self, batches: list, forward, n_images: int) -> dict[str, Any]:
        """Images/s of ``forward`` over ``batches`` (``n_images`` in all), after one untimed warm-up."""
        if not batches:
            return {"images_per_second": None, "timed_images": 0}
        forward(batches[0])
        start = time.perf_counter()
        for batch in batches:
            forward(batch)
        seconds = time.perf_counter() - start
        return {"images_per_second": n_images / seconds if seconds > 0 else None, "timed_images": n_images,
                "batch_size": self.batch_size, "seconds": seconds}

    def check_input(self, name: str, image: np.ndarray) -> None:
        """Refuse what the model cannot take before preparation hides it: a geometric run
        refuses NaN / infinite pixels (InputError ``NAME: holds NaN or infinite values``)."""
        if self.geometric and image.dtype.kind == "f" and not np.isfinite(image).all():
            raise InputError(f"{name}: holds NaN or infinite values")

    def size_on_disk(self) -> dict[str, Any]:
        """Bytes of model.keras (model.skops for a geometric run), plus the extractor's
        weights for a head-only Inception run."""
        model_bytes = self.run.model_path.stat().st_size
        out: dict[str, Any] = {"model_file_bytes": model_bytes}
        if self.cache is not None:
            extractor = self.cache.extractor
            if isinstance(getattr(extractor, "path", None), Path):  # a SavedModel directory
                extra = sum(p.stat().st_size for p in extractor.path.rglob("*") if p.is_file())
            else:  # keras InceptionV3: float32 weights
                extra = sum(int(np.prod(w.shape)) * 4 for w in extractor.base.weights)
            out["extractor_bytes"] = int(extra)
        out["total_bytes"] = int(sum(out.values()))
        out["total_megabytes"] = round(out["total_bytes"] / 1e6, 3)
        return out
