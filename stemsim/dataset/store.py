"""One reader of what ``stemsim generate`` writes: :func:`open_dataset` → :class:`DatasetStore`.

The layout of a dataset folder ``ROOT`` (docs/datasets.md, "What a dataset holds"):

* ``spec.yaml``: the resolved spec, stamped with ``stemsim_version`` and ``spec_hash``;
* ``manifest.csv``: one row per image (:data:`~stemsim.dataset.generate.MANIFEST_COLUMNS`),
  assembled from the shards' parts last;
* ``arrays/{split}-{k:05d}.npz``: per shard ``images`` ``(N, H, W)``, or ``(N, V, H, W)`` with
  V views per object, ``labels`` ``(N,)``, ``classes``, ``ids``; with ground truth also
  ``thickness`` (nm), ``mask`` and ``vertices`` ``(N[, V], 8, 3)`` in the same layout; with the
  crystalline contrast also ``columns`` ``(K, 4)`` float32, every image's atomic columns in turn
  (column, row in pixels, atoms, particle), and ``column_counts`` ``(N[, V])`` int64, how many each;
* ``{split}/{label}/{id}.png`` (or ``.tif``), or ``{split}/{label}/{object_id}/view_{k}.png``;
* ``.stemsim/parts/{shard}.csv``: a shard's manifest rows, written after its images and
  arrays: the mark that the shard is complete;
* ``.stemsim/format.json``: the format version (:data:`~stemsim.dataset.files.FORMAT_VERSION`)
  and the version of the image model that made the images
  (:data:`stemsim.simulator.IMAGE_MODEL_VERSION`); a dataset without it is version 1 of both.

The store is read-only and lazy: opening it reads only the format record; the spec, the
manifest and the shards' records are read once, when first asked for. Every refusal is one
line (:class:`~stemsim.errors.InputError`) naming the file. Two readings of the spec: the
spec as recorded (:attr:`DatasetStore.document`, what the per-quantity accessors read) and the
spec checked as ``stemsim generate`` checks one (:attr:`DatasetStore.spec`, which the
completeness record needs: it re-plans the shards).
"""

from __future__ import annotations

import copy
import csv
import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from stemsim.dataset.files import FORMAT_FILE, FORMAT_VERSION, check_npz
from stemsim.errors import InputError, reason
from stemsim.yamlio import read_yaml

SPEC_FILE = "spec.yaml"
MANIFEST_FILE = "manifest.csv"
ARRAYS = "arrays"
PARTS = Path(".stemsim") / "parts"  # as stemsim.dataset.generate writes them
SPLITS = ("train", "val", "test")
RECORD_FILES = (SPEC_FILE, MANIFEST_FILE, ".stemsim")
"""What ``stemsim generate`` leaves in a dataset besides its images: a folder holding any of
them is a stemsim dataset, held to the spec it records."""
LABELLED_KEYS = ("images", "labels", "classes", "ids")
GROUND_TRUTH_KEYS = ("thickness", "mask", "vertices")
COLUMN_KEYS = ("columns", "column_counts")  # the crystalline contrast's ground truth, in its shards only


def view_id(ident: str, view: int) -> str:
    """The id of view ``view`` of object ``ident`` when views are read as single images:
    ``<object_id>/view_<k>``."""
    return f"{ident}/view_{view}"


def object_of(ident: str) -> str:
    """The object id of an image id (:func:`view_id`; a single-view id is its own object)."""
    return ident.split("/view_")[0]


def array_views(shape: Sequence[int], item_ndim: int = 2) -> int:
    """Views per object of a shard array of ``shape``: ``(N, *item)`` holds 1, ``(N, V, *item)``
    holds V, where an item has ``item_ndim`` axes (2 for an image ``(H, W)`` or sites ``(S, 3)``)."""
    return shape[1] if len(shape) == item_ndim + 2 else 1


