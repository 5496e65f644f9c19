"""Classes that are counts (``0``, ``1``, … deformed corners): how far off the predicted counts are."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stemsim.benchmarks.sections.base import Section, fmt, register


def count_errors(confusion, classes: list[str]) -> dict[str, float] | None:
    """For classes that are counts (``0``, ``1``, … as labels): ``{exact, within_one,
    mean_absolute_error}`` of a confusion matrix (rows true, columns predicted); None for
    other labels."""
    try:
        values = np.array([int(c) for c in classes])
    except (TypeError, ValueError):
        return None
    matrix = np.asarray(confusion, np.float64)
    if matrix.sum() == 0:
        return None
    distance = np.abs(values[:, None] - values[None, :])
    total = matrix.sum()
    return {"exact": float(np.trace(matrix) / total), "within_one": float(matrix[distance <= 1].sum() / total),
            "mean_absolute_error": float((matrix * distance).sum() / total)}


@register
class Counts(Section):
    """``analyses.counts``: ``{models: {name: count_errors}, constant: {predicts, ...errors}}``,
    the constant being the median true count of the test split (it minimises the absolute
    error); rendered as *How far off the counts are*."""

    name = "counts"

    def compute(self, results: dict, bench: dict, out: Path | None) -> dict | None:
        # per_class holds the classes in the order of the confusion matrix (stemsim.classifiers.metrics)
        scored = {row["name"]: count_errors(row["metrics"]["confusion_matrix"], list(row["metrics"]["per_class"]))
                  for row in results["models"] if "confusion_matrix" in row["metrics"]}
        scored = {name: errors for name, errors in scored.items() if errors}
        if not scored:
            return None
        first = results["models"][0]["metrics"]
        classes, truth = list(first["per_class"]), np.asarray(first["confusion_matrix"]).sum(axis=1)
        median = int(np.searchsorted(np.cumsum(truth), truth.sum() / 2))
        constant = np.zeros((len(classes), len(classes)))
        constant[:, median] = truth
        return {"models": scored, "constant": {"predicts": classes[median], **count_errors(constant, classes)}}

    def render(self, results: dict) -> list[str]:
        counts = self.numbers(results)
        if not counts:
            return []
        lines = ["", "## How far off the counts are (test split)", "",
                 "| model | exact | off by at most 1 | mean absolute error |", "|---|---|---|---|"]
        lines += [f"| {name} | {fmt(e['exact'])} | {fmt(e['within_one'])} | {e['mean_absolute_error']:.2f} |"
                  for name, e in counts["models"].items()]
        e = counts["constant"]
        lines.append(f"| constant predictor (always {e['predicts']}) | {fmt(e['exact'])} | {fmt(e['within_one'])} | "
                     f"{e['mean_absolute_error']:.2f} |")
        return lines + [""]
