"""Datasets for the classifiers: `stemsim generate` output, folders of class folders, real STM.

:func:`load_dataset` reads a resolved ``data`` config section and returns a :class:`Dataset`
whose splits hold *prepared* images (see :meth:`Preprocessing.prepare`), targets as
``(N, C)`` float32 (one-hot for single-label data, 0/1 per category for multi-label data),
ids, and optional training sample weights. Splits are made per image (identical images are
kept together) and never re-mixed; a ``stemsim`` dataset's own splits are used as made.

Multi-view data (several images, "views", of one object; ``stemsim generate`` with views):
npz ``images`` ``(N, V, H, W)`` or class folders ``{split}/{label}/{object_id}/view_{k}.png``.
Such a :class:`Dataset` has ``views = V`` and its splits hold one item per *object*:
``images[i]`` is ``(V, h, w, c)`` (the object's prepared views, in view order), ``ids[i]`` the
object id; every object has the same V. :meth:`Dataset.per_view` turns it into single-view
data (every view an image, id ``<object_id>/view_<k>``) for single-view networks. Single-view
data (``views = 1``) is read exactly as before: ``images[i]`` is ``(h, w, c)``.

A ``stemsim generate`` dataset is read through :func:`stemsim.dataset.store.open_dataset` (the
one reader of its format) and held to what its generator recorded (:func:`dataset_record`):
the shards its ``spec.yaml`` plans, each complete once its part is in ``.stemsim/parts``, and
``manifest.csv`` written last. An incomplete one (a stopped ``generate``, ``spec.yaml`` or
``manifest.csv`` missing, files deleted) is refused unless ``allow_incomplete`` (``--allow-incomplete``:
only the complete shards are read); a file the spec does not plan (a shard or image of another
dataset) is always refused. :func:`usage_line` says how many images were used of how many the
spec promises. Class folders and bare npz shards without any of these files are read as they are.
Every npz array is sized from its header before it is loaded (:func:`stemsim.dataset.files.check_npz`).
"""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.preprocessing import IMAGE_EXTENSIONS, Preprocessing, content_key, read_image
from stemsim.classifiers.splits import Dataset, Split, one_hot, split_groups
from stemsim.classifiers.stm_data import load_stm
from stemsim.dataset.store import (RECORD_FILES, SPLITS, DatasetStore, Record, open_dataset, shard_classes,
                                   views_text)
from stemsim.errors import InputError

__all__ = ["RECORD_FILES", "SPLITS", "Dataset", "Record", "Split", "dataset_record", "load_dataset",
           "read_object", "recorded_spec_hash", "shard_classes", "split_groups", "usage_line", "view_files",
           "view_positions"]


def load_dataset(data_cfg: dict[str, Any], preprocessing: Preprocessing,
                 splits: tuple[str, ...] = SPLITS, allow_incomplete: bool = False) -> Dataset:
    """Load the splits named in ``splits`` of the dataset that ``data_cfg`` describes.

    A ``stemsim generate`` dataset (a folder with ``spec.yaml``, ``manifest.csv`` or
    ``.stemsim/``) must be complete (:func:`dataset_record`) unless ``allow_incomplete``; then
    only its complete shards are read. ``info["record"]`` says how many images it holds of how
    many its spec promises (None for other data: class folders, STM data, bare npz shards).
    """
    kind = data_cfg["kind"]
    if kind == "stemsim":
        dataset = _load_stemsim(data_cfg, preprocessing, splits, allow_incomplete)
    elif kind == "folder":
        dataset = _load_folder(data_cfg, preprocessing, splits, allow_incomplete)
    else:
        dataset = load_stm(data_cfg, preprocessing, splits)
    limit = data_cfg.get("max_per_split")
    if limit:
        rng = np.random.default_rng(np.random.SeedSequence([data_cfg.get("split_seed", 0), 7]))
        for name, split in dataset.splits.items():
            if len(split) > limit:
                dataset.info.setdefault("over_max_per_split", {})[name] = len(split) - limit  # left out
                dataset.splits[name] = split.subset(np.sort(rng.permutation(len(split))[:limit]))
    dataset.info.setdefault("record", None)
    dataset.info.update(kind=kind, path=data_cfg["path"], views=dataset.views,  # split sizes count objects
                        split_sizes={name: len(split) for name, split in dataset.splits.items()})
    _check_disjoint(dataset)
    return dataset


