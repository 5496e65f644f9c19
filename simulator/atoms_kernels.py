"""Numba kernels of the crystalline contrast model: which points lie in a solid, and the
splatting of atomic columns onto the scan.

Single-threaded on purpose, like :mod:`stemsim.simulator.kernels`: images are made in
parallel processes. Compiled with ``cache=True``; they read no mutable globals.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit


@njit(cache=True, inline="always")
def _in_piece(x, y, z, normals, offsets, centres, matrices, first, end, quadric):
    """Whether (x, y, z) satisfies every ``n·p <= d`` of a piece and its quadric, if any."""
    for k in range(first, end):
        if normals[k, 0] * x + normals[k, 1] * y + normals[k, 2] * z > offsets[k]:
            return False
    if quadric >= 0:
        ux = x - centres[quadric, 0]
        uy = y - centres[quadric, 1]
        uz = z - centres[quadric, 2]
        a = matrices[quadric]
        value = (a[0, 0] * ux * ux + a[1, 1] * uy * uy + a[2, 2] * uz * uz
                 + 2.0 * (a[0, 1] * ux * uy + a[0, 2] * ux * uz + a[1, 2] * uy * uz))
        if value > 1.0:
            return False
    return True


@njit(cache=True)
def inside_solid(points, normals, offsets, centres, matrices, table, out):
    """Which points lie in the solid: in some added piece and in no removed one.

    The membership of :func:`stemsim.simulator.kernels.project_thickness`, whose chord is
    the ray's length in (∪ pieces of sign +1) minus (∪ pieces of sign -1); boundaries
    (``n·p == d``, quadric value 1) count as inside.

    Parameters
    ----------
    points : numpy.ndarray
        (N, 3) float64, nm, object frame.
    normals, offsets : numpy.ndarray
        (P, 3) and (P,) float64: half-spaces ``n·p <= d`` (``KernelLayout``), nm.
    centres, matrices : numpy.ndarray
        (Q, 3) nm and (Q, 3, 3) 1/nm²: quadrics ``(p - c)ᵀ A (p - c) <= 1`` (Q >= 1; unused
        rows are ignored).
    table : numpy.ndarray
        (K, 4) int64 ``(first plane, end plane, quadric or -1, sign)``.
    out : numpy.ndarray
        (N,) bool, written in place.
    """
    for i in range(points.shape[0]):
        x = points[i, 0]
        y = points[i, 1]
        z = points[i, 2]
        added = False
        removed = False
        for k in range(table.shape[0]):
            if table[k, 3] > 0:
                if not added and _in_piece(x, y, z, normals, offsets, centres, matrices,
                                           table[k, 0], table[k, 1], table[k, 2]):
                    added = True
            elif _in_piece(x, y, z, normals, offsets, centres, matrices, table[k, 0], table[k, 1], table[k, 2]):
                removed = True
                break
        out[i] = added and not removed


@njit(cache=True)
def splat_gaussians(xc, yc, weights, sigma2, x0, y0, pixel_size, dx, dy, reach, out):
    """Add ``Σ_c w_c G(b - r_c)`` at every beam position b: normalised 2-D Gaussians.

    Each column visits only the pixels whose beam can come within ``reach`` σ of it (its
    window on the ideal grid widened by the largest scan offset), and evaluates the
    Gaussian at each pixel's actual beam position, within ``reach`` σ of the column (a disc).
    Without scan offsets the Gaussian factorises, ``g(x) g(y)``, cut to the square of half
    side ``reach`` σ instead (the same to < 4·10⁻⁶ of the weight at 5 σ).

    Parameters
    ----------
    xc, yc : numpy.ndarray
        (M,) float64 column positions, nm, microscope frame (origin at the field centre).
    weights : numpy.ndarray
        (M,) float64 cross-sections, fraction of the beam · nm².
    sigma2 : numpy.ndarray
        (M,) float64 variances σ² of each column's Gaussian, nm².
    x0, y0 : float
        Beam position of pixel (0, 0) on the ideal grid, nm.
    pixel_size : float
        nm per pixel.
    dx, dy : numpy.ndarray
        (H, W) float64 scan offsets, pixels (zeros for an ideal scan).
    reach : float
        Cut-off, in σ.
    out : numpy.ndarray
        (H, W) float64, fraction of the beam, accumulated in place.
    """
    height, width = out.shape
    max_dx = 0.0
    max_dy = 0.0
    for i in range(height):
        for j in range(width):
            max_dx = max(max_dx, abs(dx[i, j]))
            max_dy = max(max_dy, abs(dy[i, j]))
    separable = max_dx == 0.0 and max_dy == 0.0  # the ideal grid: G = g(x) g(y), 2n exps, not n²
    gx = np.empty(width)
    gy = np.empty(height)
    for c in range(xc.shape[0]):
        s2 = sigma2[c]
        radius = reach * math.sqrt(s2)
        j0 = max(0, int(math.floor((xc[c] - radius - x0) / pixel_size - max_dx)))
        j1 = min(width - 1, int(math.ceil((xc[c] + radius - x0) / pixel_size + max_dx)))
        i0 = max(0, int(math.floor((yc[c] - radius - y0) / pixel_size - max_dy)))
        i1 = min(height - 1, int(math.ceil((yc[c] + radius - y0) / pixel_size + max_dy)))
        if j0 > j1 or i0 > i1:
            continue
        norm = weights[c] / (2.0 * math.pi * s2)
        inverse = -0.5 / s2
        cut = radius * radius
        if separable:
            for j in range(j0, j1 + 1):
                ex = x0 + j * pixel_size - xc[c]
                gx[j] = math.exp(inverse * ex * ex) if ex * ex <= cut else 0.0
            for i in range(i0, i1 + 1):
                ey = y0 + i * pixel_size - yc[c]
                gy[i] = norm * math.exp(inverse * ey * ey) if ey * ey <= cut else 0.0
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    out[i, j] += gy[i] * gx[j]
            continue
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                ex = x0 + (j + dx[i, j]) * pixel_size - xc[c]
                ey = y0 + (i + dy[i, j]) * pixel_size - yc[c]
                r2 = ex * ex + ey * ey
                if r2 <= cut:
                    out[i, j] += norm * math.exp(inverse * r2)


@njit(cache=True)
def deposit_bilinear(columns, rows, weights, out):
    """Spread each weight onto the 4 pixels around its (fractional) position, bilinearly.

    Parameters
    ----------
    columns, rows : numpy.ndarray
        (M,) float64 positions in pixels of ``out`` (pixel centres at integers).
    weights : numpy.ndarray
        (M,) float64, any unit; the sum is conserved for points inside the grid.
    out : numpy.ndarray
        (H, W) float64, accumulated in place; mass beyond the edges is dropped.
    """
    height, width = out.shape
    for c in range(columns.shape[0]):
        fx = math.floor(columns[c])
        fy = math.floor(rows[c])
        tx = columns[c] - fx
        ty = rows[c] - fy
        j = int(fx)
        i = int(fy)
        for a in range(2):
            for b in range(2):
                ii = i + a
                jj = j + b
                if 0 <= ii < height and 0 <= jj < width:
                    share = (ty if a else 1.0 - ty) * (tx if b else 1.0 - tx)
                    out[ii, jj] += weights[c] * share


@njit(cache=True)
def sample_bilinear(field, rows, columns, out):
    """``out[i, j]`` = ``field`` at (rows[i, j], columns[i, j]), bilinear, 0 beyond the edges.

    Parameters
    ----------
    field : numpy.ndarray
        (Hp, Wp) float64 map.
    rows, columns : numpy.ndarray
        (H, W) float64 positions in pixels of ``field``.
    out : numpy.ndarray
        (H, W) float64, written in place, the unit of ``field``.
    """
    height, width = field.shape
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            fy = math.floor(rows[i, j])
            fx = math.floor(columns[i, j])
            ty = rows[i, j] - fy
            tx = columns[i, j] - fx
            r = int(fy)
            c = int(fx)
            total = 0.0
            for a in range(2):
                for b in range(2):
                    rr = r + a
                    cc = c + b
                    if 0 <= rr < height and 0 <= cc < width:
                        total += (ty if a else 1.0 - ty) * (tx if b else 1.0 - tx) * field[rr, cc]
            out[i, j] = total
