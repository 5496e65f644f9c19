"""Atomic, byte-reproducible file writers: PNG, TIFF, npz shards, CSV."""

from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

PARTIAL = ".partial"
_EPOCH = (1980, 1, 1, 0, 0, 0)  # fixed zip timestamps: same bytes on every run


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


def remove_partials(directory: Path) -> int:
    """Delete temporaries that an interrupted run left behind; returns how many."""
    removed = 0
    for path in directory.rglob(f"*{PARTIAL}"):
        path.unlink(missing_ok=True)
        removed += 1
    return removed