def _check_disjoint(dataset: Dataset) -> None:
    seen: dict[str, str] = {}
    what = "image" if dataset.views == 1 else "object"
    for name, split in dataset.splits.items():
        for ident in set(split.ids):
            if ident in seen and seen[ident] != name:
                raise InputError(f"data: {what} {ident!r} is in both the {seen[ident]!r} and {name!r} splits")
            seen[ident] = name


# ---- the record of a stemsim dataset (stemsim.dataset.store) --------------------------


def dataset_record(root: str | Path, allow_incomplete: bool = False) -> Record | None:
    """The :class:`~stemsim.dataset.store.Record` of the stemsim dataset at ``root`` (None for
    data without one); refusals as :meth:`~stemsim.dataset.store.DatasetStore.record`."""
    return open_dataset(root).record(allow_incomplete)


def usage_line(verb: str, info: dict[str, Any], splits: tuple[str, ...] | list[str]) -> str:
    """How many images a verb used, of how many the data holds and its spec promises:
    ``evaluate: 1998 of 1998 images (test split: 200)`` (``splits``' sizes after
    ``max_per_split``; objects × views for multi-view data), or for data without a record
    ``evaluate: 200 images (test split: 200; no spec.yaml to count against)``."""
    views = int(info.get("views", 1))
    sizes = info.get("split_sizes", {})
    used = [f"{s} split: {sizes.get(s, 0)}" + (f" objects × {views} views" if views > 1 else "")
            for s in splits]
    record = info.get("record")
    if record:
        extra = "" if record["complete"] else (f", an incomplete dataset ({record['shards'][0]} of "
                                               f"{record['shards'][1]} shards)")
        return f"{verb}: {record['images']} of {record['promised']} images{extra} ({', '.join(used)})"
    total = views * sum(sizes.get(s, 0) for s in splits)
    return f"{verb}: {total} images ({', '.join(used)}; no spec.yaml to count against)"


# ---- stemsim datasets ---------------------------------------------------------------


def _load_stemsim(cfg: dict[str, Any], pre: Preprocessing, splits: tuple[str, ...],
                  allow_incomplete: bool = False) -> Dataset:
    root = Path(cfg["path"])
    store = open_dataset(root)
    record = store.record(allow_incomplete)
    fmt = cfg.get("format", "auto")
    if fmt == "arrays" or (fmt == "auto" and store.shard_files()):
        if not store.shard_files():
            raise InputError(f"data.path: {root} has no arrays/*.npz shards (data.format: arrays)")
        dataset = _load_shards(store, pre, splits, record)
    else:
        if not any((root / s).is_dir() for s in SPLITS):
            raise InputError(f"data.path: {root} is not a stemsim dataset (no arrays/ shards and no "
                             "train/val/test class folders)")
        classes = sorted({d.name for s in SPLITS if (root / s).is_dir() for d in (root / s).iterdir() if d.is_dir()})
        ids_from = "path" if cfg["kind"] == "folder" else "stem"
        known = None if record is None else record.known_ids()
        out = {s: _read_class_folders(root / s, classes, pre, ids_from, known) for s in splits if (root / s).is_dir()}
        views = _common_views(root, out)
        dataset = Dataset(classes, False, out, {"format": "class folders in train/val/test"}, views)
    if record is not None:
        record.check_splits({name: len(split) for name, split in dataset.splits.items()}, splits, allow_incomplete)
        dataset.info["record"] = record.summary()
    spec_hash = store.spec_hash
    if spec_hash is not None:
        dataset.info["spec_hash"] = spec_hash
    return dataset


def recorded_spec_hash(root: str | Path) -> str | None:
    """The ``spec_hash`` a stemsim dataset's ``spec.yaml`` records, or None (no readable
    spec.yaml): the dataset's identity in whatever folder it lies (same spec, same bytes)."""
    return open_dataset(root).spec_hash


