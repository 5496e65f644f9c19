"""Size limits on what the classifier verbs read, checked from headers before anything is decoded.

A small file can claim a huge image: a 2.5 MB zlib TIFF of 50000² pixels, or an npz shard
whose deflated members unpack to gigabytes. Every image file and every npz array is sized
from its header first and refused, with one line naming the file, when it is over

* :data:`MAX_IMAGE_PIXELS` = 8192² = 67,108,864 pixels per image (PNG, JPEG, BMP through
  Pillow, whose own decompression-bomb warning is raised as an error; TIFF through tifffile,
  from the first page's header, with the whole series also held to :data:`MAX_ARRAY_BYTES`);
* :data:`MAX_ARRAY_BYTES` = 1 GiB per array of an npz file (its ``.npy`` header's shape ×
  item size, read from the zip member's stream before the array is loaded).

An 8192² RGB image is ~0.2 GB as read and ~0.8 GB as float32, so one image stays far from
the memory of an ordinary machine; a stemsim shard at the default ``shard_size: 256`` of
1024² float32 images is exactly 1 GiB, the largest that passes.
"""

from __future__ import annotations

import math
import re
import zipfile
from pathlib import Path

import numpy as np

from stemsim.errors import InputError, reason

MAX_IMAGE_PIXELS = 8192 * 8192
MAX_ARRAY_BYTES = 1 << 30


def _size(n: float) -> str:
    """Bytes as ``1.0 GiB`` / ``12.3 MiB``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"  # pragma: no cover


def check_image_size(path: str | Path, width: int, height: int) -> None:
    """InputError when a ``width`` × ``height`` image is over :data:`MAX_IMAGE_PIXELS`."""
    if int(width) * int(height) > MAX_IMAGE_PIXELS:
        raise InputError(f"{path}: image too large to read: {width}×{height} pixels "
                         f"(the limit is {MAX_IMAGE_PIXELS:,} pixels, 8192²)")


def pillow_bomb(path: str | Path, error: BaseException) -> InputError:
    """Pillow's DecompressionBombWarning/Error as the one-line refusal (its pixel count, if it says)."""
    found = re.search(r"\((\d+) pixels\)", str(error))
    size = f"{int(found.group(1)):,} pixels" if found else reason(error)
    return InputError(f"{path}: image too large to read: {size} (the limit is {MAX_IMAGE_PIXELS:,} pixels, 8192²)")


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
