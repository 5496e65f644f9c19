"""Classification metrics (numpy + scikit-learn), including the constant-predictor baseline."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics import (balanced_accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support,
                             roc_auc_score)


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    """ROC AUC of one binary problem; None when only one class is present."""
    y = np.asarray(y).astype(bool)
    if y.all() or not y.any():
        return None
    return float(roc_auc_score(y, score))


def _mean(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def single_label_metrics(y_true: np.ndarray, probs: np.ndarray, y_pred: np.ndarray,
                         classes: list[str]) -> dict[str, Any]:
    """Metrics of one-class-per-image predictions.

    ``y_true``/``y_pred`` (N,) class indices, ``probs`` (N, C). ROC AUC is one-vs-rest per
    class (None for a class absent from or filling ``y_true``) and their macro mean.
    Balanced accuracy is the mean recall over the classes present in ``y_true``; macro-F1 the
    mean F1 over all classes (0 for a class neither present nor predicted).
    """
    labels = np.arange(len(classes))
    precision, recall, f1, support = precision_recall_fscore_support(y_true, y_pred, labels=labels,
                                                                     zero_division=0)
    aucs = [_auc(y_true == k, probs[:, k]) for k in labels]
    return {
        "n_images": int(len(y_true)),
        "accuracy": float(np.mean(y_true == y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(np.mean(f1)),
        "roc_auc_macro": _mean(aucs),
        "per_class": {c: {"precision": float(precision[k]), "recall": float(recall[k]), "f1": float(f1[k]),
                          "support": int(support[k]), "roc_auc": aucs[k]} for k, c in enumerate(classes)},
        "confusion_matrix": confusion_matrix(y_true, y_pred, labels=labels).tolist(),
        **calibration(y_true, probs, y_pred),
    }


CALIBRATION_BINS = 10


def calibration(y_true: np.ndarray, probs: np.ndarray, y_pred: np.ndarray,
                bins: int = CALIBRATION_BINS) -> dict[str, Any]:
    """How far the decided class's probability (the confidence) is from how often it is right.

    ``expected_calibration_error`` = Σ_b (n_b / N) · |accuracy_b − mean confidence_b| over
    ``bins`` equal-width confidence bins (0, 0.1], (0.1, 0.2], … (a confidence of 0 counts in the
    first); 0 for a model whose 0.9 is right 9 times in 10, large for an overconfident one. None
    on an empty split. ``calibration_bins``: per bin ``lower``, ``upper``, ``count``,
    ``confidence`` and ``accuracy`` (None when empty)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    confidence = np.asarray(probs, np.float64)[np.arange(len(y_pred)), y_pred] if len(y_pred) else np.zeros(0)
    correct = y_true == y_pred
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.searchsorted(edges, confidence, side="left") - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        inside = which == b
        n = int(inside.sum())
        conf = float(confidence[inside].mean()) if n else None
        acc = float(correct[inside].mean()) if n else None
        if n:
            ece += n / len(y_pred) * abs(acc - conf)
        table.append({"lower": round(float(edges[b]), 10), "upper": round(float(edges[b + 1]), 10), "count": n,
                      "confidence": conf, "accuracy": acc})
    return {"expected_calibration_error": float(ece) if len(y_pred) else None, "calibration_bins": table}


def multilabel_metrics(y_true: np.ndarray, probs: np.ndarray, y_pred: np.ndarray,
                       classes: list[str]) -> dict[str, Any]:
    """Metrics of independent yes/no decisions per category (``(N, C)`` 0/1 arrays).

    Per category: accuracy, precision, recall, F1, support (positives), ROC AUC, and its 2×2
    confusion counts; overall: exact-match accuracy (all categories right), mean
    per-category accuracy and balanced accuracy, macro-F1 (the mean of the categories' F1),
    macro ROC AUC.
    """
    y_true, y_pred = np.asarray(y_true).astype(bool), np.asarray(y_pred).astype(bool)
    per = {}
    for k, c in enumerate(classes):
        t, p = y_true[:, k], y_pred[:, k]
        precision, recall, f1, _ = precision_recall_fscore_support(t, p, labels=[True], zero_division=0)
        tn, fp, fn, tp = confusion_matrix(t, p, labels=[False, True]).ravel()
        per[c] = {"accuracy": float(np.mean(t == p)), "balanced_accuracy": _balanced_binary(t, p),
                  "precision": float(precision[0]), "recall": float(recall[0]), "f1": float(f1[0]),
                  "support": int(t.sum()), "roc_auc": _auc(t, probs[:, k]),
                  "confusion": {"tn": int(tn), "fp": int(fp), "fn": int(fn), "tp": int(tp)}}
    return {
        "n_images": int(len(y_true)),
        "exact_match_accuracy": float(np.mean((y_true == y_pred).all(axis=1))),
        "mean_category_accuracy": float(np.mean([v["accuracy"] for v in per.values()])),
        "mean_category_balanced_accuracy": float(np.mean([v["balanced_accuracy"] for v in per.values()])),
        "macro_f1": float(np.mean([v["f1"] for v in per.values()])),
        "roc_auc_macro": _mean([v["roc_auc"] for v in per.values()]),
        "per_category": per,
    }


def _balanced_binary(t: np.ndarray, p: np.ndarray) -> float:
    recalls = [float(np.mean(p[t == v] == v)) for v in (False, True) if np.any(t == v)]
    return float(np.mean(recalls))


def constant_baseline(y_true: np.ndarray, train_positives: dict[str, int], n_train: int, classes: list[str],
                      multilabel: bool) -> dict[str, Any]:
    """The constant predictor built from the training labels, scored on ``y_true``.

    Single-label: always the training split's majority class. Multi-label: per category,
    "yes" iff more than half of the training images hold it. ``y_true``: (N,) indices or
    (N, C) 0/1. Its macro-F1 is taken as the model's is (a class never predicted scores 0).
    """
    counts = np.array([train_positives.get(c, 0) for c in classes], np.float64)
    if not multilabel:
        majority = int(np.argmax(counts))
        y_pred = np.full(len(y_true), majority)
        return {"predicts": classes[majority], "accuracy": float(np.mean(y_true == y_pred)),
                "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)) if len(y_true) else None,
                "macro_f1": float(f1_score(y_true, y_pred, labels=np.arange(len(classes)), average="macro",
                                           zero_division=0)) if len(y_true) else None}
    always = counts > n_train / 2
    y_true = np.asarray(y_true).astype(bool)
    y_pred = np.broadcast_to(always, y_true.shape)
    return {"predicts": {c: bool(a) for c, a in zip(classes, always)},
            "exact_match_accuracy": float(np.mean((y_true == y_pred).all(axis=1))),
            "mean_category_accuracy": float(np.mean(y_true == y_pred)),
            "macro_f1": float(f1_score(y_true, y_pred, average="macro", zero_division=0)) if len(y_true) else None,
            "per_category_accuracy": {c: float(np.mean(y_true[:, k] == always[k])) for k, c in enumerate(classes)}}