def _common_views(root: Path, splits: dict[str, Split]) -> int:
    """Views per object of the splits' items, which must agree (InputError naming both)."""
    first: tuple[int, str] | None = None
    for name, split in splits.items():
        if not len(split):
            continue
        views = 1 if split.images[0].ndim == 3 else len(split.images[0])
        first = first or (views, name)
        if views != first[0]:
            raise InputError(f"data.path: {root}: the {first[1]!r} split has {views_text(first[0])}, "
                             f"the {name!r} split {views_text(views)}")
    return first[0] if first else 1


def _load_shards(store: DatasetStore, pre: Preprocessing, splits: tuple[str, ...],
                 record: Record | None = None) -> Dataset:
    """The npz shards of ``store`` (with a ``record``: the complete ones the spec plans) as
    prepared splits, one shard in memory at a time."""
    shards = store.readable_shards(record)
    classes: list[str] | None = None
    views: int | None = None  # per object; the same in every shard
    parts: dict[str, list[tuple[list[np.ndarray], np.ndarray, list[str]]]] = defaultdict(list)
    for shard in store.labelled_shards(shards, splits, record):
        classes, views = shard.classes, shard.views
        prepare = pre.prepare if shard.views == 1 else pre.prepare_views
        parts[shard.split].append(([prepare(item) for item in shard.images], shard.labels, shard.ids))
    if classes is None:
        classes = shard_classes(shards[0]) if shards else list(record.classes) if record is not None else []
    out = {}
    for split, chunks in parts.items():
        labels = np.concatenate([c[1] for c in chunks])
        out[split] = Split([im for c in chunks for im in c[0]], one_hot(labels, len(classes)),
                           [i for c in chunks for i in c[2]])
    return Dataset(classes, False, out, {"format": "arrays", "shards": len(shards)}, views or 1)


# ---- folders of class folders -------------------------------------------------------


def image_files(folder: Path) -> list[Path]:
    """Image files (by extension) directly inside ``folder``, sorted."""
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)


def object_folders(folder: Path) -> list[Path]:
    """Sub-folders of ``folder`` that hold images (the objects of a multi-view class folder), sorted."""
    return sorted(d for d in folder.iterdir() if d.is_dir() and image_files(d))


def view_files(folder: Path) -> list[Path]:
    """The view images of one object folder in view order: numbers in names compare as numbers
    (``view_2`` before ``view_10``); of files that differ only in extension (``view_0.png`` and
    ``view_0.tif``, both written by ``stemsim generate``) the first in extension order is kept."""
    rank = {ext: k for k, ext in enumerate(IMAGE_EXTENSIONS)}
    by_stem: dict[str, Path] = {}
    for path in sorted(image_files(folder), key=lambda p: rank[p.suffix.lower()]):
        by_stem.setdefault(path.stem, path)
    return sorted(by_stem.values(), key=lambda p: [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)])


def view_positions(folder: str | Path) -> list[int] | None:
    """The ``k`` of every ``view_k`` file of an object folder, in :func:`view_files` order (the
    views' positions in their tilt series, as ``stemsim generate`` names them), or None when
    some file is not named so. InputError for two files of one ``k`` (``view_1``, ``view_01``)."""
    files = view_files(Path(folder))
    found = [re.fullmatch(r"view_(\d+)", path.stem) for path in files]
    if not files or not all(found):
        return None
    positions = [int(match.group(1)) for match in found]
    for k in set(positions):
        same = [path.name for path, p in zip(files, positions) if p == k]
        if len(same) > 1:
            raise InputError(f"{folder}: {' and '.join(same)} are both view {k}")
    return positions


