"""Multi-label data: each model's scores per category."""

from __future__ import annotations

from stemsim.benchmarks.sections.base import Section, fmt, register


def multilabel(results: dict) -> bool:
    """Whether the rows are multi-label evaluations (an exact-match accuracy)."""
    return any("exact_match_accuracy" in r["metrics"] for r in results["models"])


@register
class PerCategory(Section):
    """*Per category (test split)*: accuracy, balanced accuracy and ROC AUC of each category,
    beside the constant predictor's accuracy (the rows' own numbers)."""

    name = "per_category"

    def render(self, results: dict) -> list[str]:
        if not multilabel(results):
            return []
        lines = ["", "## Per category (test split)", ""]
        for row in results["models"]:
            per = row["metrics"]["per_category"]
            lines += [f"**{row['name']}**", "", "| category | accuracy | balanced acc. | ROC AUC | constant |",
                      "|---|---|---|---|---|"]
            constant = row["baseline"].get("per_category_accuracy", {})
            for name, values in per.items():
                lines.append(f"| {name} | {fmt(values['accuracy'])} | {fmt(values['balanced_accuracy'])} | "
                             f"{fmt(values['roc_auc'], False)} | {fmt(constant.get(name))} |")
            lines.append("")
        return lines
