"""Atomic, byte-reproducible file writers (PNG, TIFF, npz shards, CSV), the dataset format's
version, and the header check of every npz file read back (:func:`check_npz`)."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from stemsim.errors import InputError, reason

PARTIAL = ".partial"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: same bytes on every run

FORMAT_VERSION = 1
"""Version of the dataset format: what the files of a ``stemsim generate`` folder hold and how
they are laid out. Bump it when that changes: a reader (:func:`stemsim.dataset.store.open_dataset`)
refuses a dataset newer than it knows. What the images are, the image formation, has its own
version (:data:`stemsim.simulator.IMAGE_MODEL_VERSION`), recorded beside it."""
FORMAT_FILE = Path(".stemsim") / "format.json"
"""Where a dataset records its format version and the image model that made its images (beside
the generator's other records, so that no file the spec fixes changes); a dataset without it,
or without ``image_model_version`` in it, is format version 1 and image model 1."""
MAX_ARRAY_BYTES = 1 << 30
"""Largest array of an npz file that is read (1 GiB, sized from its ``.npy`` header): a small
file of deflated members can unpack to gigabytes."""


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary name beside ``path``, then rename: never half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.name}.{os.getpid()}{PARTIAL}")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except OSError as error:  # a full disk, say: no half file left behind, and the real name said
        temporary.unlink(missing_ok=True)
        raise OSError(error.errno, error.strerror, str(path)) from None
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def png_bytes(image: np.ndarray) -> bytes:
    """8- or 16-bit grayscale PNG."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def tiff_bytes(image: np.ndarray) -> bytes:
    import tifffile

    buffer = io.BytesIO()
    tifffile.imwrite(buffer, image, photometric="minisblack", software=None, datetime=None)
    return buffer.getvalue()


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """An ``.npz`` (readable by ``numpy.load``) with fixed timestamps, deflate-compressed."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            member = io.BytesIO()
            np.lib.format.write_array(member, np.asarray(array), allow_pickle=False)
            archive.writestr(info, member.getvalue(), compresslevel=1)
    return buffer.getvalue()


def csv_bytes(rows: list[dict], columns: list[str], header: bool = True) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    if header:
        writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def format_bytes(version: int = FORMAT_VERSION, image_model: int | None = None) -> bytes:
    """The bytes of :data:`FORMAT_FILE`: ``{"format_version": 1, "image_model_version": 2}``
    and a newline (``image_model``: :data:`stemsim.simulator.IMAGE_MODEL_VERSION` by default)."""
    from stemsim.simulator import IMAGE_MODEL_VERSION

    image_model = IMAGE_MODEL_VERSION if image_model is None else image_model
    return (json.dumps({"format_version": version, "image_model_version": image_model}) + "\n").encode()


def _size(n: float) -> str:
    """Bytes as ``1.0 GiB`` / ``12.3 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def check_npz(path: str | Path) -> dict[str, tuple[tuple[int, ...], np.dtype]]:
    """Shape and dtype of every array of an ``.npz`` file, from the members' ``.npy`` headers
    (nothing is decompressed past them); InputError naming the file and the member when one
    would unpack to more than :data:`MAX_ARRAY_BYTES`, or when the file is no readable npz."""
    path = Path(path)
    found: dict[str, tuple[tuple[int, ...], np.dtype]] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.infolist():
                if not member.filename.endswith(".npy"):
                    continue
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    if version == (1, 0):
                        shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
                    elif version == (2, 0):
                        shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
                    else:
                        raise ValueError(f"{member.filename}: unknown .npy format version {version}")
                found[member.filename[:-4]] = (tuple(shape), dtype)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, RuntimeError) as error:
        raise InputError(f"{path}: not a readable npz file ({reason(error)})") from None
    for name, (shape, dtype) in found.items():
        nbytes = math.prod(shape) * dtype.itemsize
        if nbytes > MAX_ARRAY_BYTES:
            raise InputError(f"{path}: {name} would unpack to {_size(nbytes)} ({'×'.join(map(str, shape))} "
                             f"{dtype}; the limit is {_size(MAX_ARRAY_BYTES)} per array)")
    return found


def remove_partials(directory: Path) -> int:
    """Delete temporaries that an interrupted run left behind; returns how many."""
    removed = 0
    for path in directory.rglob(f"*{PARTIAL}"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