def read_object(folder: str | Path, pre: Preprocessing, prepare=None) -> np.ndarray:
    """Read and prepare the views of ONE object (the images in ``folder``) → float16 ``(V, h, w, c)``.

    InputError (one line) for a folder without images, an unreadable image, or views of
    different sizes (naming the folder and every size with its files). ``prepare(image, path)``:
    how each view is prepared (default ``pre.prepare``; ``predict --object``: at the training
    pixel size, :func:`stemsim.classifiers.scale.image_preparer`).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: no such folder")
    files = view_files(folder)
    if not files:
        raise InputError(f"{folder}: no images (png, jpg, tif) in this folder")
    raw = [read_image(path) for path in files]
    sizes: dict[tuple[int, int], list[str]] = defaultdict(list)
    for path, image in zip(files, raw):
        sizes[image.shape[:2]].append(path.name)
    if len(sizes) > 1:
        listed = "; ".join(f"{w}×{h}: {', '.join(names[:3])}{', …' if len(names) > 3 else ''}"
                           for (h, w), names in sizes.items())
        raise InputError(f"{folder}: the views of one object must have one size, got {listed} (width×height)")
    if prepare is not None:
        return np.stack([prepare(image, path) for path, image in zip(files, raw)])
    return pre.prepare_views(raw)


def _read_class_folders(root: Path, classes: list[str], pre: Preprocessing, ids_from: str = "stem",
                        known: dict[str, bool] | None = None) -> Split:
    """Read ``root/<class>/*``; ids are file stems (stemsim ids) or ``class/file`` (``ids_from="path"``).

    A class folder of object folders (``root/<class>/<object_id>/view_<k>.png``) gives one item
    per object, ``(V, h, w, c)``, id ``object_id`` (or ``class/object_id``); all objects must
    have the same number of views.

    ``known`` (a stemsim dataset's record, :meth:`Record.known_ids`): every image's (object's)
    stem must be one the spec plans (InputError otherwise: never a foreign file); one whose
    shard is not complete is skipped, and of files that differ only in extension (PNG and TIFF
    of one image) the first in :data:`IMAGE_EXTENSIONS` order is read.
    """
    images, labels, ids = [], [], []
    views: tuple[int, Path] | None = None  # the first object's view count, and the object
    for index, name in enumerate(classes):
        folder = root / name
        if not folder.is_dir():
            continue
        files, objects = image_files(folder), object_folders(folder)
        if files and objects:
            raise InputError(f"{folder}: holds both images and object folders (one layout per dataset)")
        if known is not None:
            rank = {ext: k for k, ext in enumerate(IMAGE_EXTENSIONS)}
            seen: set[str] = set()
            chosen = []
            for path in sorted(files, key=lambda p: rank[p.suffix.lower()]) if files else objects:
                ident = path.stem if files else path.name
                if ident not in known:
                    raise InputError(f"{path}: not an image of the dataset that {root.parent / 'spec.yaml'} plans "
                                     "(a file of another dataset?)")
                if known[ident] and ident not in seen:
                    seen.add(ident)
                    chosen.append(path)
            chosen.sort()
            files, objects = (chosen, []) if files else ([], chosen)
        for path in files or objects:
            item = pre.prepare(read_image(path)) if files else read_object(path, pre)
            if objects:
                views = views or (len(item), path)
                if len(item) != views[0]:
                    raise InputError(f"{path}: {len(item)} views, but {views[1]} has {views[0]} "
                                     "(every object needs the same number of views)")
            images.append(item)
            labels.append(index)
            ident = path.stem if files else path.name
            ids.append(ident if ids_from == "stem" else f"{name}/{path.name}")
    return Split(images, one_hot(np.asarray(labels, np.int64), len(classes)), ids)


def _load_folder(cfg: dict[str, Any], pre: Preprocessing, splits: tuple[str, ...],
                 allow_incomplete: bool = False) -> Dataset:
    root = Path(cfg["path"])
    if any((root / s).is_dir() for s in SPLITS) and (root / "train").is_dir():
        return _load_stemsim({**cfg, "format": "png"}, pre, splits, allow_incomplete)
    classes = sorted(d.name for d in root.iterdir() if d.is_dir() and (image_files(d) or object_folders(d)))
    if len(classes) < 2:
        raise InputError(f"data.path: {root} needs at least two class folders holding images, found {classes}")
    everything = _read_class_folders(root, classes, pre, "path")
    labels = everything.targets.argmax(axis=1)
    index = split_groups(labels, [content_key(img) for img in everything.images], cfg["val_fraction"],
                         cfg["test_fraction"], cfg["split_seed"])
    out = {s: everything.subset(index[s]) for s in splits}
    return Dataset(classes, False, out, {"format": "class folders", "split": "made here, per image, stratified"},
                   _common_views(root, {"all": everything}))
