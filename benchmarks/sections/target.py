"""The bench's ``target`` against its best model, with the interval the test items allow."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from stemsim.benchmarks.sections.base import Section, fmt, metric_value, register

SELECTIONS = ("first", "spread")
"""Which K views a target with ``views: K`` is read at: the first K, or K spread over each object's."""


def target_outcome(results: dict, selection: str = "first") -> dict[str, Any] | None:
    """The bench's ``target`` against its best model: ``{metric, target, where, best, achieved,
    reached}``. A target with ``views: K`` is read from the accuracy-against-views curves at K
    views (the best fusion of each model; the first K views, or with ``selection="spread"`` K
    views spread over each object's views), not from the evaluation of all views."""
    target = results["bench"].get("target")
    if not target or not results["models"]:
        return None
    metric, k = target["metric"], target.get("views")
    if k is None and selection == "spread":
        return None
    if k is None:
        scored = [(r["name"], metric_value(r["metrics"], metric), r["metrics"].get("n_images"))
                  for r in results["models"]]
        where = ""
    else:
        scored = [(f"{r['name']} ({curve['fusion']})", point.get(metric), point.get("n_objects"))
                  for r in results["models"] for curve in r.get("by_views", [])
                  if curve.get("selection", "first") == selection
                  for point in curve["points"] if point["views"] == k]
        where = f" with {k} view{'s' * (k > 1)}" + (" spread over each object's views" if selection == "spread" else "")
    scored = [item for item in scored if item[1] is not None]
    if not scored:
        return None
    best, achieved, n = max(scored, key=lambda item: item[1])
    outcome = {"metric": metric, "target": target["value"], "where": where, "best": best, "achieved": achieved,
               "reached": achieved >= target["value"]}
    if metric == "accuracy" and n:
        outcome["interval"] = accuracy_interval(achieved, n)
    return outcome


def accuracy_interval(accuracy: float, n: int, level: float = 0.95) -> dict[str, Any]:
    """Wilson score interval of an accuracy measured on ``n`` test items (images or objects):
    ``{low, high, level, n}``; how far a few test objects let a target be judged."""
    from scipy.stats import binomtest

    correct = int(round(accuracy * n))
    ci = binomtest(correct, n).proportion_ci(confidence_level=level, method="wilson")
    return {"low": float(ci.low), "high": float(ci.high), "level": level, "n": int(n)}


@register
class Target(Section):
    """``analyses.target``: ``{first, spread}``, each a :func:`target_outcome` or None."""

    name = "target"
    place = "summary"

    def compute(self, results: dict, bench: dict, out: Path | None) -> dict | None:
        outcomes = {s: target_outcome(results, s) for s in SELECTIONS}
        return outcomes if any(outcomes.values()) else None

    def render(self, results: dict) -> list[str]:
        outcomes = self.numbers(results) or {}
        lines = []
        for selection in SELECTIONS:
            outcome = outcomes.get(selection)
            if not outcome:
                continue
            percent = "auc" not in outcome["metric"]
            interval = outcome.get("interval")
            within = (f"; {100 * interval['level']:.0f} % interval {100 * interval['low']:.1f}–"
                      f"{100 * interval['high']:.1f} % over {interval['n']} test items") if interval else ""
            lines.append(f"{'Target' if selection == 'first' else 'The same target'}: {outcome['metric']} ≥ "
                         f"{fmt(outcome['target'], percent)}{outcome['where']}: "
                         f"{'reached' if outcome['reached'] else 'NOT reached'} (best: {outcome['best']}, "
                         f"{fmt(outcome['achieved'], percent)}{within}).")
        return [" ".join(lines)] if lines else []


def target_line(results: dict) -> str:
    """``Target: accuracy ≥ 98.0 % with 4 views: NOT reached (best: …, 97.8 %; 95 % interval
    92.3–99.4 % over 90 test items).`` (report and docs), or ``""`` without a target. With
    spread-view curves, a second sentence reads the target on those."""
    return "".join(Target().render(results))
