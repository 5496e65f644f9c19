"""Generate a dataset: shards of images made in parallel processes, written atomically.

Work is cut into *shards*: shard ``k`` of a split holds that split's objects with ranks
``k·S … (k+1)·S − 1``, where S is ``output.shard_size`` images rounded down to whole
objects and capped so that a shard's in-memory arrays (images and ground truth, every view)
stay within :data:`stemsim.dataset.spec.SHARD_BYTES` (256 MiB; binds only for large images,
e.g. 2 objects at 4096²; see :func:`stemsim.dataset.spec.shard_objects`).  A worker makes one
whole shard: its PNG/TIFF files, then ``arrays/{split}-{k:05d}.npz``, then its manifest
part, the marker that the shard is complete.  Shards depend only on the spec, so any
``--jobs`` (or a Dask cluster) writes the same bytes, and a re-run skips complete shards
(resume).

One ``generate`` at a time writes a folder (:func:`claimed`: an exclusive lock on
``.stemsim/lock``, the spec checked under it). When a run fails (a full disk, a read-only
file system, Ctrl-C), the files of its incomplete shards and its temporaries are removed;
the complete shards stay, and the same command resumes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import threading
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from stemsim.dataset.files import (
    FORMAT_FILE,
    csv_bytes,
    format_bytes,
    npz_bytes,
    png_bytes,
    remove_partials,
    tiff_bytes,
    write_atomic,
)
from stemsim.simulator import IMAGE_MODEL_VERSION
from stemsim.simulator.shapes import REGISTRY
from stemsim.dataset.locking import _Busy, _die_with, _lock, _unlock  # noqa: F401  (re-exported)
from stemsim.dataset.parameters import PARAMETER_COLUMNS, parameter_columns
from stemsim.dataset.sampling import PlannedImage, acquire, plan, sample_views
from stemsim.dataset.spec import dump_spec, older_image_model, shard_objects, spec_hash, stores_columns
from stemsim.errors import InputError
from stemsim.yamlio import read_yaml

STATE = Path(".stemsim")  # the generator's own records inside a dataset
PARTS = STATE / "parts"
LOCATION_COLUMNS = ["id", "object_id", "view", "split", "label", "label_index", "path", "shard", "shard_index"]
MANIFEST_COLUMNS = LOCATION_COLUMNS + PARAMETER_COLUMNS
"""The manifest's columns (a spec with another contrast model or a lattice named has
:data:`~stemsim.dataset.parameters.CRYSTAL_COLUMNS` after them: :func:`manifest_columns`)."""
MAX_SITES = max(kind.sites for kind in REGISTRY.values())  # rows of a shard's vertex arrays: the most of any shape


@dataclass(frozen=True)
class Shard:
    split: str
    number: int
    items: tuple[PlannedImage, ...]

    @property
    def name(self) -> str:
        return f"{self.split}-{self.number:05d}"


@dataclass
class Summary:
    """What a run did: counts per (split, label), images made now, seconds, bytes on disk."""

    counts: Counter = field(default_factory=Counter)
    made: int = 0
    skipped: int = 0
    seconds: float = 0.0
    bytes_on_disk: int = 0

    @property
    def rate(self) -> float:
        return self.made / self.seconds if self.seconds > 0 else 0.0


def manifest_columns(spec: dict) -> list[str]:
    """The columns of ``spec``'s manifest: :data:`MANIFEST_COLUMNS`, and the crystal ones when
    it uses them (:func:`~stemsim.dataset.parameters.parameter_columns`)."""
    return LOCATION_COLUMNS + parameter_columns(spec)


def shards(spec: dict) -> list[Shard]:
    """All shards of a spec, split by split, in order; a shard holds whole objects
    (:func:`stemsim.dataset.spec.shard_objects`: ``output.shard_size`` images rounded down to
    whole objects, within a byte budget)."""
    size = shard_objects(spec)
    by_split: dict[str, list[PlannedImage]] = {}
    for item in plan(spec):
        by_split.setdefault(item.split, []).append(item)
    result = []
    for split, items in by_split.items():
        for number, start in enumerate(range(0, len(items), size)):
            result.append(Shard(split, number, tuple(items[start:start + size])))
    return result


def render(measurement, dtype: str) -> np.ndarray:
    """The stored image: min–max scaled integers, or float32 in detected-fraction units."""
    if dtype == "float32":
        return measurement.image
    return measurement.normalized(np.dtype(dtype).type)


def shard_files(spec: dict, shard: Shard) -> list[str]:
    """The files of ``shard``, relative to the dataset: images, npz, then its manifest part."""
    formats = spec["output"]["formats"]
    files = []
    for item in shard.items:
        for view in range(spec["views"]["count"]):
            path = image_path(spec, item, view)
            if "png" in formats:
                files.append(path)
            if "tiff" in formats:
                files.append(str(Path(path).with_suffix(".tif")))
    if "npz" in formats:
        files.append(f"arrays/{shard.name}.npz")
    return files + [str(PARTS / f"{shard.name}.csv")]


def image_path(spec: dict, item: PlannedImage, view: int = 0) -> str:
    """``{split}/{label}/{id}.png``, or ``{split}/{label}/{object_id}/view_{k}.png`` with views."""
    formats = spec["output"]["formats"]
    extension = "png" if "png" in formats else "tif" if "tiff" in formats else None
    if not extension:
        return ""
    name = f"{item.id}/view_{view}" if spec["views"]["count"] > 1 else item.id
    return f"{item.split}/{item.label}/{name}.{extension}"


def make_shard(spec: dict, out: str, shard: Shard, parent: int | None = None) -> tuple[str, Counter]:
    """Make and write one shard (runs in a worker process of ``parent``, the pid of the
    ``generate`` that asked for it).

    Arrays hold ``(objects, H, W)`` images, or ``(objects, views, H, W)`` with views; the
    ground truth follows the same layout (vertices ``(..., 8, 3)``, NaN rows past a shape's sites).
    With the crystalline contrast (:func:`stores_columns`) the atomic columns of every image
    follow each other in ``columns`` ``(K, 4)`` float32 (column, row, atoms, particle), image by
    image (views in order), ``column_counts`` ``(objects[, views])`` int64 saying how many each has.
    """
    if parent is not None:
        _die_with(parent)
    out = Path(out)
    output = spec["output"]
    formats = output["formats"]
    multiview = spec["views"]["count"] > 1
    with_columns = stores_columns(spec)
    images, labels, thickness, masks, sites, rows = [], [], [], [], [], []
    columns, counts = [], []
    for position, item in enumerate(shard.items):
        views = sample_views(spec, item)
        per_view = {"images": [], "thickness": [], "mask": [], "sites": [], "counts": []}
        for view, params in enumerate(views):
            measurement = acquire(params)
            image = render(measurement, output["dtype"])
            path = image_path(spec, item, view)
            if "png" in formats:
                write_atomic(out / path, png_bytes(image))
            if "tiff" in formats:
                write_atomic(out / Path(path).with_suffix(".tif"), tiff_bytes(image))
            per_view["images"].append(image)
            if output["ground_truth"]:
                per_view["thickness"].append(measurement.thickness)
                per_view["mask"].append(measurement.mask)
                padded = np.full((MAX_SITES, 3), np.nan, dtype=np.float32)
                padded[: len(measurement.sites)] = measurement.sites
                per_view["sites"].append(padded)
            if with_columns:
                found = np.zeros((0, 4), np.float32) if measurement.columns is None else measurement.columns
                columns.append(np.asarray(found, dtype=np.float32).reshape(-1, 4))
                per_view["counts"].append(len(columns[-1]))
            rows.append({"id": f"{item.id}-{view:02d}" if multiview else item.id, "object_id": item.id,
                         "view": view, "split": item.split, "label": item.label, "label_index": item.label_index,
                         "path": path, "shard": f"arrays/{shard.name}.npz" if "npz" in formats else "",
                         "shard_index": position, **params.to_row()})
        pick = np.stack if multiview else (lambda arrays: arrays[0])
        images.append(pick(per_view["images"]))
        labels.append(item.label_index)
        if output["ground_truth"]:
            thickness.append(pick(per_view["thickness"]))
            masks.append(pick(per_view["mask"]))
            sites.append(pick(per_view["sites"]))
        if with_columns:
            counts.append(pick(per_view["counts"]))
    if "npz" in formats:
        arrays = {"images": np.stack(images), "labels": np.array(labels, dtype=np.int64),
                  "classes": np.array([str(v) for v in spec["classes"]["values"]]),
                  "ids": np.array([item.id for item in shard.items])}
        if output["ground_truth"]:
            arrays.update(thickness=np.stack(thickness), mask=np.stack(masks), vertices=np.stack(sites))
        if with_columns:
            arrays.update(columns=np.concatenate(columns), column_counts=np.array(counts, dtype=np.int64))
        write_atomic(out / "arrays" / f"{shard.name}.npz", npz_bytes(arrays))
    write_atomic(out / PARTS / f"{shard.name}.csv", csv_bytes(rows, manifest_columns(spec), header=False))
    return shard.name, Counter((row["split"], str(row["label"])) for row in rows)


def check_target(spec: dict, out: Path) -> None:
    """Refuse ``out`` if it holds anything but this spec's dataset (writes nothing)."""
    out = Path(out)
    try:
        _check_target(spec, out)
    except OSError as error:  # a folder that cannot be listed, say
        raise _os_error(out, error, verb="read") from None


def _check_target(spec: dict, out: Path) -> None:
    spec_file = out / "spec.yaml"
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, not a folder; choose another --out")
    if spec_file.is_file():
        try:
            made = read_yaml(spec_file, "dataset spec").get("spec_hash")
        except (InputError, AttributeError):  # unreadable, not YAML, nested or expanding too far
            made = None
        if made != spec_hash(spec):
            older = older_image_model(made, spec) if isinstance(made, str) else None
            recorded = _recorded_image_model(out)
            if older or recorded < IMAGE_MODEL_VERSION:
                raise InputError(f"{out}: holds a dataset made by an older version of the image model "
                                 f"({older or recorded}; this stemsim makes {IMAGE_MODEL_VERSION})"
                                 + ("" if older else " from a different spec or stemsim version")
                                 + f" (spec_hash {made}, this one {spec_hash(spec)}); its images would differ: "
                                 "choose another --out or delete it to make it anew")
            raise InputError(f"{out}: holds a dataset made from a different spec or stemsim version "
                             f"(spec_hash {made}, this one {spec_hash(spec)}); choose another --out or delete it")
    elif out.exists() and any(p.name != STATE.name for p in out.iterdir()):
        raise InputError(f"{out}: exists and is not a stemsim dataset; choose another --out")


def _recorded_image_model(out: Path) -> int:
    """The image model version ``out``'s format record names (1 when there is none or it
    cannot be read: what every dataset was before the version was written)."""
    try:
        return int(json.loads((out / FORMAT_FILE).read_text()).get("image_model_version", 1))
    except Exception:
        return 1


def _os_error(out: Path, error: OSError, where: Path | None = None, verb: str = "write") -> InputError:
    """An operating-system failure while writing ``out`` as one line: which path, what."""
    what = error.strerror or type(error).__name__
    return InputError(f"{where or error.filename or out}: cannot {verb} the dataset ({what.lower()})")


def _quietly(action, *args) -> None:
    """Clean-up after a failure: best effort (on a read-only file system it cannot), so that
    the failure itself is what is reported."""
    try:
        action(*args)
    except Exception:
        pass


def remove_incomplete(spec: dict, out: Path) -> int:
    """Delete the files of every shard without its manifest part (a failed or killed run's
    half shards) and the folders that leaves empty; returns how many files went."""
    removed = 0
    for shard in shards(spec):
        if (out / PARTS / f"{shard.name}.csv").is_file():
            continue
        for name in shard_files(spec, shard):
            path = out / name
            if path.is_file():
                _quietly(path.unlink)
                removed += 1
                parent = path.parent
                while parent != out and parent.is_dir() and not any(parent.iterdir()):
                    _quietly(parent.rmdir)
                    parent = parent.parent
    return removed


@contextmanager
def claimed(spec: dict, out: Path):
    """Hold ``out`` for ``spec``: an exclusive lock (``out/.stemsim/lock``, released when this
    process ends, however it ends), under which the folder is checked to be this spec's or
    empty, ``spec.yaml`` written and stale temporaries cleared. A second ``generate`` into the
    same folder is refused at once rather than mixing two datasets.

    If the body fails, still under the lock: its temporaries and the files of incomplete
    shards are removed (complete shards stay, to resume), and a folder this run made that holds
    no complete shard is removed whole. An ``OSError`` becomes one line naming the path."""
    check_target(spec, out)  # before anything is written (also refuses a file in the way)
    created = not out.exists()
    try:
        handle = _lock(out / STATE / "lock")
    except _Busy:
        raise InputError(f"{out}: another stemsim generate is writing here (the folder is locked); "
                         "wait for it, or choose another --out") from None
    except OSError as error:
        if created:  # what mkdir made of it, if anything (nothing else: it may be someone's now)
            _quietly((out / STATE).rmdir)
            _quietly(out.rmdir)
        raise _os_error(out, error, out) from None
    try:
        check_target(spec, out)  # again, now that no one else writes; if refused, touch nothing
        try:
            spec_file = out / "spec.yaml"
            if not (out / FORMAT_FILE).is_file():  # before the spec: no spec.yaml without it
                write_atomic(out / FORMAT_FILE, format_bytes())
            if not spec_file.is_file():
                write_atomic(spec_file, dump_spec(spec).encode())
            remove_partials(out)
            yield
        except BaseException as failure:
            _quietly(remove_partials, out)
            _quietly(remove_incomplete, spec, out)
            if created and not any((out / PARTS).glob("*.csv")):  # nothing complete: leave nothing
                shutil.rmtree(out, ignore_errors=True)
            if isinstance(failure, OSError):
                raise _os_error(out, failure) from None
            raise
    finally:
        _unlock(handle)  # last: whoever takes the folder next finds it clean


def generate(spec: dict, out: str | Path, jobs: int = 1, backend: str = "loky", scheduler: str | None = None,
             progress=None) -> Summary:
    """Make (or finish) the dataset of a resolved ``spec`` in ``out``.

    ``progress(done_images, total_images)`` is called as images are made (see
    :class:`_ImageCounter`; from a background thread too).
    Returns a :class:`Summary`; writes ``manifest.csv`` last.
    """
    out = Path(out)
    with claimed(spec, out):
        return _generate(spec, out, jobs, backend, scheduler, progress)


def image_markers(spec: dict, shard: Shard) -> list[str]:
    """One file per image of ``shard``, in the order :func:`make_shard` writes them (the last
    format of each image): the n-th exists once n images are made. Empty without PNG/TIFF."""
    formats = spec["output"]["formats"]
    if "png" not in formats and "tiff" not in formats:
        return []
    paths = [image_path(spec, item, view) for item in shard.items for view in range(spec["views"]["count"])]
    return [str(Path(path).with_suffix(".tif")) if "tiff" in formats else path for path in paths]


class _ImageCounter:
    """Images made so far, for the progress callback, counted per image although workers make
    whole shards: workers in other processes (or on a Dask cluster) cannot call back into this
    one, so a thread here looks for the image files of unfinished shards every
    :data:`POLL_SECONDS` (each shard writes its images in order through ``write_atomic``, so a
    file is there whole or not at all, and only the next one of each shard is looked for).
    It only reads: what is written does not depend on it. Without PNG/TIFF output, shards
    count as they complete. ``progress`` is called from that thread and from the caller's."""

    POLL_SECONDS = 0.5

    def __init__(self, spec: dict, out: Path, todo: list[Shard], done: int, total: int, progress) -> None:
        self.out, self.total, self.progress = out, total, progress
        self.finished = done  # images of complete shards
        self.pending = {s.name: (image_markers(spec, s), [0]) for s in todo}  # markers, how many seen
        self.shown = -1
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._poll, name="stemsim-progress", daemon=True)

    def _report(self) -> None:  # under self.lock
        done = self.finished + sum(seen[0] for _, seen in self.pending.values())
        if done > self.shown:
            self.shown = done
            self.progress(done, self.total)

    def scan(self) -> None:
        """Look once for new image files, and report if there are."""
        with self.lock:
            for markers, seen in list(self.pending.values()):
                while seen[0] < len(markers) and (self.out / markers[seen[0]]).is_file():
                    seen[0] += 1
            self._report()

    def _poll(self) -> None:
        while not self.stop.wait(self.POLL_SECONDS):
            self.scan()

    def shard_done(self, name: str, size: int) -> None:
        with self.lock:
            self.pending.pop(name, None)
            self.finished += size
            self._report()

    def __enter__(self) -> "_ImageCounter":
        with self.lock:
            self._report()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join()


