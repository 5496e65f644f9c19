"""Deformed-object data: test accuracy by deformation depth and by number of deformed vertices."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stemsim.benchmarks.datafiles import manifest_objects
from stemsim.benchmarks.sections.base import Section, fmt, register

DEPTH_BINS = (0.0, 0.2, 0.25, 0.3, 0.5)
"""Edges of the deformation-depth bins of :func:`accuracy_by_deformation` (fractions of the edge)."""


def accuracy_by_deformation(dataset: Path, predictions: Path) -> dict[str, list[dict]] | None:
    """Test accuracy of one model by deformation depth and by number of deformed vertices.

    Joins the evaluation's ``predictions.csv`` (``id``: image or object id) to the manifest of
    the dataset in folder ``dataset`` (``object_id``). Shows where the errors sit: if accuracy climbs with
    depth, the small deformations are what the models miss. None for data without a
    stemsim manifest.
    """
    objects = manifest_objects(dataset)
    if objects is None or not predictions.is_file():
        return None
    with predictions.open() as handle:
        rows = [(objects.get(r["id"]), r["true"] == r["predicted"]) for r in csv.DictReader(handle)]
    rows = [(obj, right) for obj, right in rows if obj is not None]
    if not rows:
        return None

    def table(key) -> list[dict]:
        groups: dict[str, list[bool]] = {}
        for obj, right in rows:
            groups.setdefault(key(obj), []).append(right)
        return [{"group": g, "n": len(v), "accuracy": float(np.mean(v))} for g, v in sorted(groups.items())]

    def depth_bin(obj) -> str:
        depth = float(obj["depth"] or 0)
        if int(obj["n_deformed"]) == 0:
            return "undeformed"
        k = int(np.searchsorted(DEPTH_BINS, depth, side="right")) - 1
        k = min(max(k, 0), len(DEPTH_BINS) - 2)
        return f"{DEPTH_BINS[k]:.2f}–{DEPTH_BINS[k + 1]:.2f}"

    return {"depth": table(depth_bin), "n_deformed": table(lambda obj: f"{int(obj['n_deformed'])}")}


@register
class Deformation(Section):
    """Per row ``by_deformation`` (:func:`accuracy_by_deformation`, where the dataset has a
    manifest), rendered as *Where the errors are*."""

    name = "deformation"

    def row(self, bench: dict, folder: Path, row: dict) -> dict:
        breakdown = accuracy_by_deformation(folder, Path(row["evaluation_dir"]) / "predictions.csv")
        return {"by_deformation": breakdown} if breakdown else {}

    def render(self, results: dict) -> list[str]:
        rows = [r for r in results["models"] if r.get("by_deformation")]
        if not rows:
            return []
        lines = ["", "## Where the errors are (test split)", "",
                 "Accuracy by the depth of the deformations (fraction of the edge; `undeformed`: none) and by the "
                 "number of deformed vertices. Accuracy that climbs with depth means the shallow cuts are what the "
                 "models miss; whether the images show them at this dose is the ideal observer's question "
                 "(`python -m stemsim.benchmarks.observer`).", ""]
        for kind, title in (("depth", "depth"), ("n_deformed", "deformed vertices")):
            groups = [g["group"] for g in rows[0]["by_deformation"][kind]]
            lines += [f"| model \\ {title} | " + " | ".join(groups) + " |", "|---" * (len(groups) + 1) + "|"]
            counts = {g["group"]: g["n"] for g in rows[0]["by_deformation"][kind]}
            for row in rows:
                values = {g["group"]: g["accuracy"] for g in row["by_deformation"][kind]}
                lines.append(f"| {row['name']} | " + " | ".join(fmt(values.get(g)) for g in groups) + " |")
            lines += ["| (images) | " + " | ".join(str(counts[g]) for g in groups) + " |", ""]
        return lines
