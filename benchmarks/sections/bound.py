"""The ideal observer's bound (:mod:`stemsim.benchmarks.observer`, run into the report folder's
``observer/``) beside the bench's target."""

from __future__ import annotations

from pathlib import Path

from stemsim.benchmarks.sections.base import Section, register, section
from stemsim.benchmarks.sections.target import SELECTIONS


@register
class Observer(Section):
    """``observer``: ``{file, n_objects, bounds: [{views, selection, accuracy_bound}]}``
    (:func:`stemsim.benchmarks.observer.summary`), when the observer was run into the report folder."""

    name = "observer"
    place = "summary"
    key = "observer"

    def compute(self, results: dict, bench: dict, out: Path | None):
        from stemsim.benchmarks.observer import summary

        return summary(out / "observer")

    def render(self, results: dict) -> list[str]:
        observer = self.numbers(results)
        if not observer:
            return []
        k = (results["bench"].get("target") or {}).get("views")
        bounds = [b for b in observer["bounds"] if b["views"] == 1 or b["views"] == k]
        said = ", ".join(f"{100 * b['accuracy_bound']:.2f} % with "
                         + ("1 view" if b["views"] == 1 else f"{b['views']} {b['selection']} views") for b in bounds)
        text = (f"Shot noise alone allows an accuracy up to {said}: the ideal observer, told everything the "
                f"simulator drew but the label, on {observer['n_objects']} test objects (`{observer['file']}`).")
        return [text + self._verdict(results, observer)]

    @staticmethod
    def _verdict(results: dict, observer: dict) -> str:
        """Where the target is missed: does the bound at its views reach it (the images hold the
        label at this dose) or not (no classifier can reach it)?"""
        outcomes = section("target").numbers(results) or {}
        target = results["bench"].get("target") or {}
        k = target.get("views") or 1
        bound = {(b["views"], b["selection"]): b["accuracy_bound"] for b in observer["bounds"]}
        missed = [bound.get((k, s if k > 1 else "first")) for s in SELECTIONS
                  if outcomes.get(s) and not outcomes[s]["reached"]]
        missed = [b for b in missed if b is not None]
        if not missed or next(o for o in outcomes.values() if o)["metric"] != "accuracy":
            return ""
        if all(b >= target["value"] for b in missed):
            return (" The dose hides no label: the gap to the target is in the models, which must also find the "
                    "orientation, size and cut depth the observer is told.")
        return (" The bound is below the target: at this dose the images hide the label of some objects, and no "
                "classifier reaches it.")


def observer_line(results: dict) -> str:
    """The ideal observer's bound at 1 view and at the target's views, or ``""`` when it was not run;
    where the target is missed, whether the bound there reaches it."""
    return "".join(Observer().render(results))
