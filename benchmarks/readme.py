"""Write the README's classifier-bench tables from committed ``results.json`` files.

    python -m benchmarks.readme stm shape     # names under benchmarks/results/

The block between ``<!-- bench-results -->`` markers is replaced; ``tests/test_readme.py``
checks that its numbers are the committed ones.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LEAD = ("Classifier benches committed so far (this 2-core CPU; subsets of the bench files' models, named in "
        "each command). Tasks 1–3 and 6 have not been run yet; task 4 reaches its target, task 5 does not yet:")


def _trained(model: dict) -> str:
    return "from scratch" if model["weights"].startswith("none") else model["weights"]


def section(name: str) -> str:
    results = json.loads((ROOT / "benchmarks" / "results" / name / "results.json").read_text())
    bench = results["bench"]
    lines = [f"**{bench['title']}** (`{results['command']}`; full report: `benchmarks/results/{name}/report.md`)", ""]
    base = results["models"][0]["baseline"]
    if any("exact_match_accuracy" in m["metrics"] for m in results["models"]):
        lines += ["| model | exact match | mean category acc. | mean balanced acc. | mean ROC AUC |", "|---|---|---|---|---|"]
        for model in results["models"]:
            x = model["metrics"]
            lines.append(f"| {model['name']} ({_trained(model)}) | {100 * x['exact_match_accuracy']:.1f} % | "
                         f"{100 * x['mean_category_accuracy']:.1f} % | "
                         f"{100 * x['mean_category_balanced_accuracy']:.1f} % | {x['roc_auc_macro']:.3f} |")
        lines.append(f"| constant predictor | {100 * base['exact_match_accuracy']:.1f} % | "
                     f"{100 * base['mean_category_accuracy']:.1f} % | 50.0 % | 0.500 |")
    else:
        lines += ["| model | accuracy | balanced acc. | ROC AUC |", "|---|---|---|---|"]
        for model in results["models"]:
            x = model["metrics"]
            lines.append(f"| {model['name']} ({_trained(model)}) | {100 * x['accuracy']:.1f} % | "
                         f"{100 * x['balanced_accuracy']:.1f} % | {x['roc_auc_macro']:.3f} |")
        lines.append(f"| constant predictor | {100 * base['accuracy']:.1f} % | "
                     f"{100 * base['balanced_accuracy']:.1f} % | 0.500 |")
    prior = bench.get("prior")
    if prior:
        lines += ["", f"Prior work: {prior['note']}: {100 * prior['value']:.1f} % "
                      f"({prior['metric'].replace('_', ' ')})."]
    return "\n".join(lines + [""])


def main(names: list[str]) -> None:
    block = "\n".join(["<!-- bench-results -->", LEAD, "", *map(section, names), "<!-- /bench-results -->"])
    readme = ROOT / "README.md"
    text = readme.read_text()
    text = re.sub(r"<!-- bench-results -->.*<!-- /bench-results -->", lambda _: block, text, flags=re.S)
    readme.write_text(text)


if __name__ == "__main__":
    main(sys.argv[1:])
