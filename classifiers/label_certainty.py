"""People-labelled STM data (``data.kind: stm``): a model's ROC AUC by how sure the labels are.

The test images fall into groups by the people's label table (``labels.csv``,
:func:`stemsim.classifiers.stm_data.read_stm_table`): labelled by one person, by two or more,
and — category by category — by two or more who all agreed on that category (mean score 0 or
1). The unanimous group is chosen by the label, so it leaves out the ambiguous images: it
shows where a model's errors sit, it is no target. ``stemsim evaluate`` writes the breakdown
(``metrics.json`` ``by_label_certainty``, a table in ``report.md``); the STM benches show it
per model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

GROUPS = {"one_person": "labelled by one person", "two_or_more": "by two or more",
          "unanimous": "by two or more, all agreeing on the category"}
"""The groups of :func:`roc_auc_by_label_certainty`, with the words the reports use for them."""


def roc_auc_by_label_certainty(table: dict[str, np.ndarray], ids: Sequence[str], probabilities: np.ndarray,
                               categories: Sequence[str], threshold: float = 0.5) -> dict[str, Any] | None:
    """A model's ROC AUC (mean over categories) on the images of each group of :data:`GROUPS`.

    Parameters
    ----------
    table : dict of arrays
        The people's label table (:func:`stemsim.classifiers.stm_data.read_stm_table`):
        ``name`` ``(M,)``, ``n_responses`` ``(M,)``, ``scores`` ``(M, 6)`` mean scores in [0, 1].
    ids : sequence of str, length N
        The scored images' names (``table["name"]`` entries), in the order of ``probabilities``.
    probabilities : array ``(N, C)``
        The model's probability of each category per image.
    categories : sequence of str, length C
        The columns of ``probabilities``, names of
        :data:`stemsim.classifiers.stm_data.STM_CATEGORIES`.
    threshold : float
        A category holds when its mean score is above it (:func:`stemsim.classifiers.stm_data.binarise`).

    Returns
    -------
    dict or None
        ``{group: {"images": n, "roc_auc_macro": value}}`` for ``one_person``, ``two_or_more``
        and ``unanimous`` (whose ``images`` is a list, one count per category); a value is None
        when some category has only positives or only negatives in the group. None when there
        are no categories or an id is not in the table.
    """
    from sklearn.metrics import roc_auc_score

    from stemsim.classifiers.stm_data import STM_CATEGORIES, binarise

    if not len(categories):
        return None
    row_of = {name: i for i, name in enumerate(table["name"])}
    if any(name not in row_of for name in ids):
        return None
    index = np.array([row_of[name] for name in ids], np.int64)
    columns = [STM_CATEGORIES.index(c) for c in categories]
    scores = table["scores"][index][:, columns]
    truth = binarise(scores, threshold) > 0
    probability = np.asarray(probabilities, np.float64).reshape(len(index), len(columns))
    people = table["n_responses"][index]

    def macro(keep: np.ndarray) -> float | None:  # keep: (N, C) bool
        aucs = [roc_auc_score(truth[keep[:, c], c], probability[keep[:, c], c]) for c in range(len(categories))
                if 0 < truth[keep[:, c], c].sum() < keep[:, c].sum()]
        return float(np.mean(aucs)) if len(aucs) == len(categories) else None

    one, several = (np.broadcast_to(keep[:, None], scores.shape) for keep in (people == 1, people >= 2))
    unanimous = several & ((scores == 0) | (scores == 1))
    return {"one_person": {"images": int(one[:, 0].sum()), "roc_auc_macro": macro(one)},
            "two_or_more": {"images": int(several[:, 0].sum()), "roc_auc_macro": macro(several)},
            "unanimous": {"images": unanimous.sum(axis=0).astype(int).tolist(), "roc_auc_macro": macro(unanimous)}}


def label_certainty(data: dict[str, Any], ids: Sequence[str], probabilities: np.ndarray,
                    categories: Sequence[str]) -> dict[str, Any] | None:
    """:func:`roc_auc_by_label_certainty` for the images ``ids`` ``(N,)`` and ``probabilities``
    ``(N, C)`` of the data a run's ``data`` section describes; None unless it is people-labelled
    (``kind: stm``) with a label table ``labels.csv`` in its ``path`` that names every id."""
    if data.get("kind") != "stm" or not (Path(data["path"]) / "labels.csv").is_file():
        return None
    from stemsim.classifiers.stm_data import read_stm_table

    table = read_stm_table(Path(data["path"]) / "labels.csv")
    return roc_auc_by_label_certainty(table, ids, probabilities, categories, data.get("threshold", 0.5))


def certainty_markdown(groups: dict[str, Any], n_images: int, overall: float | None) -> list[str]:
    """``report.md`` lines for :func:`roc_auc_by_label_certainty`'s ``groups``: each group's
    image count and mean ROC AUC, under the ``n_images`` scored and their mean ROC AUC ``overall``."""

    def cell(value: float | None) -> str:
        return "–" if value is None else f"{value:.4f}"

    counts = groups["unanimous"]["images"]
    unanimous = f"{min(counts)}–{max(counts)} per category" if min(counts) != max(counts) else f"{counts[0]}"
    images = {"one_person": groups["one_person"]["images"], "two_or_more": groups["two_or_more"]["images"],
              "unanimous": unanimous}
    lines = ["Macro ROC AUC by how sure the labels are (how many people labelled an image). The last row keeps, "
             "category by category, only the images whose two or more people all agreed on that category: chosen "
             "by the label, it leaves out the ambiguous images, so it shows where the errors sit and is no target.",
             "", "| images | count | macro ROC AUC |", "|---|---|---|",
             f"| all scored | {n_images} | {cell(overall)} |"]
    lines += [f"| {words} | {images[g]} | {cell(groups[g]['roc_auc_macro'])} |" for g, words in GROUPS.items()]
    return lines