def tilt_of(views: dict[str, Any]) -> tuple[tuple[float, float, float], tuple[float, ...]] | None:
    """A spec's ``views`` block → ``(axis, angles in degrees)`` of its tilt series, or None
    when it is not one (``mode`` not ``tilt``, or fewer than two views)."""
    from stemsim.dataset.spec import tilt_angles

    if not views or views.get("mode") != "tilt" or int(views.get("count", 1)) < 2:
        return None
    return tuple(float(v) for v in views["tilt"]["axis"]), tuple(float(a) for a in tilt_angles(views))


@dataclass(frozen=True)
class Views:
    """The views of every object: ``count`` (1: single images), ``mode`` (``random``, ``tilt``,
    ...), and for a tilt series its rotation ``axis`` (microscope frame) and ``angles``
    (degrees, in view order); both None otherwise."""

    count: int
    mode: str
    axis: tuple[float, float, float] | None = None
    angles: tuple[float, ...] | None = None


@dataclass
class Record:
    """What ``stemsim generate`` recorded of a dataset: the shards its ``spec.yaml`` plans
    (``planned``: shard name → the ids of its objects, in order) and the complete ones (a shard
    is complete once its part is in ``.stemsim/parts``, written after its images and arrays;
    ``manifest.csv`` is assembled from all parts last)."""

    root: Path
    planned: dict[str, list[str]]
    complete: set[str]
    manifest: bool
    views: int
    classes: list[str]

    def images(self, complete_only: bool = True) -> int:
        """Images (views counted) in the complete shards, or in all that the spec plans."""
        return self.views * sum(len(ids) for name, ids in self.planned.items()
                                if name in self.complete or not complete_only)

    def known_ids(self) -> dict[str, bool]:
        """Every planned object id → whether its shard is complete."""
        return {i: name in self.complete for name, ids in self.planned.items() for i in ids}

    def split_objects(self, split: str) -> int:
        """Objects of ``split`` in the complete shards."""
        return sum(len(ids) for name, ids in self.planned.items()
                   if name in self.complete and name.rsplit("-", 1)[0] == split)

    def check_splits(self, found: dict[str, int], splits: Sequence[str], allow_incomplete: bool) -> None:
        """InputError unless every split read holds what its complete shards record (``found``:
        split → items read; fewer when files were deleted since; never more: other files are
        refused as they are read)."""
        what = "images" if self.views == 1 else "objects"
        for split in splits:
            expected = self.split_objects(split)
            if found.get(split, 0) != expected and not (allow_incomplete and found.get(split, 0) < expected):
                raise InputError(f"{self.root}: the {split!r} split holds {found.get(split, 0)} of the {expected} "
                                 f"{what} its complete shards record (files deleted?); use --allow-incomplete "
                                 "to read it as it is")

    def summary(self) -> dict[str, Any]:
        """``images`` of ``promised`` (views counted), ``shards`` complete of planned, ``complete``."""
        complete = len(self.complete) == len(self.planned) and self.manifest
        return {"images": self.images(), "promised": self.images(False),
                "shards": [len(self.complete), len(self.planned)], "complete": complete}


@dataclass
class LabelledShard:
    """One npz shard's labelled images: ``images`` ``(N, H, W)`` or ``(N, V, H, W)`` as stored,
    ``labels`` ``(N,)`` int64 (indices into ``classes``), ``ids`` (object ids), ``views`` V."""

    path: Path
    split: str
    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    ids: list[str]
    views: int


