"""Numba kernels of the classifiers: back-projection of 2-D maps into a 3-D grid.

Used by :mod:`stemsim.classifiers.tomography`. The grid is cubic, ``n`` points a side, ``step``
pixels apart, centred on the origin of the object frame; ``projections`` ``(K, 2, 3)`` are the
first two rows of each view's rotation (object frame → microscope frame, whose x runs along
image columns and y along rows), ``centres`` ``(K, 2)`` the (column, row) where each view
sees the origin.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, prange


@njit(cache=True, parallel=True)
def backproject_mean(maps: np.ndarray, projections: np.ndarray, centres: np.ndarray, step: float,
                     n: int) -> np.ndarray:
    """Maps ``(K, H, W)`` float32 → ``(n, n, n)`` float32: at every grid point, the mean over
    the K views of the map value (bilinear) where the view sees that point; 0 from a view
    that sees it outside its field."""
    views, height, width = maps.shape
    out = np.zeros((n, n, n), np.float32)
    half = (n - 1) / 2.0
    for i in prange(n):  # one x-slab per thread: no two threads write the same voxel
        x = (i - half) * step
        for j in range(n):
            y = (j - half) * step
            for k in range(views):
                px = projections[k, 0, 0] * x + projections[k, 0, 1] * y
                py = projections[k, 1, 0] * x + projections[k, 1, 1] * y
                for m in range(n):
                    z = (m - half) * step
                    col = centres[k, 0] + px + projections[k, 0, 2] * z
                    row = centres[k, 1] + py + projections[k, 1, 2] * z
                    c0 = math.floor(col)
                    r0 = math.floor(row)
                    if c0 < 0 or r0 < 0 or c0 + 1 >= width or r0 + 1 >= height:
                        continue
                    fc = col - c0
                    fr = row - r0
                    out[i, j, m] += ((maps[k, r0, c0] * (1.0 - fc) + maps[k, r0, c0 + 1] * fc) * (1.0 - fr)
                                     + (maps[k, r0 + 1, c0] * (1.0 - fc) + maps[k, r0 + 1, c0 + 1] * fc) * fr)
    return out / views
