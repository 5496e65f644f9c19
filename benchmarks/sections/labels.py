"""People-labelled data (``dataset.data.kind: stm``): how sure the labels are, and how high they
let a model's ROC AUC go."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stemsim.benchmarks.datafiles import stm_labels
from stemsim.benchmarks.sections.base import Section, fmt, register
from stemsim.classifiers.label_certainty import GROUPS as LABEL_CERTAINTY_GROUPS
from stemsim.classifiers.label_certainty import roc_auc_by_label_certainty as certainty_of

MOST = 0.5
"""Share of one-person labels above which the labels section says most labels are one person's."""


def _people_labelled(dataset: dict) -> dict | None:
    data = dataset.get("data", {})
    return data if data.get("kind") == "stm" else None


def label_noise(dataset: dict) -> dict | None:
    """For people-labelled STM data (``kind: stm``): how many people labelled each image and how
    often two of them disagreed (:func:`stemsim.classifiers.stm_data.rater_disagreement`), and the ROC
    AUC such labels allow (``ceiling``: :func:`stemsim.classifiers.stm_data.label_ceiling`); else None."""
    data = _people_labelled(dataset)
    if data is None:
        return None
    from stemsim.classifiers.config import STM_CATEGORIES
    from stemsim.classifiers.stm_data import label_ceiling, rater_disagreement

    table = stm_labels(data)
    ceiling = label_ceiling(table, data.get("threshold", 0.5), data.get("categories", STM_CATEGORIES))
    return {**rater_disagreement(table), "ceiling": ceiling}


def roc_auc_by_label_certainty(dataset: dict, predictions: Path) -> dict | None:
    """For people-labelled STM data: one model's test ROC AUC (mean over categories) on the
    images labelled by one person, by two or more, and — category by category — by two or
    more who all agreed on that category (mean score 0 or 1). None for other data.

    Each group: ``{"images": n, "roc_auc_macro": value or None}`` (``images``: per category
    for ``unanimous``). The unanimous group is chosen by the label, so it leaves out the
    ambiguous images: it shows where the errors sit, it is not the bench's target. Computed by
    :func:`stemsim.classifiers.label_certainty.roc_auc_by_label_certainty` on the evaluation's
    ``predictions.csv``.
    """
    import csv

    data = _people_labelled(dataset)
    if data is None or not predictions.is_file():
        return None
    with open(predictions, newline="") as handle:
        rows = list(csv.DictReader(handle))
    categories = [c.removeprefix("p_") for c in rows[0] if c.startswith("p_")] if rows else []
    if not categories:
        return None
    probability = np.array([[float(r[f"p_{c}"]) for c in categories] for r in rows])
    return certainty_of(stm_labels(data), [r["id"] for r in rows], probability, categories,
                        data.get("threshold", 0.5))


@register
class Ceiling(Section):
    """``analyses.ceiling``: ``{low, high, target, verdict}``, the mean ROC AUC the labels allow
    (the two fits of ``labels.ceiling``) against a ROC AUC target (``verdict``: ``above`` the
    range, ``within`` it, or None)."""

    name = "ceiling"
    place = "summary"

    def compute(self, results: dict, bench: dict, out: Path | None) -> dict | None:
        ceiling = (results.get("labels") or {}).get("ceiling")
        if not ceiling:
            return None
        low, high = sorted((ceiling["free"]["mean_roc_auc"], ceiling["beta"]["mean_roc_auc"]))
        target = results["bench"].get("target") or {}
        value = target.get("value") if target.get("metric") == "roc_auc_macro" else None
        verdict = None if value is None else "above" if value > high else "within" if value >= round(low, 3) else None
        return {"low": low, "high": high, "target": value, "verdict": verdict}

    def render(self, results: dict) -> list[str]:
        c = self.numbers(results)
        if not c:
            return []
        text = (f"The labels allow a mean ROC AUC of about {c['low']:.3f}–{c['high']:.3f}: what a model that knew "
                "every image's tick probability exactly would score against them, estimated two ways from the "
                "people's ticks (section The labels).")
        if c["verdict"] == "above":
            text += f" The target, {c['target']:.3f}, is above what a perfect model would score by either estimate."
        elif c["verdict"] == "within":
            text += f" The target, {c['target']:.3f}, lies in that range: only a model close to perfect reaches it."
        return [text]


def ceiling_line(results: dict) -> str:
    """For people-labelled data: the ROC AUC the labels allow against the target, or ``""``."""
    return "".join(Ceiling().render(results))


