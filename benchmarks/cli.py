"""``stemsim bench``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer


def bench_command(
    bench: Path = typer.Argument(..., help="Bench file, e.g. configs/benchmarks/deformed.yaml."),
    out: Path = typer.Option(..., "--out", "-o", help="Report directory (report.md, results.json/csv, figures, runs/)."),
    full: bool = typer.Option(False, "--full", help="The paper-size runs of the bench's `full` section (for a GPU)."),
    datasets: Optional[Path] = typer.Option(None, "--datasets", help="Where datasets are made and reused "
                                            "(default: OUT/../datasets), one folder per spec hash."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Processes for dataset generation."),
    models: Optional[str] = typer.Option(None, "--models", help="Comma-separated model names: run only these."),
    report_only: bool = typer.Option(False, "--report-only", help="Train nothing: rewrite report.md and "
                                     "results.json/csv from OUT/results.json and the bench file as it is now."),
) -> None:
    """Make or reuse the dataset, train every listed classifier, evaluate on the test split, write a report."""
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from stemsim.benchmarks.runner import rewrite_report, run_bench

    if report_only:
        if models or datasets is not None:
            from stemsim.errors import InputError

            raise InputError("--report-only: trains nothing, so it takes no --models or --datasets")
        results = rewrite_report(bench, out, full=full)
        typer.echo(f"rewrote {out / 'report.md'} ({len(results['models'])} models, {len(results['skipped'])} skipped)")
        return
    results = run_bench(bench, out, full=full, datasets=datasets, jobs=jobs,
                        only=models.split(",") if models else None, log=lambda m: typer.echo(m, err=True))
    typer.echo(f"wrote {out / 'report.md'} ({len(results['models'])} models, {len(results['skipped'])} skipped)")


def register(app: typer.Typer) -> None:
    app.command("bench")(bench_command)
