"""What the bench reads of a dataset, in one place: a stemsim dataset through its store
(:func:`stemsim.dataset.store.open_dataset`: the manifest, the test images), and the
people-labelled STM set's own ``labels.csv`` and ``images_*.npz`` (not the stemsim format).
The analyses and figures call only these.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from stemsim.dataset.store import open_dataset


def manifest_objects(dataset: Path) -> dict[str, dict] | None:
    """The manifest rows of the stemsim dataset in folder ``dataset`` by ``object_id`` (one row
    per object: the last view's), or None when it has no manifest."""
    store = open_dataset(dataset)
    if not store.manifest_file.is_file():
        return None
    return {row["object_id"]: row for row in store.manifest}


def stm_labels(data: dict) -> dict:
    """The people-labelled STM set's label table (:func:`stemsim.classifiers.stm_data.read_stm_table`
    of ``labels.csv`` in the data section's ``path``)."""
    from stemsim.classifiers.stm_data import read_stm_table

    return read_stm_table(Path(data["path"]) / "labels.csv")


def is_stm_folder(dataset: Path) -> bool:
    """Whether ``dataset`` is the real STM set (``labels.csv`` and npz archives), not a stemsim dataset."""
    return (dataset / "labels.csv").is_file()


def test_images_by_class(dataset: Path, per_class: int) -> dict[str, list[np.ndarray]]:
    """Up to ``per_class`` test images ``(H, W)`` of each class of a stemsim dataset (its test
    PNGs in file-name order; single-view images only: a multi-view object's views are no
    sample of their own), classes in name order; ``{}`` without a manifest or PNGs."""
    from PIL import Image

    store = open_dataset(dataset)
    if not store.manifest_file.is_file():
        return {}
    by_class: dict[str, list[Path]] = {}
    for row in store.rows("test"):
        by_class.setdefault(row["label"], [])
        path = store.image_file(row, "png")
        if path is not None and path.parent.name == row["label"]:
            by_class[row["label"]].append(path)
    return {name: [np.asarray(Image.open(f)) for f in sorted(by_class[name])[:per_class]]
            for name in sorted(by_class)}


def stm_scores_and_images(dataset: Path) -> tuple[list[dict], np.ndarray] | None:
    """The STM set's ``labels.csv`` rows (people's mean score per category) and the images
    ``(N, H, W)`` of its first ``images_*.npz``; None without an archive."""
    with (dataset / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    archive = next(dataset.glob("images_*.npz"), None)
    if archive is None:
        return None
    return rows, np.load(archive)["images"]
