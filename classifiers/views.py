"""Multi-view ("ground truth") classification: several images of ONE object, one answer.

Data (:mod:`stemsim.classifiers.data`): a multi-view dataset (npz ``images`` ``(N, V, H, W)``, or
``{split}/{label}/{object_id}/view_{k}.png``) loads as a :class:`~stemsim.classifiers.data.Dataset`
with ``views = V`` whose split items are objects, ``(V, h, w, c)`` each.

Two ways to use the views, chosen by the architecture:

* **multiview CNN** (``model.name: multiview``, :mod:`stemsim.classifiers.models.multiview`): one
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

  - ``features`` (``two_stage`` runs trained on multi-view data): the per-view map features
    are pooled over the views (:func:`pool_view_features`: mean, min and max of each
    feature, and the view count) and a second classifier, trained on pooled features of
    view subsets of every training object (:func:`view_subsets`), decides. A corner that
    one view hides can show in another; a count or a pair of corners is better read from
    the features of all views together than from per-view answers, each unsure in its own way.

  - ``backprojection`` (``two_stage`` runs trained on a tilt series, ``views.mode: tilt``):
    the pooled features plus features of the views' vertex heat-maps back-projected into 3-D
    along the series' known angles (:mod:`stemsim.classifiers.tomography`): the views registered in
    3-D, so that corners that one view shows on top of each other count apart. Each view's
    angle is the training tilt series' angle at its position in the series: the view index
    in evaluation (the first K, or ``--spread``), the ``k`` of ``view_k`` files in prediction.

  Chosen by the experiment key ``evaluation.fusion`` (stored in the run's config.yaml), or
  per call: ``stemsim evaluate RUN --fusion mean|vote|features|backprojection``, ``stemsim predict RUN
  --object DIR --fusion vote``, ``evaluate(..., fusion=)``. The multiview CNN pools its views itself, so
  asking it for a fusion is an error.

``stemsim evaluate RUN --views K`` / ``evaluate(..., views=K)`` uses only the first K views of
every object (accuracy against the number of views); with ``--spread`` / ``spread=True``, K
views evenly spread over the object's views instead (:func:`view_indices`: over a tilt series,
K views over its whole range). Evaluation reports on multi-view data
are per object and say ``views`` = ``{count, available, fusion}`` (:func:`views_report`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from stemsim.classifiers.decisions import decide
from stemsim.errors import InputError

OUTPUT_FUSIONS = ("mean", "vote")  # the fusions of per-view outputs (any single-view model)
POOLED_FUSIONS = ("features", "backprojection")  # a two_stage run's own classifiers of view-pooled features
FUSIONS = OUTPUT_FUSIONS + POOLED_FUSIONS
POOLED_STATISTICS = ("mean", "min", "max")


def fuse_views(outputs: np.ndarray, fusion: str = "mean", multilabel: bool = False,
               group_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-view model outputs ``(N, V, D)`` of N objects → per-object ``(probabilities (N, C), decisions)``.

    Decisions as :func:`stemsim.classifiers.run.decide`: class indices ``(N,)`` or, multi-label, bool
    ``(N, C)``. ``fusion``: ``mean`` or ``vote`` (see the module doc).
    """
    outputs = np.asarray(outputs, np.float32)
    if outputs.ndim != 3:
        raise ValueError(f"per-view outputs must be (objects, views, outputs), got shape {outputs.shape}")
    if fusion not in OUTPUT_FUSIONS:
        raise ValueError(f"fusion must be one of {OUTPUT_FUSIONS}, got {fusion!r}")
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


def pool_view_features(features: np.ndarray) -> np.ndarray:
    """Per-view features ``(V, F)`` of one object → ``(3 F + 1,)``: the mean, min and max of
    every feature over the views where it is defined (NaN where it is defined in none), then V."""
    features = np.asarray(features, np.float64)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f"per-view features must be (views >= 1, features), got shape {features.shape}")
    defined = np.isfinite(features)
    count = defined.sum(axis=0)
    some = count > 0
    total = np.where(defined, features, 0.0).sum(axis=0)
    mean = np.where(some, total / np.maximum(count, 1), np.nan)
    low = np.where(some, np.where(defined, features, np.inf).min(axis=0), np.nan)
    high = np.where(some, np.where(defined, features, -np.inf).max(axis=0), np.nan)
    return np.concatenate([mean, low, high, [float(len(features))]])


def pooled_feature_names(names: Sequence[str]) -> list[str]:
    """Names of :func:`pool_view_features` output for per-view features ``names``."""
    return [f"views_{stat}_{name}" for stat in POOLED_STATISTICS for name in names] + ["views_count"]


