"""Multi-view ("ground truth") classification: several images of ONE object, one answer.

Data (:mod:`classifiers.data`): a multi-view dataset (npz ``images`` ``(N, V, H, W)``, or
``{split}/{label}/{object_id}/view_{k}.png``) loads as a :class:`~classifiers.data.Dataset`
with ``views = V`` whose split items are objects, ``(V, h, w, c)`` each.

Two ways to use the views, chosen by the architecture:

* **multiview CNN** (``model.name: multiview``, :mod:`classifiers.models.multiview`): one
  shared backbone over every view, max/mean pooling over the views, one head. Trained end
  to end on ``(B, V, S, S, C)`` batches (``training.batch_size`` counts objects; every view
  gets its own random augmentation; ``model.train_views: K`` trains on a random K of the V
  views of each object per batch). It needs multi-view training data and takes any number of
  views at prediction time.
* **late fusion** of any single-view network (every other ``model.name``): in training every
  view is an image of its own (id ``<object_id>/view_<k>``, the object's label); at evaluation
  and prediction the per-view outputs of each object are combined by :func:`fuse_views`:

  - ``mean`` (default): mean of the per-view probabilities (for a family, of the member
    probabilities), then the usual decision;
  - ``vote``: every view decides on its own; the class with the most view votes wins, ties
    going to the highest mean probability (multi-label: a category holds when more than half
    of the views say so, an even split going to the mean probability > 0.5). The reported
    probabilities are the mean probabilities.

  Chosen by the experiment key ``evaluation.fusion`` (stored in the run's config.yaml), or
  per call: ``stemsim evaluate RUN --fusion mean|vote``, ``stemsim predict RUN --object DIR
  --fusion vote``, ``evaluate(..., fusion=)``. The multiview CNN pools its views itself, so
  asking it for a fusion is an error.

``stemsim evaluate RUN --views K`` / ``evaluate(..., views=K)`` uses only the first K views of
every object (accuracy against the number of views). Evaluation reports on multi-view data
are per object and say ``views`` = ``{count, available, fusion}`` (:func:`views_report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from classifiers.run import decide
from stemsim.errors import InputError

FUSIONS = ("mean", "vote")


def fuse_views(outputs: np.ndarray, fusion: str = "mean", multilabel: bool = False,
               group_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-view model outputs ``(N, V, D)`` of N objects → per-object ``(probabilities (N, C), decisions)``.

    Decisions as :func:`classifiers.run.decide`: class indices ``(N,)`` or, multi-label, bool
    ``(N, C)``. ``fusion``: ``mean`` or ``vote`` (see the module doc).
    """
    outputs = np.asarray(outputs, np.float32)
    if outputs.ndim != 3:
        raise ValueError(f"per-view outputs must be (objects, views, outputs), got shape {outputs.shape}")
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    n, v = outputs.shape[:2]
    if fusion == "mean":
        return decide(outputs.mean(axis=1), multilabel, group_size)
    probs, decisions = decide(outputs.reshape(n * v, -1), multilabel, group_size)
    mean = probs.reshape(n, v, -1).mean(axis=1)
    if multilabel:
        yes = decisions.reshape(n, v, -1).sum(axis=1)
        return mean, (2 * yes > v) | ((2 * yes == v) & (mean > 0.5))
    votes = np.zeros_like(mean)
    np.add.at(votes, (np.repeat(np.arange(n), v), decisions), 1.0)
    # votes are integers and 0.5 · mean < 1: this ranks by votes, then by mean probability
    return mean, np.argmax(votes + 0.5 * mean, axis=1)


def check_views(count: int | None, available: int) -> None:
    """InputError unless ``count`` (``None``: all) views can be taken from ``available`` per object."""
    if count is not None and not 1 <= count <= available:
        raise InputError(f"--views: the data has {available} view(s) per object; cannot use {count}")


def take_views(objects: Sequence[np.ndarray], count: int | None, available: int) -> list[np.ndarray]:
    """The first ``count`` views of every object ``(V, h, w, c)`` (``None``: all); see :func:`check_views`."""
    check_views(count, available)
    return list(objects) if count is None else [obj[:count] for obj in objects]


def fusion_for(run, requested: str | None) -> str:
    """The fusion a :class:`~classifiers.run.Run` uses: a multiview run pools its views itself
    (``"pooling"``); otherwise the requested one, else the experiment's ``evaluation.fusion``,
    else ``mean``."""
    multiview, configured = run.multiview, run.config.get("evaluation", {}).get("fusion")
    if requested is not None and requested not in FUSIONS:
        raise InputError(f"--fusion: expected {' or '.join(FUSIONS)}, got {requested!r}")
    if multiview:
        if requested is not None:
            raise InputError("--fusion: a multiview model pools its views itself; "
                             "late fusion is for single-view models")
        return "pooling"
    return requested or configured or "mean"


def views_report(count: int, available: int, fusion: str, pooling: str | None = None) -> dict[str, Any]:
    """``{"count", "available", "fusion"}`` of an evaluation or prediction: views used per
    object, views per object in the data, and how they were combined (``mean``, ``vote``,
    ``multiview-cnn pooling max|mean``, or ``none`` for single-view data)."""
    if fusion == "pooling":
        fusion = f"multiview-cnn pooling {pooling}"
    elif available == 1:
        fusion = "none"
    return {"count": count, "available": available, "fusion": fusion}
