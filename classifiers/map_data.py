"""Images and their ground-truth maps, one row per image, for the pixel-wise models.

What a ``stemsim`` dataset stores in its npz shards with ``output.ground_truth: true`` (read
through :class:`stemsim.dataset.store.DatasetStore`, only from complete shards): the particle
mask, the projected thickness (nm) and the projected vertex sites of every image. Views are
flattened: an object of V views gives V rows, ids ``<object_id>/view_<k>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from stemsim.dataset.store import DatasetStore, open_dataset
from stemsim.errors import InputError

MAP_KEYS = ("thickness", "mask", "vertices")


@dataclass
class MapData:
    """Images and their ground truth, one row per image (views flattened).

    images : (N, H, W) float32 as stored (any dtype's values); mask : (N, H, W) bool;
    thickness : (N, H, W) float32, nm; sites : (N, S, 3) float32 (column, row, deformed),
    NaN rows past a shape's sites; labels : (N,) int; ids : N str; pixel_size : nm.
    """

    images: np.ndarray
    mask: np.ndarray
    thickness: np.ndarray
    sites: np.ndarray
    labels: np.ndarray
    ids: list[str]
    pixel_size: float

    def __len__(self) -> int:
        return len(self.images)

    def take(self, index) -> "MapData":
        index = np.asarray(index)
        return MapData(self.images[index], self.mask[index], self.thickness[index], self.sites[index],
                       self.labels[index], [self.ids[i] for i in index], self.pixel_size)


def dataset_pixel_size(root: Path) -> float:
    """``image.pixel_size`` (nm) of the stemsim dataset at ``root`` (InputError if unreadable)."""
    return _pixel_size(open_dataset(root))


def _pixel_size(store: DatasetStore) -> float:
    try:
        return store.pixel_size
    except InputError:
        raise InputError(f"{store.spec_file}: cannot read image.pixel_size (pixel-wise models need a stemsim "
                         "dataset)") from None


def load_maps(root: str | Path, split: str, limit: int | None = None) -> MapData:
    """Images + ground truth of ``split`` from the npz shards of the stemsim dataset at ``root``
    (the first ``limit`` images, in shard order, when given).

    InputError (one line) if the dataset has no npz shards for the split or they hold no
    ground truth (``output.ground_truth: false``).
    """
    store = open_dataset(root)
    pixel_size = _pixel_size(store)
    parts: dict[str, list] = {k: [] for k in ("images", "mask", "thickness", "vertices", "labels", "ids")}
    total = 0
    for shard in store.ground_truth(split, ("images", "labels", *MAP_KEYS)):
        for key, value in shard.items():
            parts[key].append(value)
        total += len(shard["images"])
        if limit is not None and total >= limit:
            break
    stacked = {k: np.concatenate(v) if k != "ids" else [i for part in v for i in part] for k, v in parts.items()}
    data = MapData(stacked["images"].astype(np.float32), stacked["mask"].astype(bool),
                   stacked["thickness"].astype(np.float32), stacked["vertices"].astype(np.float32),
                   stacked["labels"], stacked["ids"], pixel_size)
    return data.take(np.arange(min(limit, len(data)))) if limit is not None else data


def load_sites(root: str | Path, split: str) -> tuple[list[str], np.ndarray]:
    """Ids and true vertex sites ``(N, S, 3)`` (column, row, deformed; as :class:`MapData`) of
    ``split`` of the stemsim dataset at ``root``, without reading its images (InputError as
    :func:`load_maps`)."""
    parts = list(open_dataset(root).ground_truth(split, ("vertices",)))
    return [i for part in parts for i in part["ids"]], np.concatenate([p["vertices"] for p in parts]).astype(np.float32)