def _generate(spec: dict, out: Path, jobs: int, backend: str, scheduler: str | None, progress) -> Summary:
    from contextlib import nullcontext

    every = shards(spec)
    todo = [s for s in every if not (out / PARTS / f"{s.name}.csv").is_file()]
    views = spec["views"]["count"]
    total = views * sum(len(s.items) for s in every)
    done = total - views * sum(len(s.items) for s in todo)
    summary = Summary(skipped=done)
    # a killed run's half shards (remade whole below) would count as progress
    remove_incomplete(spec, out)
    counter = _ImageCounter(spec, out, todo, done, total, progress) if progress else None
    start = time.perf_counter()
    with counter or nullcontext():
        if todo:
            _make_shards(spec, out, todo, jobs, backend, scheduler, summary, counter)
    summary.seconds = time.perf_counter() - start
    rows = assemble_manifest(out, every, manifest_columns(spec))
    summary.counts = Counter((row["split"], row["label"]) for row in rows)
    summary.bytes_on_disk = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    return summary


def _make_shards(spec: dict, out: Path, todo: list[Shard], jobs: int, backend: str, scheduler: str | None,
                 summary: Summary, counter: _ImageCounter | None) -> None:
    from joblib import Parallel, delayed, parallel_config

    views = spec["views"]["count"]
    if backend == "dask":
        context = _dask_context(scheduler)
    elif backend == "loky":
        # every worker watches this process from its start, not only from its first shard
        context = parallel_config(backend="loky", n_jobs=jobs, initializer=_die_with, initargs=(os.getpid(),))
    else:
        raise InputError(f"--backend: expected loky or dask, got {backend!r}")
    with context:
        size = {s.name: views * len(s.items) for s in todo}
        tasks = (delayed(make_shard)(spec, str(out), s, os.getpid()) for s in todo)
        # Batches are whole shards; images are counted as they land (_ImageCounter).
        for name, _ in Parallel(return_as="generator_unordered", batch_size=1)(tasks):
            summary.made += size[name]
            if counter:
                counter.shard_done(name, size[name])


