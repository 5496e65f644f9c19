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

import re
from pathlib import Path

from stemsim.dataset.files import MAX_ARRAY_BYTES, check_npz  # the dataset layer reads npz shards too
from stemsim.errors import InputError, reason

MAX_IMAGE_PIXELS = 8192 * 8192
__all__ = ["MAX_ARRAY_BYTES", "MAX_IMAGE_PIXELS", "check_image_size", "check_npz", "pillow_bomb"]


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