def open_dataset(root: str | Path) -> "DatasetStore":
    """The dataset at ``root`` (a folder ``stemsim generate`` made, or other data: the store
    then says what is missing). Reads only the format record: InputError (one line) when the
    dataset is of a newer format than :data:`~stemsim.dataset.files.FORMAT_VERSION`."""
    root = Path(root)
    version = image_model = 1  # what every dataset was before either was written
    path = root / FORMAT_FILE
    if path.is_file():
        try:
            record = json.loads(path.read_text())
            version = record["format_version"]
            image_model = record.get("image_model_version", 1)
        except Exception as error:
            raise InputError(f"{path}: not a dataset format record ({reason(error)})") from None
        for key, value in (("format_version", version), ("image_model_version", image_model)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{path}: {key}: expected a whole number >= 1, got {str(value)[:80]!r}")
        if version > FORMAT_VERSION:
            raise InputError(f"{root}: dataset format version {version} is newer than this stemsim reads "
                             f"(version {FORMAT_VERSION}); upgrade stemsim to read it")
    return DatasetStore(root, version, image_model)


class DatasetStore:
    """Read-only, lazy view of one dataset folder (module doc); made by :func:`open_dataset`."""

    def __init__(self, root: Path, format_version: int = FORMAT_VERSION,
                 image_model_version: int | None = None) -> None:
        self.root = Path(root)
        self.format_version = format_version
        self._image_model_version = image_model_version  # None: this stemsim's
        self.spec_file = self.root / SPEC_FILE
        self.manifest_file = self.root / MANIFEST_FILE
        self.arrays = self.root / ARRAYS

    @property
    def image_model_version(self) -> int:
        """The version of the image model that made the images (``.stemsim/format.json``;
        1 for a dataset made before it was recorded)."""
        if self._image_model_version is None:
            from stemsim.simulator import IMAGE_MODEL_VERSION

            return IMAGE_MODEL_VERSION
        return self._image_model_version

    @property
    def image_model_note(self) -> str | None:
        """One line when the images were made by another version of the image model than this
        stemsim's (:data:`stemsim.simulator.IMAGE_MODEL_VERSION`), else None."""
        from stemsim.simulator import IMAGE_MODEL_VERSION

        made = self.image_model_version
        if made < IMAGE_MODEL_VERSION:
            return (f"{self.root}: made by an older version of the image model ({made}; this stemsim makes "
                    f"{IMAGE_MODEL_VERSION}): its images differ from what its spec makes now; to remake it, "
                    f"stemsim generate {self.spec_file} --out ANOTHER_FOLDER")
        if made > IMAGE_MODEL_VERSION:
            return (f"{self.root}: made by a newer version of the image model ({made}) than this stemsim's "
                    f"({IMAGE_MODEL_VERSION})")
        return None

    # ---- the spec ---------------------------------------------------------------------

    @property
    def has_spec(self) -> bool:
        return self.spec_file.is_file()

    @property
    def is_generated(self) -> bool:
        """Whether the folder holds any of :data:`RECORD_FILES` (then it is held to them)."""
        return bool(self.record_files())

    def record_files(self) -> list[str]:
        return [name for name in RECORD_FILES if (self.root / name).exists()]

    @cached_property
    def document(self) -> Any:
        """``spec.yaml`` as recorded (read once, with the limits of every YAML file), unchecked."""
        return read_yaml(self.spec_file, "dataset spec")

    @cached_property
    def spec(self) -> dict[str, Any]:
        """``spec.yaml`` checked as ``stemsim generate`` checks a spec and resolved (every key
        there: a dataset made before a key existed gets its default); one line naming the file
        and the key when it is no resolved spec."""
        from stemsim.dataset.spec import resolve, without_stamp

        document = self.document
        if not isinstance(document, dict) or "spec_hash" not in document:
            raise InputError(f"{self.spec_file}: not a dataset's resolved spec (no spec_hash)")
        try:
            return resolve(without_stamp(copy.deepcopy(document)))
        except InputError as error:
            raise InputError(f"{self.spec_file}: {error}") from None
        except Exception as error:  # a hand-edited spec.yaml of the wrong shape
            raise InputError(f"{self.spec_file}: not a dataset's resolved spec ({reason(error)})") from None

    @property
    def spec_hash(self) -> str | None:
        """The ``spec_hash`` ``spec.yaml`` records, or None (no readable spec.yaml): the
        dataset's identity in whatever folder it lies (same spec, same bytes)."""
        try:
            document = self.document
        except Exception:
            return None
        value = document.get("spec_hash") if isinstance(document, dict) else None
        return str(value) if value else None

    def _image(self, key: str) -> Any:
        try:
            return self.document["image"][key]
        except Exception:
            raise InputError(f"{self.spec_file}: cannot read image.{key}") from None

    @property
    def pixel_size(self) -> float:
        """``image.pixel_size``: nm per pixel of every image."""
        try:
            return float(self._image("pixel_size"))
        except (TypeError, ValueError):
            raise InputError(f"{self.spec_file}: cannot read image.pixel_size") from None

    @property
    def image_size(self) -> int:
        """``image.size``: pixels per side of every (square) image."""
        try:
            return int(self._image("size"))
        except (TypeError, ValueError):
            raise InputError(f"{self.spec_file}: cannot read image.size") from None

    @property
    def classes(self) -> list[str]:
        """The class names in label-index order (``classes.values``, as the shards list them)."""
        try:
            return [str(v) for v in self.document["classes"]["values"]]
        except Exception:
            raise InputError(f"{self.spec_file}: cannot read classes.values") from None

    @cached_property
    def views(self) -> Views:
        """The views of every object (one place for their count; 1 for a dataset made before
        views existed), and the tilt series where they are one."""
        try:
            block = (self.document or {}).get("views") or {}
            series = tilt_of(block)
            count = int(block.get("count", 1))
            mode = str(block.get("mode", "random"))
        except Exception:
            raise InputError(f"{self.spec_file}: cannot read the views block (views.mode, views.tilt)") from None
        return Views(count, mode, *(series or (None, None)))

    # ---- the manifest -----------------------------------------------------------------

    @cached_property
    def manifest(self) -> list[dict[str, str]]:
        """The rows of ``manifest.csv`` (every value a string, as written), read once."""
        with open(self.manifest_file, newline="") as handle:
            return list(csv.DictReader(handle))

    def rows(self, split: str) -> list[dict[str, str]]:
        """The manifest rows of ``split``."""
        return [row for row in self.manifest if row["split"] == split]

    def image_file(self, row: dict[str, str], fmt: str = "png") -> Path | None:
        """The file of manifest ``row``'s image in ``fmt`` (``png`` or ``tiff``): the ``path`` it
        records (PNG where written, else TIFF) in that format's extension; None when the dataset
        has no image files of that format."""
        if fmt not in self.document["output"]["formats"] or not row["path"]:
            return None
        return self.root / Path(row["path"]).with_suffix(".png" if fmt == "png" else ".tif")

    def image_files(self, split: str, fmt: str = "png") -> list[Path]:
        """The image files of ``split`` in ``fmt``, in manifest order (by image id); empty when
        the dataset has none of that format."""
        found = [self.image_file(row, fmt) for row in self.rows(split)]
        return [path for path in found if path is not None]

    # ---- shards and their record ------------------------------------------------------

    @cached_property
    def planned(self) -> dict[str, list[str]]:
        """Shard name → the ids of its objects, in the order ``generate`` makes them."""
        from stemsim.dataset.generate import shards

        return {shard.name: [item.id for item in shard.items] for shard in shards(self.spec)}

    def complete(self) -> set[str]:
        """The planned shards whose part is in ``.stemsim/parts`` (looked at now)."""
        return {name for name in self.planned if (self.root / PARTS / f"{name}.csv").is_file()}

    def record(self, allow_incomplete: bool = False) -> Record | None:
        """The :class:`Record`; None when the folder holds none of :data:`RECORD_FILES`
        (class folders, bare npz shards: nothing to check against).

        Unless ``allow_incomplete``, InputError (one line) for an incomplete dataset: ``spec.yaml``
        missing (what it should hold is unknown), shards not complete (a ``generate`` that was
        stopped), or ``manifest.csv`` missing. With ``allow_incomplete`` the complete shards are
        read (all files, as they are, when ``spec.yaml`` is missing: None is returned).
        """
        present = self.record_files()
        if not present:
            return None
        if not self.has_spec:
            if allow_incomplete:
                return None
            raise InputError(f"{self.root}: incomplete stemsim dataset: spec.yaml is missing (it holds "
                             f"{' and '.join(present)}), so what it should hold is unknown; "
                             "use --allow-incomplete to read it as it is")
        planned, complete = self.planned, self.complete()
        record = Record(self.root, planned, complete, self.manifest_file.is_file(), self.views.count, self.classes)
        if allow_incomplete:
            return record
        if len(complete) < len(planned):
            missing = [name for name in planned if name not in complete]
            raise InputError(f"{self.root}: incomplete stemsim dataset: {len(complete)} of {len(planned)} shards "
                             f"complete ({record.images()} of {record.images(False)} images; missing {missing[0]}"
                             f"{f' and {len(missing) - 1} more' if len(missing) > 1 else ''}); finish it with "
                             "`stemsim generate` (it resumes), or use --allow-incomplete")
        if not record.manifest:
            raise InputError(f"{self.root}: incomplete stemsim dataset: manifest.csv is missing (every shard is "
                             "complete: `stemsim generate` writes it), or use --allow-incomplete")
        return record

    def shard_files(self, pattern: str = "*") -> list[Path]:
        """The npz shards on disk (``arrays/<pattern>.npz``), sorted by name."""
        return sorted(self.arrays.glob(f"{pattern}.npz")) if self.arrays.is_dir() else []

    def readable_shards(self, record: Record | None) -> list[Path]:
        """The npz shards to read: with a ``record``, InputError for one the spec does not plan
        (a file of another dataset), and of the planned ones the complete ones; else all."""
        found = self.shard_files()
        if record is None:
            return found
        for shard in found:
            if shard.stem not in record.planned:
                raise InputError(f"{shard}: not a shard of the dataset that {self.spec_file} plans "
                                 "(a file of another dataset?)")
        return [shard for shard in found if shard.stem in record.complete]

    def labelled_shards(self, shards: Sequence[Path], splits: Sequence[str],
                        record: Record | None = None) -> Iterator[LabelledShard]:
        """The labelled images of each of ``shards`` of ``splits`` (others skipped), one shard at a
        time, every array sized from its header first (:func:`~stemsim.dataset.files.check_npz`).
        InputError (one line) for a shard named otherwise than ``<split>-<k>.npz``, missing keys,
        other ids than ``record`` plans, classes or views per object unlike the shards before
        it, labels outside the classes."""
        classes: list[str] | None = None
        views: int | None = None
        for shard in shards:
            split = shard.stem.rsplit("-", 1)[0]
            if split not in SPLITS:
                raise InputError(f"{shard}: shard name must be <train|val|test>-<k>.npz")
            if split not in splits:
                continue
            check_npz(shard)
            try:
                with np.load(shard, allow_pickle=False) as archive:
                    missing = [k for k in LABELLED_KEYS if k not in archive.files]
                    if missing:
                        raise InputError(f"{shard}: missing key(s) {', '.join(missing)}")
                    images, labels = archive["images"], archive["labels"].astype(np.int64)
                    shard_classes, ids = [str(c) for c in archive["classes"]], [str(i) for i in archive["ids"]]
            except InputError:
                raise
            except Exception as error:
                raise InputError(f"{shard}: not a readable npz shard ({error})") from None
            if record is not None and ids != record.planned[shard.stem]:
                raise InputError(f"{shard}: holds other images than {self.spec_file} plans for this shard "
                                 "(its ids differ)")
            if classes is None:
                classes = shard_classes
            elif shard_classes != classes:
                raise InputError(f"{shard}: classes {shard_classes} differ from the other shards' {classes}")
            if images.ndim not in (3, 4) or not len(images) == len(labels) == len(ids):
                raise InputError(f"{shard}: images must be (N, H, W), or (N, V, H, W) with views, with N labels "
                                 f"and ids, got {images.shape}, {labels.shape}, {len(ids)}")
            shard_views = array_views(images.shape)
            if views is None:
                views = shard_views
            elif shard_views != views:
                raise InputError(f"{shard}: {views_text(shard_views)}, the other shards have {views_text(views)}")
            if len(labels) and (labels.min() < 0 or labels.max() >= len(classes)):
                raise InputError(f"{shard}: labels outside 0..{len(classes) - 1}")
            yield LabelledShard(shard, split, images, labels, classes, ids, shard_views)

    def ground_truth_shards(self, split: str) -> list[Path]:
        """The npz shards of ``split`` to read ground truth from: the complete ones (all of them
        without ``spec.yaml``); InputError when there are none."""
        shards = self.shard_files(f"{split}-*")
        record = self.record(allow_incomplete=True) if shards else None
        shards = [shard for shard in shards if record is None or shard.stem in record.complete]
        if not shards:
            raise InputError(f"{self.root}: no npz shards for the {split!r} split (pixel-wise models need "
                             "output.formats with npz and output.ground_truth: true)")
        return shards

    def ground_truth(self, split: str, keys: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Per complete npz shard of ``split``: ``keys`` (of ``images``, ``labels``, ``thickness``,
        ``mask``, ``vertices``, ``columns``: a list of each image's ``(m, 4)`` atomic columns) and
        ``ids``, one row per image (views flattened: ids :func:`view_id`, labels repeated per
        view). InputError for a shard without ground truth (``output.ground_truth: false``) or,
        asked for, without columns (a contrast other than ``crystalline``)."""
        for shard in self.ground_truth_shards(split):
            check_npz(shard)  # sized from its headers first
            with np.load(shard, allow_pickle=False) as archive:
                missing = [k for k in ("images", "labels", "ids", *GROUND_TRUTH_KEYS) if k not in archive.files]
                if missing:
                    raise InputError(f"{shard}: holds no {', '.join(missing)} (the dataset was made without "
                                     "output.ground_truth: true)")
                sites = archive["vertices"]  # (N, S, 3), or (N, V, S, 3) with views
                views = array_views(sites.shape)
                ids = [str(i) for i in archive["ids"]]
                out: dict[str, Any] = {"ids": [view_id(i, k) for i in ids for k in range(views)] if views > 1 else ids}
                if "columns" in keys:
                    out["columns"] = _columns(shard, archive, len(out["ids"]))
                for key in keys:
                    if key == "columns":
                        continue
                    value = sites if key == "vertices" else archive[key]
                    out[key] = np.repeat(value, views) if key == "labels" else \
                        value.reshape(-1, *value.shape[2:]) if views > 1 else value
                yield out


def _columns(shard: Path, archive, images: int) -> list[np.ndarray]:
    """The atomic columns of each of the ``images`` of an open npz shard (module doc)."""
    if any(k not in archive.files for k in COLUMN_KEYS):
        raise InputError(f"{shard}: holds no atomic columns (made without microscope.contrast: crystalline)")
    flat, counts = archive["columns"], archive["column_counts"].reshape(-1)
    if flat.shape[1:] != (4,) or len(counts) != images or (counts < 0).any() or counts.sum() != len(flat):
        raise InputError(f"{shard}: columns {flat.shape} and column_counts {counts.shape} disagree with {images} images")
    return np.split(flat, np.cumsum(counts)[:-1]) if images else []


def shard_classes(shard: Path) -> list[str]:
    """The class names an npz shard of a stemsim dataset lists (the same in every shard)."""
    check_npz(shard)
    with np.load(shard, allow_pickle=False) as archive:
        return [str(c) for c in archive["classes"]]


def views_text(views: int) -> str:
    return "one image per object" if views == 1 else f"{views} views per object"
