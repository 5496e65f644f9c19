"""Write the docs' bench pages from the committed ``results/<bench>/results.json`` files.

    python -m stemsim.benchmarks.readme               # every committed bench
    python -m stemsim.benchmarks.readme stm shape     # these pages only (names under results/)

Each bench gets ``docs/benchmarks/<bench>.md``: its commands, the results table, the views
table and pixel-wise scores where it has them, the summary sections of its report
(:mod:`stemsim.benchmarks.sections`: target, ideal observer, label ceiling, families, time) and its
figures, linked from ``results/<bench>/``. The block between ``<!-- bench-results -->``
markers of ``docs/benchmarks.md`` becomes the index of the pages there are;
``tests/test_readme.py`` checks that their numbers are the committed ones.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from stemsim.benchmarks.sections import summary_lines
from stemsim.benchmarks.sections.target import target_line
from stemsim.classifiers.pipelines import PIPELINES

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "results"
INDEX = ROOT / "docs" / "benchmarks.md"
PAGES = ROOT / "docs" / "benchmarks"
BLOCK = re.compile(r"<!-- bench-results -->.*<!-- /bench-results -->", re.S)
NOT_BENCHES = ("simulator",)
"""Folders of ``results/`` that are not classifier benches (the simulator benchmark's)."""


def _trained(model: dict) -> str:
    """How a row's model learnt, for the table (its kind's pipeline says what it is)."""
    pipeline = PIPELINES.get(model["model"])
    if pipeline is not None and not pipeline.needs_keras:
        return "no deep learning"
    if pipeline is not None and pipeline.makes_maps:
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


def _table(results: dict) -> list[str]:
    base = results["models"][0]["baseline"]
    if any("exact_match_accuracy" in m["metrics"] for m in results["models"]):
        lines = ["| model | exact match | mean category acc. | mean balanced acc. | macro-F1 | mean ROC AUC |",
                 "|---|---|---|---|---|---|"]
        for model in results["models"]:
            x = model["metrics"]
            lines.append(f"| {model['name']} ({_trained(model)}) | {100 * x['exact_match_accuracy']:.1f} % | "
                         f"{100 * x['mean_category_accuracy']:.1f} % | "
                         f"{100 * x['mean_category_balanced_accuracy']:.1f} % | {100 * x['macro_f1']:.1f} % | "
                         f"{x['roc_auc_macro']:.3f} |")
        lines.append(f"| constant predictor | {100 * base['exact_match_accuracy']:.1f} % | "
                     f"{100 * base['mean_category_accuracy']:.1f} % | 50.0 % | {100 * base['macro_f1']:.1f} % | 0.500 |")
        return lines
    lines = ["| model | accuracy | balanced acc. | macro-F1 | ROC AUC |", "|---|---|---|---|---|"]
    for model in results["models"]:
        x = model["metrics"]
        lines.append(f"| {model['name']} ({_trained(model)}) | {100 * x['accuracy']:.1f} % | "
                     f"{100 * x['balanced_accuracy']:.1f} % | {100 * x['macro_f1']:.1f} % | "
                     f"{x['roc_auc_macro']:.3f} |")
    lines.append(f"| constant predictor | {100 * base['accuracy']:.1f} % | "
                 f"{100 * base['balanced_accuracy']:.1f} % | {100 * base['macro_f1']:.1f} % | 0.500 |")
    return lines


def _figures(name: str, results: dict) -> list[str]:
    """The report's figures, linked from the page (``docs/benchmarks/``) to ``results/<name>/``."""
    folder, link = RESULTS / name, f"../../results/{name}"
    lines = ["", "## Figures", ""]
    for figure, title in (("samples.png", "test images of each class"), ("views.png", "accuracy against views")):
        if (folder / figure).is_file():
            lines += [f"![{title}]({link}/{figure})", ""]
    for model in results["models"]:
        shown = [f"![{title}]({link}/{sub}/{model['name']}.png)" for sub, title in
                 (("confusion", "confusion"), ("curves", "learning curves"), ("maps", "maps"))
                 if (folder / sub / f"{model['name']}.png").is_file()]
        if shown:
            lines += [f"**{model['name']}**: " + " ".join(shown), ""]
    return lines


def _load(name: str) -> dict:
    return json.loads((RESULTS / name / "results.json").read_text())


def _mode(results: dict) -> str:
    return " (`--full` list)" if results["bench"].get("mode") == "full" else ""


def page(name: str) -> str:
    """``docs/benchmarks/<name>.md`` from ``results/<name>/results.json``."""
    results = _load(name)
    bench = results["bench"]
    commands = "; ".join(f"`{c}`" for c in results.get("commands", [results["command"]]))
    lines = [f"# {bench['title']}{_mode(results)}", "", *([bench["note"], ""] if bench.get("note") else []),
             f"Commands: {commands}; full report: [`results/{name}/report.md`](../../results/{name}/report.md).", ""]
    lines += _table(results)
    lines += _views_table(results)
    lines += _maps_lines(results)
    prior = bench.get("prior")
    if prior:
        lines += ["", f"Prior work: {prior['note']}: {100 * prior['value']:.1f} % "
                      f"({prior['metric'].replace('_', ' ')})."]
    lines += summary_lines(results)
    lines += _figures(name, results)
    return "\n".join(lines)


def index(names: list[str]) -> str:
    """The block of ``docs/benchmarks.md``: one line per bench page, with its target's outcome."""
    machines = sorted({f"{r['environment'].get('device', 'cpu')}, {r['environment'].get('cpus', '?')} cpus"
                       for r in map(_load, names)})
    lines = ["<!-- bench-results -->",
             f"Classifier benches committed so far ({'; '.join(machines)}; the models each command ran — "
             "pretrained models that need downloads are listed as not run in the reports), one page each with its "
             "tables and figures (`python -m stemsim.benchmarks.readme` writes them from `results/NAME/results.json`):", ""]
    for name in names:
        results = _load(name)
        outcome = target_line(results)
        lines.append(f"- [{results['bench']['title']}{_mode(results)}](benchmarks/{name}.md)"
                     + (f": {outcome}" if outcome else ""))
    return "\n".join(lines + ["<!-- /bench-results -->"])


def committed() -> list[str]:
    """The benches under ``results/``, default before ``-full``, in name order."""
    names = sorted(p.parent.name for p in RESULTS.glob("*/results.json") if p.parent.name not in NOT_BENCHES)
    return sorted(names, key=lambda n: (n.removesuffix("-full"), n.endswith("-full")))


def main(names: list[str]) -> None:
    PAGES.mkdir(exist_ok=True)
    for name in names or committed():
        (PAGES / f"{name}.md").write_text(page(name) + "\n")
    text = INDEX.read_text()
    INDEX.write_text(BLOCK.sub(lambda _: index(committed()), text))


if __name__ == "__main__":
    main(sys.argv[1:])