@register
class Labels(Section):
    """``labels``: :func:`label_noise` of the bench's dataset; per row ``by_label_certainty``
    (:func:`roc_auc_by_label_certainty`). Rendered as the section *The labels*."""

    name = "labels"
    key = "labels"

    def row(self, bench: dict, folder: Path, row: dict) -> dict:
        certainty = roc_auc_by_label_certainty(bench["dataset"], Path(row["evaluation_dir"]) / "predictions.csv")
        return {"by_label_certainty": certainty} if certainty else {}

    def compute(self, results: dict, bench: dict, out: Path | None) -> dict | None:
        return label_noise(bench["dataset"])

    def render(self, results: dict) -> list[str]:
        labels = self.numbers(results)
        if not labels:
            return []
        n, responses = labels["images"], labels["responses"]
        one, two, more = (f"{100 * responses[k] / n:.0f} %" for k in ("1", "2", "3+"))
        share = f"{one} were labelled by one person, {two} by two and {more} by three or more"
        disagreement = ", ".join(f"{c} {fmt(v)}" for c, v in labels["disagreement"].items() if v is not None)
        text = (f"Of the dataset's {n} images, {share}. On the {labels['two_rater_images']} images that two people "
                f"labelled, they disagreed (one ticked the category, the other did not) on: {disagreement}.")
        if responses["1"] / n > MOST:
            text += (" Most test labels are one person's, so part of what every model here misses is in the labels, "
                     "not the images: a model's ROC AUC against such labels stays below 1 however well it sees the "
                     "surface.")
        return (["", "## The labels", "", text, ""] + _person_lines(labels) + _ceiling_lines(results)
                + _certainty_lines(results))


def _person_lines(labels: dict) -> list[str]:
    people = {c: v for c, v in labels.get("person_vs_person", {}).items() if v is not None}
    if not people:
        return []
    return [f"One person's ticks as a prediction of the other's, on the images two people labelled: balanced "
            f"accuracy (for a yes/no answer also its ROC AUC) {', '.join(f'{c} {v:.3f}' for c, v in people.items())}; "
            f"mean {np.mean(list(people.values())):.3f}. That is how well one person's label predicts another's.",
            ""]


def _ceiling_lines(results: dict) -> list[str]:
    ceiling = results["labels"].get("ceiling")
    if not ceiling:
        return []
    free, beta = ceiling["free"], ceiling["beta"]
    best = max(results["models"], key=lambda r: r["metrics"].get("roc_auc_macro") or 0, default=None)
    per = best["metrics"]["per_category"] if best else {}
    lines = ["How high the labels let a ROC AUC go: a model that knew each image's tick probability exactly (the "
             "fraction of all people who would tick the category, the most a model of the image can know), scored "
             "against labels made as these were (k of n people ticking, the label holding when k/n > "
             f"{ceiling['threshold']:g}, with as many people per image as here). The tick probabilities are not seen, "
             "only the ticks, and with mostly one to three people per image the ticks leave the shape of their spread "
             "over the images open; it is fitted to them two ways (log-likelihood in brackets, higher fits better): "
             "a free distribution (the best fit) and a beta distribution "
             "(`stemsim.classifiers.stm_data.label_ceiling`). They are estimates, not bounds: they take the people as "
             "interchangeable and how many labelled an image as unrelated to the image.", "",
             "| category | " + (f"{best['name']} | " if best else "") + "ceiling, free fit | ceiling, beta fit |",
             "|---|" + ("---|" if best else "") + "---|---|"]
    for name, value in free["per_category"].items():
        other = beta["per_category"][name]
        model = f"{fmt((per.get(name) or {}).get('roc_auc'), False)} | " if best else ""
        lines.append(f"| {name} | {model}{value['roc_auc']:.3f} ({value['log_likelihood']:.1f}) | "
                     f"{other['roc_auc']:.3f} ({other['log_likelihood']:.1f}) |")
    model = f"{fmt(best['metrics'].get('roc_auc_macro'), False)} | " if best else ""
    lines += [f"| mean | {model}{free['mean_roc_auc']:.3f} | {beta['mean_roc_auc']:.3f} |", ""]
    above = [name for name, value in free["per_category"].items()
             if ((per.get(name) or {}).get("roc_auc") or 0) > value["roc_auc"]]
    if above:
        lines += [f"On {', '.join(above)}, {best['name']} scores above the free fit's ceiling, so that fit is too "
                  "pessimistic there (by chance of the test images, or because an assumption fails): the ticks do "
                  "not pin the ceiling down, and the range of the two fits is the honest answer.", ""]
    return lines


def _certainty_lines(results: dict) -> list[str]:
    rows = [r for r in results["models"] if r.get("by_label_certainty")]
    if not rows:
        return []
    lines = ["Mean ROC AUC on the test images by how sure their labels are (the models run since this table "
             "exists). The last column keeps, category by category, only the images whose two or more people "
             "all agreed on that category: chosen by the label, it leaves out the ambiguous images, so it shows "
             "where the errors sit and is not the target.", "",
             "| model | all | " + " | ".join(LABEL_CERTAINTY_GROUPS.values()) + " |", "|---|---|---|---|---|"]
    for row in rows:
        groups = row["by_label_certainty"]
        cells = [fmt(groups[g]["roc_auc_macro"], False) for g in LABEL_CERTAINTY_GROUPS]
        lines.append(f"| {row['name']} | {fmt(row['metrics'].get('roc_auc_macro'), False)} | " + " | ".join(cells)
                     + " |")
    first = rows[0]["by_label_certainty"]
    lines += [f"| (test images) | | {first['one_person']['images']} | {first['two_or_more']['images']} | "
              f"{min(first['unanimous']['images'])}–{max(first['unanimous']['images'])} per category |", ""]
    return lines
