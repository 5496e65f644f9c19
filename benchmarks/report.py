"""A bench's ``report.md``, ``results.csv`` and ``results.json``: the results table, then the
registered sections (:mod:`stemsim.benchmarks.sections`), the figures and the environment."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from stemsim.benchmarks.sections import analyse, body_lines, fmt, summary_lines
from stemsim.benchmarks.sections.categories import multilabel


def write_files(results: dict, bench: dict, out: Path) -> None:
    """Compute every section's numbers into ``results`` (the ideal observer's results in
    ``out/observer/`` when :mod:`stemsim.benchmarks.observer` was run there), then write
    ``results.json``, ``results.csv`` and ``report.md`` into ``out``."""
    analyse(results, bench, out)
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (out / "results.csv").write_text(results_csv(results))
    (out / "report.md").write_text(markdown(results))


def table_rows(results: dict) -> list[dict]:
    """One flat row per model: the results table and ``results.csv``."""
    rows = []
    for row in results["models"]:
        m = row["metrics"]
        rows.append({
            "model": row["name"], "architecture": row["model"].get("name") if isinstance(row["model"], dict) else row["model"],
            "weights": row["weights"], "accuracy": m.get("accuracy", m.get("exact_match_accuracy")),
            "balanced_accuracy": m.get("balanced_accuracy", m.get("mean_category_balanced_accuracy")),
            "macro_f1": m.get("macro_f1"), "roc_auc": m.get("roc_auc_macro"),
            "train_seconds": row["train_seconds"], "images_per_second": row["inference"].get("images_per_second"),
            "size_mb": row["size"].get("total_megabytes")})
    return rows


def results_csv(results: dict) -> str:
    """``results.csv``: :func:`table_rows` with a header line."""
    rows = table_rows(results)
    buffer = io.StringIO()
    if rows:
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return buffer.getvalue()


def predicts(baseline: dict) -> str:
    """What the constant predictor answers."""
    value = baseline.get("predicts")
    if isinstance(value, dict):
        return "majority per category"
    return f"always {value}"


def markdown(results: dict) -> str:
    """``report.md`` of ``results`` (as :func:`write_files` left them: rows and sections' numbers)."""
    bench = results["bench"]
    commands = results.get("commands", [results["command"]])
    lines = [f"# {bench['title']}", "", *([bench["note"], ""] if bench.get("note") else []),
             f"Command: `{commands[0]}`" if len(commands) == 1 else
             "Commands (each row names its own in `results.json`): " + "; ".join(f"`{c}`" for c in commands), "",
             f"Dataset: `{results['dataset']['path']}`" + (f" (spec `{results['dataset']['spec']}`)"
                                                          if "spec" in results["dataset"] else ""), ""]
    accuracy_name = "exact match" if multilabel(results) else "accuracy"
    lines += [f"| model | weights | {accuracy_name} | balanced acc. | macro-F1 | ROC AUC | train time | "
              "inference | size |", "|---|---|---|---|---|---|---|---|---|"]
    for row in table_rows(results):
        lines.append(f"| {row['model']} | {row['weights']} | {fmt(row['accuracy'])} | "
                     f"{fmt(row['balanced_accuracy'])} | {fmt(row['macro_f1'])} | {fmt(row['roc_auc'], False)} | "
                     f"{row['train_seconds']:.0f} s | {row['images_per_second'] or 0:.0f} img/s | "
                     f"{row['size_mb']:.2f} MB |")
    if results["models"]:
        base = results["models"][0]["baseline"]
        value = base.get("accuracy", base.get("exact_match_accuracy"))
        balanced = base.get("balanced_accuracy", 0.5)  # multi-label: a constant per category scores 0.5
        lines.append(f"| constant predictor ({predicts(base)}) | – | {fmt(value)} | "
                     f"{fmt(balanced)} | {fmt(base.get('macro_f1'))} | 0.500 | – | – | – |")
    prior = bench.get("prior")
    if prior:
        lines.append(f"| prior work: {prior.get('note', '')} | – | {fmt(prior['value'])} ({prior['metric']}) "
                     "| – | – | – | – | – | – |")
    for skipped in results["skipped"]:
        lines.append(f"| {skipped['name']} (not run) | – | – | – | – | – | – | – | – |")
    lines += summary_lines(results)
    absent = [name for name in results["bench"].get("model_names", [])
              if name not in {r["name"] for r in results["models"] + results["skipped"]}]
    if absent:
        lines += ["", f"Not in this report (run them with `--models {','.join(absent)}`): {', '.join(absent)}."]
    if results["skipped"]:
        lines += ["", "Not run:"] + [f"- {s['name']}: {s['reason']}" for s in results["skipped"]]
    lines += body_lines(results)
    lines += ["", "## Figures", "", "![samples](samples.png)", ""]
    for row in results["models"]:
        lines += [f"**{row['name']}**: ![confusion](confusion/{row['name']}.png) "
                  f"![learning curves](curves/{row['name']}.png)", ""]
    env = results["environment"]
    lines += ["## Environment", "", ", ".join(f"{k} {v}" for k, v in env.items()), "",
              f"Seeds: bench seed {bench['seed']} (weights, shuffling, augmentation); dataset seed in its spec. "
              "TensorFlow op determinism is switched on; on another CPU (other vectorised kernels) or backend "
              "runs may differ in the last digits.", ""]
    return "\n".join(lines)
