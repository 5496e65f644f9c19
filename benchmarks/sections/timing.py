"""The rows' training and evaluation time, against the bench file's time budget."""

from __future__ import annotations

from pathlib import Path

from stemsim.benchmarks.sections.base import Section, minutes, register


@register
class Time(Section):
    """``analyses.time``: ``{models, timed, training_minutes, evaluation_minutes, where,
    machines, mode, budget_minutes}``. ``timed``: rows whose evaluation was timed (rows from
    before it was count their training only); ``machines``: distinct processors of the rows;
    ``budget_minutes``: the bench file's ``target.minutes`` (a default run's budget), or None."""

    name = "time"
    place = "summary"

    def compute(self, results: dict, bench: dict, out: Path | None) -> dict | None:
        rows = results["models"]
        if not rows:
            return None
        env = results["environment"]
        return {"models": len(rows), "timed": sum("evaluation_seconds" in r for r in rows),
                "training_minutes": sum(r["train_seconds"] for r in rows) / 60,
                "evaluation_minutes": sum(r.get("evaluation_seconds", 0.0) for r in rows) / 60,
                "where": f"{env.get('device', 'cpu')}, {env.get('cpus', '?')} cpus",
                "machines": len({r.get("processor") for r in rows}), "mode": results["bench"].get("mode"),
                "budget_minutes": (results["bench"].get("target") or {}).get("minutes")}

    def render(self, results: dict) -> list[str]:
        t = self.numbers(results)
        if not t:
            return []
        n, timed, where = t["models"], t["timed"], t["where"]
        text = f"Time: training the {n} model{'s' * (n != 1)} took {minutes(t['training_minutes'])}"
        if timed == n:
            text += f" and evaluating them {minutes(t['evaluation_minutes'])} ({where})"
        elif timed:
            text += (f" and evaluating {timed} of them {minutes(t['evaluation_minutes'])} ({where}; the others' "
                     "evaluation was not timed)")
        else:
            text += f" ({where}; the evaluation was not timed)"
        if t["machines"] > 1:  # rows kept from a run on another machine
            text += ("; the rows were trained on more than one machine (each row's `processor` in results.json, "
                     "unrecorded for rows from before it was), so their times compare within one machine only")
        if t["mode"] == "full":
            return [text + "; a --full run has no time budget."]
        budget = t["budget_minutes"]
        if budget is None:
            return [text + "."]
        verdict = "within it" if t["training_minutes"] + t["evaluation_minutes"] <= budget else "OVER it"
        if verdict == "within it" and timed < n:
            verdict += " without the untimed evaluations"
        return [text + f"; a default run's budget is {budget:g} min: {verdict}."]


def time_line(results: dict) -> str:
    """The rows' training and evaluation time in all, against the budget of a default run
    (the bench file's ``target.minutes``), or ``""`` without rows."""
    return "".join(Time().render(results))
