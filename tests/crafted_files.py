"""Crafted files for the bad-input tests: decompression bombs whose headers claim far more than
their bytes hold (a PNG, a real zlib TIFF, an npz member), and zip archives of chosen members.
Each is a few KB to a few MB on disk."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np


def write_npz_bomb(path: Path, shape=(10000, 512, 512)) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        header = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.uint8))
        header["shape"] = shape
        member = zipfile.ZipInfo("images.npy")
        member.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(member, "w") as stream:
            np.lib.format.write_array_header_1_0(stream, header)
            stream.write(b"\0" * 4096)  # the start of the 2.6 GB of zeros
        for name, value in (("labels", np.zeros(1, np.int64)), ("classes", np.array(["a", "b"])),
                            ("ids", np.array(["x"]))):
            with archive.open(f"{name}.npy", "w") as stream:
                np.lib.format.write_array(stream, value)


def png_header_bomb(path: Path, width: int, height: int) -> Path:
    """A PNG whose header claims ``width`` × ``height`` gray pixels (its data: a few bytes of zlib)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))
                     + chunk(b"IEND", b""))
    return path


def tiff_bomb(path: Path, side: int = 50000) -> Path:
    """A real zlib TIFF of ``side``² zero pixels, a few MB: every strip the same compressed bytes."""
    import tifffile

    rows = 256
    strip = zlib.compress(b"\0" * (side * rows), 9)
    count = -(-side // rows)
    tifffile.imwrite(path, iter([strip] * count), shape=(side, side), dtype=np.uint8, compression="zlib",
                     rowsperstrip=rows, photometric="minisblack")
    return path


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()
