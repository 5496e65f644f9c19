"""``stemsim generate | preview | info``."""

from __future__ import annotations

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


MAX_PREVIEW = 256  # images in one preview grid
JOBS_PER_CORE = 4  # --jobs at most this many local worker processes per CPU core


def _warn(message: str) -> None:
    typer.echo(f"stemsim: warning: {message}", err=True)


def _say_if_compiling() -> None:
    """Say once, to someone watching (stderr a terminal), that the simulator's kernels are
    being compiled: the first run on a machine spends seconds there, silently otherwise.
    Piped and logged output stays as it is."""
    from rich.console import Console

    console = Console(stderr=True)
    if console.is_terminal:
        from stemsim.simulator.kernels import cache_is_cold

        if cache_is_cold():
            console.print("compiling the simulator's kernels (first run only) ...", highlight=False)


def check_generate_options(jobs: int, backend: str, scheduler: str | None) -> None:
    """Refuse the options of ``generate`` that cannot work, before the spec is read."""
    import os

    from stemsim.errors import InputError, shown

    if backend not in ("loky", "dask"):
        raise InputError(f"--backend: expected loky or dask, got {shown(backend)}")
    if jobs < 1:
        raise InputError(f"--jobs: must be >= 1, got {jobs}")
    most = JOBS_PER_CORE * (os.cpu_count() or 1)
    if backend == "loky" and jobs > most:
        raise InputError(f"--jobs: at most {most} worker processes here ({JOBS_PER_CORE} per CPU core), got {jobs}")
    if scheduler is not None and backend != "dask":
        raise InputError("--scheduler: only with --backend dask")


def check_preview_options(n: int, out: Path) -> None:
    """Refuse the options of ``preview`` that cannot work, before anything is drawn."""
    from stemsim.errors import InputError

    if n < 1:
        raise InputError(f"-n: must be >= 1, got {n}")
    if n > MAX_PREVIEW:
        raise InputError(f"-n: at most {MAX_PREVIEW} images in a grid, got {n}")
    if out.is_dir():
        raise InputError(f"{out}: is a folder; give --out the PNG file to write")
    for parent in out.parents:
        if parent.exists():
            if not parent.is_dir():
                raise InputError(f"{parent}: is a file, not a folder; choose another --out")
            break


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

    check_generate_options(jobs, backend, scheduler)
    resolved = load_spec(spec, seed=seed, limit=limit, warn=_warn)
    check_target(resolved, out)
    _say_if_compiling()
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
    out: Path = typer.Option(..., "--out", "-o", help="Grid image to write (PNG)."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Override the spec's seed."),
    display: str = typer.Option("log", "--display", help=(
        "How images are scaled for the eye: log (shows the thin carbon support), percentile "
        "(0.5-99.5 % clipped, then min-max) or minmax (as uint8/uint16 datasets store them, the support "
        "nearly black). Datasets are not affected.")),
) -> None:
    """A labelled grid of sample images from a spec, without writing a dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from stemsim.dataset import acquire, load_spec, plan, sample_views
    from stemsim.dataset.files import write_atomic
    from stemsim.dataset.generate import render
    from stemsim.errors import InputError, shown

    from stemsim.dataset.display import DISPLAYS, display_scaled

    if spec.is_dir():
        raise InputError(f"{spec}: is a folder; preview takes a spec file (a dataset's spec.yaml works too)")
    if display not in DISPLAYS:
        raise InputError(f"--display: expected {', '.join(DISPLAYS)}, got {shown(display)}")
    check_preview_options(n, out)
    resolved = load_spec(spec, seed=seed, warn=_warn)
    _say_if_compiling()
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
        axis.imshow(display_scaled(render(acquire(params), "float32"), display), cmap="gray", vmin=0.0, vmax=1.0)
        title = str(item.label) if resolved["label"] == "shape" else f"{item.label} ({params['shape']})"
        axis.set_title(title + (f" view {position % views}" if views > 1 else ""), fontsize=8)
    figure.suptitle(resolved["name"], fontsize=10)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    try:
        write_atomic(out, buffer.getvalue())
    except OSError as error:
        raise InputError(f"{error.filename or out}: cannot write the preview "
                         f"({(error.strerror or type(error).__name__).lower()})") from None
    typer.echo(f"wrote {out} ({len(items)} images)")


def info_command(directory: Path = typer.Argument(..., help="A dataset directory made by stemsim generate.")) -> None:
    """What a dataset holds: spec, counts per split and label, formats, the version that made it."""
    from rich.console import Console

    from stemsim.dataset.store import open_dataset
    from stemsim.errors import InputError

    store = open_dataset(directory)
    if not store.has_spec:
        raise InputError(f"{directory}: not a stemsim dataset (no spec.yaml)")
    document = store.document  # the limits of every spec: no alias bomb, no key twice
    if not isinstance(document, dict) or "spec_hash" not in document:
        raise InputError(f"{store.spec_file}: not a dataset's resolved spec (no spec_hash); is {directory} a dataset?")
    console = Console()
    spec = store.spec  # every key there and valid (views: made before they existed)
    complete, expected = len(store.complete()), store.planned
    counts: Counter = Counter()
    if store.manifest_file.is_file():
        counts = Counter((row["split"], row["label"]) for row in store.manifest)
    console.print(f"[bold]{spec['name']}[/bold]  (label: {spec['label']}, seed {spec['seed']}, "
                  f"{spec['image']['size']}² px at {spec['image']['pixel_size']} nm)")
    console.print(f"made by stemsim {document.get('stemsim_version')}, image model {store.image_model_version}, "
                  f"contrast {spec['microscope'].get('contrast', 'linear')}, spec_hash {document.get('spec_hash')}")
    if store.image_model_note:
        console.print(f"[bold]note:[/bold] {store.image_model_note}")
    console.print(f"formats: {', '.join(spec['output']['formats'])} ({spec['output']['dtype']}), ground truth: "
                  f"{'yes' if spec['output']['ground_truth'] else 'no'}; shards complete: {complete}/{len(expected)}"
                  + ("" if complete == len(expected) else " — re-run `stemsim generate` to finish"))
    views = store.views
    if views.count > 1:
        console.print(f"views: {views.count} per object ({views.mode}); the table counts views")
    labels = store.classes
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
