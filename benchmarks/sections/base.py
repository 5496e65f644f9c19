"""What a report section is, the registry of them, and the number formats every one writes.

A :class:`Section` is one analysis of a bench's results. It says itself when it applies
(from the results and the bench file, never from the bench's name), computes its numbers
(stored in ``results.json``), and renders its Markdown from those numbers, so that a sentence
stating a finding changes or disappears when the numbers do. :func:`register` adds one to
:data:`SECTIONS`, in report order; :mod:`stemsim.benchmarks.report` assembles them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SECTIONS: list["Section"] = []
"""Every registered section, in the order of the report (summary paragraphs, then body sections)."""


class Section:
    """One analysis of a bench's results.

    Attributes
    ----------
    name : str
        Its name; its numbers are ``results["analyses"][name]`` unless :attr:`key` says otherwise.
    place : str
        ``"summary"``: a paragraph under the results table (and in the docs page), or
        ``"body"``: lines of its own further down the report.
    key : str or None
        A top-level key of ``results.json`` holding its numbers (kept where earlier results
        have them: ``labels``, ``observer``), or None for ``analyses.<name>``.
    """

    name = ""
    place = "body"
    key: str | None = None

    def row(self, bench: dict, folder: Path, row: dict) -> dict[str, Any]:
        """Numbers of one model's evaluation added to its row at run time (``{}`` when none).

        ``bench``: the loaded bench file; ``folder``: the dataset's folder; ``row``: the row
        so far, with ``evaluation_dir`` (its ``predictions.csv``)."""
        return {}

    def compute(self, results: dict, bench: dict, out: Path | None) -> Any:
        """The section's numbers from the rows (and the bench file, the report folder ``out``),
        or None when it does not apply. Called every time a report is written."""
        return None

    def render(self, results: dict) -> list[str]:
        """The section's Markdown lines, from the stored numbers; ``[]`` when it does not apply."""
        return []

    def numbers(self, results: dict) -> Any:
        """The stored numbers of this section in ``results`` (computed here when absent, as in
        results written before the section stored them)."""
        if self.key:
            return results.get(self.key)
        analyses = results.get("analyses") or {}
        if self.name in analyses:
            return analyses[self.name]
        return self.compute(results, {}, None)


def register(section: type[Section]) -> type[Section]:
    """Add one instance of ``section`` to :data:`SECTIONS` (class decorator)."""
    SECTIONS.append(section())
    return section


def section(name: str) -> Section:
    """The registered section called ``name``."""
    return next(s for s in SECTIONS if s.name == name)


TOP_LEVEL = ("labels", "observer")
"""The sections whose numbers are top-level keys of ``results.json``, in the file's order (where
results written before the ``analyses`` key have them)."""


def analyse(results: dict, bench: dict, out: Path | None) -> None:
    """Compute every section's numbers into ``results``: first the top-level ones (what the
    dataset and the report folder hold, which others read), then ``analyses``, so that the
    file's keys keep their order from one writing to the next."""
    gathered = {s.key: s.compute(results, bench, out) for s in SECTIONS if s.key}
    for key in TOP_LEVEL:
        results.pop(key, None)
        if gathered.get(key) is not None:
            results[key] = gathered[key]
    results.pop("analyses", None)
    analyses = {}
    for s in SECTIONS:
        if not s.key:
            value = s.compute(results, bench, out)
            if value is not None:
                analyses[s.name] = value
    results["analyses"] = analyses


def fmt(value, percent=True) -> str:
    """``97.8 %`` (``percent``) or ``0.978``; ``–`` for a missing value."""
    if value is None:
        return "–"
    return f"{100 * value:.1f} %" if percent else f"{value:.3f}"


def minutes(value: float) -> str:
    """``12 min``, or ``under a minute`` below half a minute."""
    return f"{value:.0f} min" if value >= 0.5 else "under a minute"


def metric_value(metrics: dict, name: str):
    """A metric of an evaluation by the name a bench file gives it (``roc_auc``: the macro mean)."""
    if name in ("roc_auc", "mean_roc_auc"):
        return metrics.get("roc_auc_macro")
    return metrics.get(name)
