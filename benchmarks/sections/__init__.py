"""The analyses of a bench report, each a registered :class:`~stemsim.benchmarks.sections.base.Section`.

Imported in report order: the summary paragraphs under the results table (target, ideal
observer, label ceiling, families, time), then the body sections (per category, the labels,
views, pixel-wise maps, where the errors are, count errors). A new analysis is one module
here and one import line below.
"""

from __future__ import annotations

from stemsim.benchmarks.sections import target, bound, categories, labels, family, timing, views, maps  # noqa: F401
from stemsim.benchmarks.sections import deformation, counts  # noqa: F401
from stemsim.benchmarks.sections.base import SECTIONS, Section, analyse, fmt, register, section  # noqa: F401


def summary_lines(results: dict) -> list[str]:
    """The summary sections' paragraphs, each after an empty line (report and docs page)."""
    return [item for s in SECTIONS if s.place == "summary" for line in s.render(results) for item in ("", line)]


def body_lines(results: dict) -> list[str]:
    """The body sections' lines, in report order."""
    return [line for s in SECTIONS if s.place == "body" for line in s.render(results)]
