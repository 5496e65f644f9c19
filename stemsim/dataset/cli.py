"""``stemsim generate | preview | info``."""

from __future__ import annotations

import csv
import io
import math
from collections import Counter
from pathlib import Path
from typing import Optional

import typer


def _human(size: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} GB"


def _counts_table(title: str, counts: Counter, splits: list[str], labels: list[str]):
    from rich.table import Table

    table = Table(title=title)
    table.add_column("label")
    for split in splits:
        table.add_column(split, justify="right")
    table.add_column("total", justify="right")
    for label in labels:
        row = [counts.get((split, label), 0) for split in splits]
        table.add_row(label, *map(str, row), str(sum(row)))
    totals = [sum(counts.get((split, label), 0) for label in labels) for split in splits]
    table.add_row("total", *map(str, totals), str(sum(totals)), style="bold")
    return table


def generate_command(
    spec: Path = typer.Argument(..., help="Dataset spec (YAML), e.g. configs/quickstart.yaml."),
    out: Path = typer.Option(..., "--out", "-o", help="Output directory (created; an interrupted run resumes)."),
    jobs: int = typer.Option(1, "--jobs", "-j", help="Worker processes (the output is identical for any number)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the spec's seed."),
    limit: Optional[int] = typer.Option(None, "--limit", help="At most this many images per class (a quick try)."),
    backend: str = typer.Option("loky", "--backend", help="loky (local processes) or dask (a Dask cluster)."),
    scheduler: Optional[str] = typer.Option(None, "--scheduler", help="Dask scheduler address, with --backend dask."),
) -> None:
    """Make a labelled dataset: class folders, npz shards, manifest.csv and the resolved spec.yaml."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from stemsim.dataset import generate, load_spec
    from stemsim.dataset.generate import check_target
    from stemsim.errors import InputError

    if jobs < 1:
        raise InputError(f"--jobs: must be >= 1, got {jobs}")
    resolved = load_spec(spec, seed=seed, limit=limit)
    check_target(resolved, out)
    console = Console(stderr=True)
    columns = (TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("{task.fields[rate]} img/s"), TimeRemainingColumn())
    # a bar only where someone watches: piped or logged output gets the summary alone
    with Progress(*columns, console=console, transient=False, disable=not console.is_terminal) as bar:
        task = bar.add_task(resolved["name"], total=None, rate="–")
        state = {"first": None}

        def report(done: int, total: int) -> None:
            import time

            now = time.perf_counter()
            if state["first"] is None:
                state["first"] = (now, done)
            start, skipped = state["first"]
            rate = (done - skipped) / (now - start) if now > start else 0.0
            bar.update(task, completed=done, total=total, rate=f"{rate:.0f}" if rate else "–")

        try:
            summary = generate(resolved, out, jobs=jobs, backend=backend, scheduler=scheduler, progress=report)
        except InputError:
            bar.live.transient = True  # the error is the one line left
            raise
        except KeyboardInterrupt:
            console.print(f"interrupted: complete shards are kept; run the same command again to resume into {out}")
            # SystemExit, not typer.Exit: a verb's typer.Exit code is returned by app() outside
            # standalone mode, and stemsim.cli.main would exit 0
            raise SystemExit(130) from None
    splits = list(resolved["splits"])
    labels = [str(v) for v in resolved["classes"]["values"]]
    console.print(_counts_table(f"{resolved['name']} → {out}", summary.counts, splits, labels))
    resumed = f", {summary.skipped} already there" if summary.skipped else ""
    console.print(f"made {summary.made} images in {summary.seconds:.1f} s ({summary.rate:.0f} img/s{resumed}); "
                  f"{_human(summary.bytes_on_disk)} on disk")


def preview_command(
    spec: Path = typer.Argument(..., help="Dataset spec (YAML)."),
    n: int = typer.Option(16, "-n", help="Number of sample images."),
    out: Path = typer.Option(Path("preview.png"), "--out", "-o", help="Grid image to write (PNG)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the spec's seed."),
) -> None:
    """A labelled grid of sample images from a spec, without writing a dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stemsim.dataset import acquire, load_spec, plan, sample_views
    from stemsim.dataset.files import write_atomic
    from stemsim.dataset.generate import render
    from stemsim.errors import InputError

    if n < 1:
        raise InputError(f"-n: must be >= 1, got {n}")
    resolved = load_spec(spec, seed=seed)
    views = resolved["views"]["count"]
    # With views, the grid shows whole objects: their views side by side.
    items = [(item, params) for item in plan(resolved)[:math.ceil(n / views)]
             for params in sample_views(resolved, item)][:n]
    columns = math.ceil(math.sqrt(len(items)))
    rows = math.ceil(len(items) / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(2 * columns, 2.2 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for position, (axis, (item, params)) in enumerate(zip(axes.ravel(), items)):
        axis.imshow(render(acquire(params), "float32"), cmap="gray")
        title = str(item.label) if resolved["label"] == "shape" else f"{item.label} ({params['shape']})"
        axis.set_title(title + (f" view {position % views}" if views > 1 else ""), fontsize=8)
    figure.suptitle(resolved["name"], fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_atomic(out, buffer.getvalue())
    typer.echo(f"wrote {out} ({len(items)} images)")


def info_command(directory: Path = typer.Argument(..., help="A dataset directory made by stemsim generate.")) -> None:
    """What a dataset holds: spec, counts per split and label, formats, the version that made it."""
    import yaml
    from rich.console import Console

    from stemsim.dataset.generate import PARTS, shards
    from stemsim.dataset.spec import without_stamp
    from stemsim.errors import InputError

    spec_file = directory / "spec.yaml"
    if not spec_file.is_file():
        raise InputError(f"{directory}: not a stemsim dataset (no spec.yaml)")
    try:
        document = yaml.safe_load(spec_file.read_text())
    except yaml.YAMLError:
        document = None
    if not isinstance(document, dict) or "spec_hash" not in document:
        raise InputError(f"{spec_file}: not a dataset's resolved spec (no spec_hash); is {directory} a dataset?")
    console = Console()
    spec = without_stamp(document)
    spec.setdefault("views", {"count": 1})  # made before views existed
    expected = shards(spec)
    complete = sum((directory / PARTS / f"{s.name}.csv").is_file() for s in expected)
    counts: Counter = Counter()
    manifest = directory / "manifest.csv"
    if manifest.is_file():
        with manifest.open() as handle:
            counts = Counter((row["split"], row["label"]) for row in csv.DictReader(handle))
    console.print(f"[bold]{spec['name']}[/bold]  (label: {spec['label']}, seed {spec['seed']}, "
                  f"{spec['image']['size']}² px at {spec['image']['pixel_size']} nm)")
    console.print(f"made by stemsim {document.get('stemsim_version')}, spec_hash {document.get('spec_hash')}")
    console.print(f"formats: {', '.join(spec['output']['formats'])} ({spec['output']['dtype']}), ground truth: "
                  f"{'yes' if spec['output']['ground_truth'] else 'no'}; shards complete: {complete}/{len(expected)}"
                  + ("" if complete == len(expected) else " — re-run `stemsim generate` to finish"))
    views = spec["views"]
    if views["count"] > 1:
        console.print(f"views: {views['count']} per object ({views['mode']}); the table counts views")
    labels = [str(v) for v in spec["classes"]["values"]]
    console.print(_counts_table("images", counts, list(spec["splits"]), labels))
    order = ", ".join(f"{i} = {label}" for i, label in enumerate(labels))  # sorted() differs: say so
    alphabetical = "the same here" if labels == sorted(labels) else "here " + ", ".join(sorted(labels))
    console.print(f"label indices (manifest label_index, npz labels) in the spec's order: {order}; "
                  f"keras.utils.image_dataset_from_directory numbers class folders alphabetically ({alphabetical})",
                  markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("generate")(generate_command)
    app.command("preview")(preview_command)
    app.command("info")(info_command)