def view_subsets(n_views: int, rng: np.random.Generator) -> list[np.ndarray]:
    """The view subsets a view-pooling classifier learns from, per object of ``n_views``
    views: the first K views for every K (what ``--views K`` evaluates: the start of a tilt
    series), and a random K of them for every K (any views an experimentalist may hold)."""
    first = [np.arange(k) for k in range(1, n_views + 1)]
    chosen = [np.sort(rng.choice(n_views, k, replace=False)) for k in range(1, n_views + 1)]
    return first + chosen


def check_views(count: int | None, available: int) -> None:
    """InputError unless ``count`` (``None``: all) views can be taken from ``available`` per object."""
    if count is not None and not 1 <= count <= available:
        raise InputError(f"--views: the data has {available} view(s) per object; cannot use {count}")


def curve_counts(available: int) -> list[int]:
    """The view counts at which accuracy against the number of views is read for objects of
    ``available`` views: 1, 2, V/2 and V (those that exist)."""
    return sorted({k for k in (1, 2, available // 2, available) if 1 <= k <= available})


def curve_subsets(available: int) -> list[tuple[str, np.ndarray]]:
    """``(selection, view indices)`` of every point of the curves against the number of views for
    objects of ``available`` views: the first K for each K of :func:`curve_counts`, and K spread
    views (``"spread"``) wherever they are not the first K."""
    subsets = []
    for k in curve_counts(available):
        for spread in (False, True):
            index = view_indices(k, available, spread)
            if not (spread and list(index) == list(range(k))):
                subsets.append(("spread" if spread else "first", index))
    return subsets


def view_indices(count: int | None, available: int, spread: bool = False) -> np.ndarray:
    """Which ``count`` of an object's ``available`` views to use (``None``: all): the first
    ones, or with ``spread`` ones evenly spread over the views, ``round(linspace(0, V − 1, K))``
    (over a tilt series: K views over the whole tilt range, not its start). See :func:`check_views`."""
    check_views(count, available)
    if count is None:
        return np.arange(available)
    if spread and count > 1:
        # floor(x + 0.5), not np.round: ties must not round to even and collide (steps are >= 1)
        return np.floor(np.linspace(0, available - 1, count) + 0.5).astype(int)
    return np.arange(count)


def take_views(objects: Sequence[np.ndarray], indices: np.ndarray) -> list[np.ndarray]:
    """The views ``indices`` (:func:`view_indices`) of every object ``(V, h, w, c)``."""
    return [obj[indices] for obj in objects]


def fusion_for(run, requested: str | None) -> str:
    """The fusion a :class:`~stemsim.classifiers.run.Run` uses: a multiview run pools its views itself
    (``"pooling"``); otherwise the requested one, else the experiment's ``evaluation.fusion``,
    else ``mean``."""
    if requested is not None and requested not in FUSIONS:
        raise InputError(f"--fusion: expected {', '.join(FUSIONS)}, got {requested!r}")
    if run.fusions == ("pooling",):
        if requested is not None:
            raise InputError("--fusion: a multiview model pools its views itself; "
                             "late fusion is for single-view models")
        return "pooling"
    how = requested or run.config.get("evaluation", {}).get("fusion") or "mean"
    if how not in run.fusions:  # features, backprojection: two_stage runs trained on multi-view data
        where = "--fusion" if requested else f"{run.path / 'config.yaml'}: evaluation.fusion"
        if how == "features":
            raise InputError(f"{where}: features fusion needs a two_stage run trained on multi-view data "
                             f"(it learns from view-pooled map features); this run cannot (use mean or vote)")
        raise InputError(f"{where}: backprojection fusion needs a two_stage run trained on a tilt series "
                         f"(it learns from heat-maps back-projected along the series' angles); this run can use "
                         f"{', '.join(run.fusions)}")
    return how


def views_report(count: int, available: int, fusion: str, pooling: str | None = None,
                 indices: Sequence[int] | None = None) -> dict[str, Any]:
    """``{"count", "available", "fusion"}`` of an evaluation or prediction: views used per
    object, views per object in the data, and how they were combined (``mean``, ``vote``,
    ``features``, ``backprojection``, ``multiview-cnn pooling max|mean``, or ``none`` for
    single-view data fused by mean or vote); plus ``indices`` (which views) when they are not the first ``count``."""
    if fusion == "pooling":
        fusion = f"multiview-cnn pooling {pooling}"
    elif available == 1 and fusion not in POOLED_FUSIONS:  # a pooled classifier also takes one view
        fusion = "none"
    report = {"count": count, "available": available, "fusion": fusion}
    if indices is not None and [int(i) for i in indices] != list(range(count)):
        report["indices"] = [int(i) for i in indices]
    return report
