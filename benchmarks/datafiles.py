"""Every read of a dataset's own files by the bench, in one place.

The bench reads a stemsim dataset's ``manifest.csv`` and its ``test/<class>/*.png`` images, and
the people-labelled STM set's ``labels.csv`` and ``images_*.npz``. These readers are what a
dataset store (``open_dataset``) replaces; the analyses and figures call only them.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np


def manifest_objects(manifest: Path) -> dict[str, dict] | None:
    """A stemsim dataset's ``manifest.csv`` rows by ``object_id`` (one row per object: the
    last view's), or None when there is no manifest."""
    if not manifest.is_file():
        return None
    with manifest.open() as handle:
        return {row["object_id"]: row for row in csv.DictReader(handle)}


def stm_labels(data: dict) -> dict:
    """The people-labelled STM set's label table (:func:`classifiers.stm_data.read_stm_table`
    of ``labels.csv`` in the data section's ``path``)."""
    from classifiers.stm_data import read_stm_table

    return read_stm_table(Path(data["path"]) / "labels.csv")


def is_stm_folder(dataset: Path) -> bool:
    """Whether ``dataset`` is the real STM set (``labels.csv`` and npz archives), not a stemsim dataset."""
    return (dataset / "labels.csv").is_file()


def test_images_by_class(dataset: Path, per_class: int) -> dict[str, list[np.ndarray]]:
    """Up to ``per_class`` test images ``(H, W)`` of each class of a stemsim dataset (its
    ``test/<class>/*.png``, in name order), classes in name order; ``{}`` without them."""
    from PIL import Image

    test = dataset / "test"
    if not test.is_dir():
        return {}
    classes = sorted(p.name for p in test.iterdir() if p.is_dir())
    return {name: [np.asarray(Image.open(f)) for f in sorted((test / name).glob("*.png"))[:per_class]]
            for name in classes}


def stm_scores_and_images(dataset: Path) -> tuple[list[dict], np.ndarray] | None:
    """The STM set's ``labels.csv`` rows (people's mean score per category) and the images
    ``(N, H, W)`` of its first ``images_*.npz``; None without an archive."""
    with (dataset / "labels.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    archive = next(dataset.glob("images_*.npz"), None)
    if archive is None:
        return None
    return rows, np.load(archive)["images"]
