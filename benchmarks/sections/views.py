"""Multi-view data: test accuracy against the number of views per object (rows' ``by_views``)."""

from __future__ import annotations

from stemsim.benchmarks.sections.base import Section, fmt, register


def selection(curve: dict) -> str:
    """Which K views a curve used: ``first K`` or ``spread``."""
    return "spread" if curve.get("selection") == "spread" else "first K"


@register
class Views(Section):
    """*Accuracy against the number of views*: one row per model and fusion, whether it never
    falls as views are added, and which spread views were used."""

    name = "views"

    def render(self, results: dict) -> list[str]:
        rows = [r for r in results["models"] if r.get("by_views")]
        if not rows:
            return []
        counts = results["bench"]["views"]["counts"]
        lines = ["", "## Accuracy against the number of views (test objects)", "",
                 "K views of every test object: the first K (over a tilt series: its start), and where listed "
                 "K views evenly spread over the object's views (over a tilt series: its whole range; view "
                 "indices round(linspace(0, V − 1, K))). A single-view model's per-view probabilities are "
                 "fused (mean, or majority vote), a two-stage model can also pool its per-view map features "
                 "(features: mean/min/max over the views, then a classifier trained on view subsets) and, "
                 "trained on a tilt series, register them in 3-D (backprojection: the vertex heat-maps "
                 "back-projected along the known tilt angles; the pooled features plus the 3-D peaks), "
                 "a multiview CNN pools its views itself.", "",
                 "| model | fusion | views | " + " | ".join(f"{k} view{'s' * (k > 1)}" for k in counts)
                 + " | never falls |", "|---|---|---|" + "---|" * len(counts) + "---|"]
        for row in rows:
            for curve in row["by_views"]:
                values = {p["views"]: p["accuracy"] for p in curve["points"]}
                lines.append(f"| {row['name']} | {curve['fusion']} | {selection(curve)} | "
                             + " | ".join(fmt(values.get(k)) for k in counts)
                             + f" | {'yes' if curve['never_falls'] else 'no'} |")
        spread = [p for row in rows for curve in row["by_views"] if curve.get("selection") == "spread"
                  for p in curve["points"]]
        if spread:
            which = {p["views"]: p["indices"] for p in spread}
            lines += ["", "Spread views used: " + "; ".join(f"K = {k}: views {', '.join(map(str, which[k]))}"
                                                           for k in counts if k in which) + "."]
        return lines + ["", "![accuracy against views](views.png)", ""]