def _dask_context(scheduler: str | None):
    from contextlib import ExitStack

    from joblib import parallel_config

    try:
        from dask.distributed import Client
    except ImportError:
        raise InputError("--backend dask: needs dask[distributed] (pip install 'stemsim[dask]')") from None
    if not scheduler:
        raise InputError("--scheduler: the dask backend needs a scheduler address (e.g. tcp://127.0.0.1:8786)")
    stack = ExitStack()
    try:
        client = stack.enter_context(Client(scheduler, timeout="10s"))
    except (OSError, TimeoutError) as error:
        raise InputError(f"--scheduler: cannot reach {scheduler}: {error}") from None
    stack.enter_context(parallel_config(backend="dask", n_jobs=-1))
    del client
    return stack


def assemble_manifest(out: Path, every: list[Shard], columns: list[str] = MANIFEST_COLUMNS) -> list[dict]:
    """Join the shards' manifest parts into ``manifest.csv`` (sorted by id), atomically;
    ``columns``: the spec's (:func:`manifest_columns`)."""
    rows = []
    for shard in every:
        text = (out / PARTS / f"{shard.name}.csv").read_text()
        rows.extend(csv.DictReader(io.StringIO(text), fieldnames=columns))
    rows.sort(key=lambda row: row["id"])
    write_atomic(out / "manifest.csv", csv_bytes(rows, columns))
    return rows
