"""Numba kernels: exact chord lengths of rays along the beam (z) through convex pieces.

Data layout (world frame, one entry per scan line so that objects can turn during the
scan; a static object has one line):

- ``planes``   (L, P, 4): rows ``(kind, c0, cx, cy)`` of each half-space ``n·p <= d``,
  solved for z so that a ray needs no division: ``kind`` +1 means z <= c0 + cx·x + cy·y,
  -1 means z >= that, 0 (a face parallel to the beam) means the ray is outside when
  c0 + cx·x + cy·y < 0.  ``bound_coefficients`` makes them.
- ``quadrics`` (L, Q, 9): ``(cx, cy, cz, a11, a12, a13, a22, a23, a33)``, solid
  ``(p - c)ᵀ A (p - c) <= 1``.
- ``pieces``   (K, 4) int: ``(first plane, end plane, quadric index or -1, sign ±1)``.
- ``bounds``   (L, 4): ``(xmin, xmax, ymin, ymax)`` of the object, to skip empty pixels.

Kernels are single-threaded on purpose: images are made in parallel processes.

Every kernel is compiled with ``cache=True``: the first run on a machine compiles them (a few
seconds) and writes numba's cache (``__pycache__`` beside this file, or numba's user-wide cache
folder when that is read-only, or ``NUMBA_CACHE_DIR`` if set); later runs and worker processes
load it. They read no mutable globals (only the constants below), so a cached kernel is exact.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

PARALLEL = 1e-9  # |n_z| below this: the face is parallel to the beam


def bound_coefficients(planes: np.ndarray) -> np.ndarray:
    """Half-spaces ``n·p <= d`` solved for z, the form the kernels read (module docstring).

    Parameters
    ----------
    planes : numpy.ndarray
        (..., 4) float64 rows ``(nx, ny, nz, d)``: unit normal and offset d, nm.

    Returns
    -------
    numpy.ndarray
        (..., 4) float64 rows ``(kind, c0, cx, cy)``: kind ±1 or 0, c0 in nm, cx and cy
        dimensionless (nm of z per nm of x or y).
    """
    nx, ny, nz, d = np.moveaxis(planes, -1, 0)
    parallel = np.abs(nz) < PARALLEL
    divisor = np.where(parallel, 1.0, nz)
    kind = np.where(parallel, 0.0, np.sign(nz))
    return np.stack([kind, d / divisor, -nx / divisor, -ny / divisor], axis=-1)


@njit(cache=True, inline="always")
def _piece_interval(x, y, line_planes, line_quadrics, first, end, quadric):
    """(lo, hi) of z along the ray at (x, y) inside one convex piece; lo >= hi if none."""
    lo = -np.inf
    hi = np.inf
    for k in range(first, end):
        kind = line_planes[k, 0]
        bound = line_planes[k, 1] + line_planes[k, 2] * x + line_planes[k, 3] * y
        if kind > 0.0:
            hi = min(hi, bound)
        elif kind < 0.0:
            lo = max(lo, bound)
        elif bound < 0.0:  # a face parallel to the beam, ray outside it
            lo = np.inf
    if quadric >= 0:
        q = line_quadrics[quadric]
        ux = x - q[0]
        uy = y - q[1]
        a = q[8]
        b = q[5] * ux + q[7] * uy
        c = q[3] * ux * ux + 2.0 * q[4] * ux * uy + q[6] * uy * uy - 1.0
        if a > 1e-300:
            disc = b * b - a * c
            if disc <= 0.0:
                return np.inf, -np.inf
            root = np.sqrt(disc)
            # Stable roots: avoid cancellation when |b| ≈ root.
            if b >= 0.0:
                w1 = (-b - root) / a
                w2 = c / (a * w1) if w1 != 0.0 else (-b + root) / a
            else:
                w2 = (-b + root) / a
                w1 = c / (a * w2) if w2 != 0.0 else (-b - root) / a
            zlo = q[2] + w1
            zhi = q[2] + w2
        elif c > 0.0:  # a cylinder along z, missed
            return np.inf, -np.inf
        else:
            zlo = -np.inf
            zhi = np.inf
        if zlo > lo:
            lo = zlo
        if zhi < hi:
            hi = zhi
    return lo, hi


@njit(cache=True, inline="always")
def _sort_merge(lows, highs, n):
    """Sort n intervals by start and merge overlaps in place; returns the new count."""
    for i in range(1, n):
        lo = lows[i]
        hi = highs[i]
        j = i - 1
        while j >= 0 and lows[j] > lo:
            lows[j + 1] = lows[j]
            highs[j + 1] = highs[j]
            j -= 1
        lows[j + 1] = lo
        highs[j + 1] = hi
    m = 0
    for i in range(n):
        if m > 0 and lows[i] <= highs[m - 1]:
            if highs[i] > highs[m - 1]:
                highs[m - 1] = highs[i]
        else:
            lows[m] = lows[i]
            highs[m] = highs[i]
            m += 1
    return m


@njit(cache=True, inline="always")
def _ray_length(x, y, line_planes, line_quadrics, pieces, add_lo, add_hi, cut_lo, cut_hi):
    """Length (nm) of the ray at (x, y) inside (∪ added pieces) minus (∪ removed pieces)."""
    n_add = 0
    n_cut = 0
    for k in range(pieces.shape[0]):
        lo, hi = _piece_interval(x, y, line_planes, line_quadrics, pieces[k, 0], pieces[k, 1], pieces[k, 2])
        if lo < hi:
            if pieces[k, 3] > 0:
                add_lo[n_add] = lo
                add_hi[n_add] = hi
                n_add += 1
            else:
                cut_lo[n_cut] = lo
                cut_hi[n_cut] = hi
                n_cut += 1
    if n_add == 0:
        return 0.0
    if n_cut == 0 and n_add == 1:
        return add_hi[0] - add_lo[0]
    n_add = _sort_merge(add_lo, add_hi, n_add)
    n_cut = _sort_merge(cut_lo, cut_hi, n_cut)
    total = 0.0
    for i in range(n_add):
        total += add_hi[i] - add_lo[i]
        for j in range(n_cut):  # the cut union is disjoint, so overlaps add up
            lo = max(add_lo[i], cut_lo[j])
            hi = min(add_hi[i], cut_hi[j])
            if hi > lo:
                total -= hi - lo
    return total


@njit(cache=True)
def project_thickness(xs, ys, planes, quadrics, pieces, bounds, supersampling, pixel_size, out):
    """Add the projected thickness (nm) of one object to ``out``.

    Parameters
    ----------
    xs, ys : numpy.ndarray
        (H, W) float64 beam positions (nm) of each pixel centre; row ``i`` is scan line ``i``.
    planes : numpy.ndarray
        (L, P, 4) float64 half-spaces ``(kind, c0, cx, cy)`` (module docstring); ``L`` is 1
        or ``H``.
    quadrics : numpy.ndarray
        (L, Q, 9) float64 ellipsoids ``(cx, cy, cz, a11, a12, a13, a22, a23, a33)``, nm and
        1/nm².
    pieces : numpy.ndarray
        (K, 4) int ``(first plane, end plane, quadric index or -1, sign ±1)``.
    bounds : numpy.ndarray
        (L, 4) float64 ``(xmin, xmax, ymin, ymax)`` of the object, nm.
    supersampling : int
        ``s`` gives an s × s grid of rays per pixel, averaged.
    pixel_size : float
        nm; spacing of the sub-pixel grid.
    out : numpy.ndarray
        (H, W) float64, nm, accumulated in place.
    """
    height, width = xs.shape
    n_pieces = pieces.shape[0]
    add_lo = np.empty(n_pieces)
    add_hi = np.empty(n_pieces)
    cut_lo = np.empty(n_pieces)
    cut_hi = np.empty(n_pieces)
    weight = 1.0 / (supersampling * supersampling)
    step = pixel_size / supersampling
    offset0 = -0.5 * pixel_size + 0.5 * step
    margin = 0.5 * pixel_size
    single = n_pieces == 1 and pieces[0, 3] > 0  # one convex piece: no interval bookkeeping
    for i in range(height):
        line = i if planes.shape[0] > 1 else 0
        line_planes = planes[line]
        line_quadrics = quadrics[line]
        xmin = bounds[line, 0] - margin
        xmax = bounds[line, 1] + margin
        ymin = bounds[line, 2] - margin
        ymax = bounds[line, 3] + margin
        for j in range(width):
            x0 = xs[i, j]
            y0 = ys[i, j]
            if x0 < xmin or x0 > xmax or y0 < ymin or y0 > ymax:
                continue
            if single:
                total = 0.0
                for a in range(supersampling):
                    for b in range(supersampling):
                        lo, hi = _piece_interval(x0 + offset0 + b * step, y0 + offset0 + a * step, line_planes,
                                                 line_quadrics, pieces[0, 0], pieces[0, 1], pieces[0, 2])
                        if hi > lo:
                            total += hi - lo
                out[i, j] += total * weight
            elif supersampling == 1:
                out[i, j] += _ray_length(x0, y0, line_planes, line_quadrics, pieces, add_lo, add_hi, cut_lo, cut_hi)
            else:
                total = 0.0
                for a in range(supersampling):
                    for b in range(supersampling):
                        total += _ray_length(x0 + offset0 + b * step, y0 + offset0 + a * step, line_planes,
                                             line_quadrics, pieces, add_lo, add_hi, cut_lo, cut_hi)
                out[i, j] += total * weight


SMALL_MEAN = 12.0
UNIFORMS_PER_LARGE = 2.5  # PTRS needs 2 uniforms a try and accepts ~89 % of tries
_CHUNK = 64


@njit(cache=True, inline="always")
def _poisson_ptrs(mean, pool, position):
    """One Poisson(mean) variate, mean >= 10, by Hörmann's transformed rejection with
    squeeze (PTRS, 1993), as NumPy does; uniforms come from ``pool`` from ``position``.
    Returns (count, new position); count -1 when the pool ran dry."""
    b = 0.931 + 2.53 * np.sqrt(mean)
    a = -0.059 + 0.02483 * b
    v_r = 0.9277 - 3.6224 / (b - 2.0)
    while True:
        if position + 1 >= pool.size:
            return -1.0, position
        u = pool[position] - 0.5
        v = pool[position + 1]
        position += 2
        us = 0.5 - abs(u)
        k = np.floor((2.0 * a / us + b) * u + mean + 0.43)
        if us >= 0.07 and v <= v_r:
            return k, position
        if k < 0.0 or (us < 0.013 and v > us):
            continue
        inverse_alpha = 1.1239 + 1.1328 / (b - 3.4)  # the slow path: ~11 % of tries
        if (np.log(v) + np.log(inverse_alpha) - np.log(a / (us * us) + b)
                <= -mean + k * np.log(mean) - math.lgamma(k + 1.0)):
            return k, position


@njit(cache=True)
def sample_poisson(rng, means, uniforms, out):
    """Exact Poisson counts ``out[i] ~ Poisson(means[i])`` (flat arrays).

    ``uniforms`` holds one uniform per pixel with a mean below ``SMALL_MEAN``, in
    raster order, then a pool for the brighter pixels (``stemsim.simulator.microscope.poisson_counts``
    sizes it).

    Dim pixels invert the CDF at their uniform; NumPy's multiplication method draws about
    mean + 1 uniforms there, which dominated the cost of a dim carbon background.  The
    inversion runs over chunks of pixels in lock-step, without branches, so that it
    vectorises.  Bright pixels use PTRS on the pool.

    Parameters
    ----------
    rng : numpy.random.Generator
        Used only when the pool runs dry (rare), so that the counts stay exact.
    means : numpy.ndarray
        (N,) float64 expected counts, electrons, >= 0.
    uniforms : numpy.ndarray
        (n_small + pool,) float64 uniforms in [0, 1).
    out : numpy.ndarray
        (N,) int32 counts, electrons, written in place.
    """
    reciprocal = 1.0 / np.arange(1, 201)
    small = np.empty(means.size, dtype=np.int64)
    n_small = 0
    for i in range(means.size):
        if means[i] < SMALL_MEAN:
            small[n_small] = i
            n_small += 1
    position = n_small
    for i in range(means.size):
        if means[i] >= SMALL_MEAN:
            count, position = _poisson_ptrs(means[i], uniforms, position)
            # A dry pool is rare; the generator's own sampler keeps it exact and reproducible.
            out[i] = count if count >= 0.0 else rng.poisson(means[i])
    mean = np.empty(_CHUNK)
    u = np.empty(_CHUNK)
    term = np.empty(_CHUNK)
    cdf = np.empty(_CHUNK)
    count = np.empty(_CHUNK, dtype=np.int64)
    for start in range(0, n_small, _CHUNK):
        m = min(_CHUNK, n_small - start)
        for j in range(m):
            mean[j] = means[small[start + j]]
            u[j] = uniforms[start + j]
            term[j] = np.exp(-mean[j])
            cdf[j] = term[j]
            count[j] = 0
        for k in range(200):  # 200 only guards against u == 1 rounding
            active = 0
            for j in range(m):
                below = u[j] > cdf[j]
                active += below
                count[j] += below
                term[j] *= mean[j] * reciprocal[k]
                cdf[j] += term[j]
            if active == 0:
                break
        for j in range(m):
            out[small[start + j]] = count[j]


@njit(cache=True)
def shift_periodic(field, dx, dy, out):
    """``out[i, j] = field`` at ``(i + dy[i, j], j + dx[i, j])``, bilinear, periodic edges.

    Moves the carbon film with the beam offsets of a distorted scan.

    Parameters
    ----------
    field : numpy.ndarray
        (H, W) float map (the film's thickness fluctuation, nm).
    dx, dy : numpy.ndarray
        (H, W) float64 beam offsets, pixels.
    out : numpy.ndarray
        (H, W), the units of ``field``, written in place.
    """
    height, width = field.shape
    for i in range(height):
        for j in range(width):
            y = i + dy[i, j]
            x = j + dx[i, j]
            y0 = math.floor(y)
            x0 = math.floor(x)
            fy = y - y0
            fx = x - x0
            r0 = int(y0) % height
            c0 = int(x0) % width
            r1 = (r0 + 1) % height
            c1 = (c0 + 1) % width
            out[i, j] = ((1.0 - fy) * ((1.0 - fx) * field[r0, c0] + fx * field[r0, c1])
                         + fy * ((1.0 - fx) * field[r1, c0] + fx * field[r1, c1]))


def cache_is_cold() -> bool:
    """Whether the next acquisition will compile the kernels: numba's cache index of one of the
    kernels a measurement calls is missing. Cheap (three ``stat`` calls); it reads numba's
    private ``_cache`` attributes, and says False (nothing to announce) if they change."""
    import os

    try:
        return any(not os.path.exists(kernel._cache._cache_file._index_path)
                   for kernel in (project_thickness, sample_poisson, shift_periodic))
    except AttributeError:
        return False
