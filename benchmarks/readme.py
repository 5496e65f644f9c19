"""Write the classifier-bench tables of ``docs/benchmarks.md`` from committed ``results.json`` files.

    python -m benchmarks.readme stm shape     # names under benchmarks/results/, in this order
    python -m benchmarks.readme               # the benches the page shows now, in its order

The block between ``<!-- bench-results -->`` markers is replaced; ``tests/test_readme.py``
checks that its numbers are the committed ones.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from benchmarks.bench import ceiling_line, family_lines, observer_line, target_line, time_line

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "benchmarks.md"
BLOCK = re.compile(r"<!-- bench-results -->.*<!-- /bench-results -->", re.S)
LEAD = ("Classifier benches committed so far (this 2-core CPU, no GPU; the models each command ran — pretrained "
        "models that need downloads are listed as not run in the reports). Each says whether its target is reached; "
        "the reports show where the errors are:")


def _trained(model: dict) -> str:
    if model["model"] in ("geometric", "texture"):
        return "no deep learning"
    if model["model"] == "two_stage":
        return "U-Net maps from the ground truth + features"
    weights = model["weights"].removeprefix("family members: ")
    return "from scratch" if weights.startswith("none") else model["weights"]


def _views_table(results: dict) -> list[str]:
    rows = [m for m in results["models"] if m.get("by_views")]
    if not rows:
        return []
    counts = results["bench"]["views"]["counts"]
    lines = ["", "| test accuracy with K views per object | " + " | ".join(f"K = {k}" for k in counts) + " |",
             "|---|" + "---|" * len(counts)]
    for model in rows:
        for curve in model["by_views"]:
            values = {p["views"]: p["accuracy"] for p in curve["points"]}
            spread = ", spread" if curve.get("selection") == "spread" else ""
            lines.append(f"| {model['name']} ({curve['fusion']}{spread}) | "
                         + " | ".join(f"{100 * values[k]:.1f} %" for k in counts) + " |")
    return lines


def maps_line(model: dict) -> str:
    """One sentence of a two-stage model's pixel-wise scores (test split)."""
    maps = model["maps"]
    v = maps["vertices"]

    def pr(kind):
        return f"{v[kind]['precision']:.2f} / {v[kind]['recall']:.2f}"

    return (f"Pixel-wise maps of {model['name']} ({maps['n_images']} test images; targets IoU ≥ 0.95, errors ≤ 5 %, "
            f"vertices ≥ 0.9): mask IoU {maps['mask_iou']['mean']:.3f}, thickness error "
            f"{100 * maps['thickness_relative_error']['mean']:.1f} %, volume error "
            f"{100 * maps['volume_relative_error']['mean']:.1f} %, vertex precision / recall {pr('all')}, "
            f"deformed vertices {pr('deformed')}.")


def _maps_lines(results: dict) -> list[str]:
    return [item for m in results["models"] if "mask_iou" in m.get("maps", {}) for item in ("", maps_line(m))]


def section(name: str) -> str:
    results = json.loads((ROOT / "benchmarks" / "results" / name / "results.json").read_text())
    bench = results["bench"]
    commands = "; ".join(f"`{c}`" for c in results.get("commands", [results["command"]]))
    mode = " (`--full` list)" if bench.get("mode") == "full" else ""
    lines = [f"**{bench['title']}**{mode} ({commands}; full report: `benchmarks/results/{name}/report.md`)", ""]
    base = results["models"][0]["baseline"]
    if any("exact_match_accuracy" in m["metrics"] for m in results["models"]):
        lines += ["| model | exact match | mean category acc. | mean balanced acc. | macro-F1 | mean ROC AUC |",
                  "|---|---|---|---|---|---|"]
        for model in results["models"]:
            x = model["metrics"]
            lines.append(f"| {model['name']} ({_trained(model)}) | {100 * x['exact_match_accuracy']:.1f} % | "
                         f"{100 * x['mean_category_accuracy']:.1f} % | "
                         f"{100 * x['mean_category_balanced_accuracy']:.1f} % | {100 * x['macro_f1']:.1f} % | "
                         f"{x['roc_auc_macro']:.3f} |")
        lines.append(f"| constant predictor | {100 * base['exact_match_accuracy']:.1f} % | "
                     f"{100 * base['mean_category_accuracy']:.1f} % | 50.0 % | {100 * base['macro_f1']:.1f} % | 0.500 |")
    else:
        lines += ["| model | accuracy | balanced acc. | macro-F1 | ROC AUC |", "|---|---|---|---|---|"]
        for model in results["models"]:
            x = model["metrics"]
            lines.append(f"| {model['name']} ({_trained(model)}) | {100 * x['accuracy']:.1f} % | "
                         f"{100 * x['balanced_accuracy']:.1f} % | {100 * x['macro_f1']:.1f} % | "
                         f"{x['roc_auc_macro']:.3f} |")
        lines.append(f"| constant predictor | {100 * base['accuracy']:.1f} % | "
                     f"{100 * base['balanced_accuracy']:.1f} % | {100 * base['macro_f1']:.1f} % | 0.500 |")
    lines += _views_table(results)
    lines += _maps_lines(results)
    prior = bench.get("prior")
    if prior:
        lines += ["", f"Prior work: {prior['note']}: {100 * prior['value']:.1f} % "
                      f"({prior['metric'].replace('_', ' ')})."]
    lines += [item for line in (target_line(results), observer_line(results), ceiling_line(results),
                                *family_lines(results)) if line
              for item in ("", line)]
    lines += ["", time_line(results)]
    return "\n".join(lines + [""])


def shown(text: str) -> list[str]:
    """The bench names whose sections the page's block holds, in its order."""
    match = BLOCK.search(text)
    if not match:
        raise SystemExit(f"{PAGE}: no <!-- bench-results --> block")
    return list(dict.fromkeys(re.findall(r"full report: `benchmarks/results/([^/`]+)/report\.md`", match.group(0))))


def main(names: list[str]) -> None:
    text = PAGE.read_text()
    names = names or shown(text)
    block = "\n".join(["<!-- bench-results -->", LEAD, "", *map(section, names), "<!-- /bench-results -->"])
    PAGE.write_text(BLOCK.sub(lambda _: block, text))


if __name__ == "__main__":
    main(sys.argv[1:])
