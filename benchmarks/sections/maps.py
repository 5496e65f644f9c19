"""Two-stage models: stage 1's pixel-wise maps against the simulator's ground truth (rows' ``maps``)."""

from __future__ import annotations

from stemsim.benchmarks.sections.base import Section, register


def scored_maps(results: dict) -> list[dict]:
    """The rows whose pixel-wise maps were scored (``maps.mask_iou``)."""
    return [r for r in results["models"] if "mask_iou" in r.get("maps", {})]


@register
class Maps(Section):
    """*Pixel-wise maps*: mask IoU, thickness and volume errors, vertex precision and recall of
    each scored row, against the targets :func:`stemsim.classifiers.pixelwise.map_rows` states."""

    name = "maps"

    def render(self, results: dict) -> list[str]:
        from stemsim.classifiers.pixelwise import map_rows

        rows = scored_maps(results)
        if not rows:
            return []
        names = [name for name, *_ in map_rows(rows[0]["maps"])]
        lines = ["", "## Pixel-wise maps (test split)", "",
                 "Stage 1 of the two-stage models against the simulator's ground truth (definitions in "
                 "`classifiers/pixelwise.py`: IoU and relative errors are means over images; vertices are heat-map "
                 f"peaks within {rows[0]['maps']['definitions']['match_radius_px']:g} px of a true projected vertex, "
                 "pooled).", "",
                 "| model | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
        for row in rows:
            values = map_rows(row["maps"])
            lines.append(f"| {row['name']} | " + " | ".join("–" if v is None else f"{v:.3f}" for _, v, _, _ in values)
                         + " |")
        targets = map_rows(rows[0]["maps"])
        lines.append("| target | " + " | ".join(t for _, _, t, _ in targets) + " |")
        for row in rows:
            lines += ["", f"**{row['name']}**: ![maps](maps/{row['name']}.png)"]
        return lines + [""]
