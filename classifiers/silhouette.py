"""The particle's silhouette in an ADF-STEM image: input checks, the segmentation
(:func:`particle_mask`) and the outline polygon (:func:`outline_polygon`, :func:`polygon_angles`).
:mod:`stemsim.classifiers.features` turns them into numbers. Lengths in pixels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import ndimage
from skimage import filters, measure, morphology

from stemsim.errors import InputError

DEFAULT_SIGMA_PX = 1.0
DEFAULT_EDGE_FRACTION = 0.1
DEFAULT_NOISE_K = 4.0


# ---- input checks --------------------------------------------------------------------


def check_image(image: Any, name: str = "image") -> np.ndarray:
    """``image`` as a float64 ``(H, W)`` array, or InputError (one line) naming ``name``.

    Refused: anything that is not a real-valued 2-D array of at least 2 × 2 pixels, and arrays
    holding NaN or ±inf.
    """
    try:
        array = np.asarray(image)
    except Exception:
        raise InputError(f"{name}: expected a 2-D array (H, W), got {type(image).__name__}") from None
    if array.ndim != 2:
        raise InputError(f"{name}: expected a 2-D array (H, W), got shape {tuple(array.shape)}")
    if array.dtype.kind not in "biuf":
        raise InputError(f"{name}: expected real numbers, got dtype {array.dtype}")
    if min(array.shape) < 2:
        raise InputError(f"{name}: expected at least 2 × 2 pixels, got shape {tuple(array.shape)}")
    array = array.astype(np.float64)
    if not np.isfinite(array).all():
        raise InputError(f"{name}: holds NaN or infinite values")
    return array


def _check_mask(mask: Any, name: str = "mask") -> np.ndarray:
    array = np.asarray(mask)
    if array.ndim != 2:
        raise InputError(f"{name}: expected a 2-D array (H, W), got shape {tuple(array.shape)}")
    if array.dtype != bool:
        if array.dtype.kind not in "biuf" or not np.isfinite(array).all():
            raise InputError(f"{name}: expected a boolean (H, W) array, got dtype {array.dtype}")
        array = array != 0
    return array


def _check_pixel_size(pixel_size_nm: Any) -> float:
    try:
        value = float(pixel_size_nm)
    except (TypeError, ValueError):
        raise InputError(f"pixel_size_nm: expected a positive number of nm, got {pixel_size_nm!r}") from None
    if not np.isfinite(value) or value <= 0:
        raise InputError(f"pixel_size_nm: expected a positive number of nm, got {pixel_size_nm!r}")
    return value


# ---- segmentation --------------------------------------------------------------------


def _segment(image: np.ndarray, sigma_px: float, edge_fraction: float,
             noise_k: float) -> tuple[np.ndarray, np.ndarray, float]:
    """(mask, Gaussian-smoothed image, background level of the smoothed image) for a checked image."""
    smooth = filters.gaussian(image, sigma=sigma_px, preserve_range=True) if sigma_px > 0 else image
    empty = np.zeros(image.shape, bool)
    if not float(smooth.max()) > float(smooth.min()):
        return empty, smooth, float(smooth.min())
    high = float(filters.threshold_otsu(smooth))
    core = smooth > high
    margin = max(2, int(np.ceil(3 * sigma_px)))
    outside = ~ndimage.binary_dilation(core, structure=morphology.disk(margin))
    if outside.sum() < 16:  # the core fills the frame: use what is left
        outside = ~core
    if not outside.any():
        return empty, smooth, float(smooth.min())
    # the edge is found on a 3 × 3 median-filtered image: it removes shot noise like the
    # Gaussian but leaves a straight edge where it is (a Gaussian moves a low threshold
    # outwards by an amount that grows with the local thickness, bending straight edges)
    edges = filters.median(image, footprint=np.ones((3, 3), bool), mode="nearest")
    values = edges[outside]
    background = float(np.median(values))
    noise = 1.4826 * float(np.median(np.abs(values - background)))
    low = min(background + max(noise_k * noise, edge_fraction * (high - background)), high)
    labels = measure.label((edges > low) | core, connectivity=2)  # hysteresis: parts that reach the core
    seeded = np.unique(labels[core])
    seeded = seeded[seeded > 0]
    if not len(seeded):
        return empty, smooth, float(np.median(smooth[outside]))
    sizes = ndimage.sum_labels(np.ones(labels.shape), labels, index=seeded)
    mask = ndimage.binary_fill_holes(labels == int(seeded[int(np.argmax(sizes))]))
    return mask, smooth, float(np.median(smooth[outside]))


def particle_mask(image: np.ndarray, sigma_px: float = DEFAULT_SIGMA_PX,
                  edge_fraction: float = DEFAULT_EDGE_FRACTION, noise_k: float = DEFAULT_NOISE_K) -> np.ndarray:
    """Segment the (brightest) particle from the carbon background → bool ``(H, W)``.

    Parameters
    ----------
    image : (H, W) array, any real dtype and intensity scale (calibrated detected fraction,
        counts, or min–max scaled uint8/uint16); the particle is brighter than the support.
    sigma_px : Gaussian smoothing before thresholding, pixels (0: none).
    edge_fraction : the core is the smoothed image above its Otsu threshold
        (:func:`skimage.filters.threshold_otsu`); the mask grows from it (hysteresis: the
        connected parts of the low-threshold mask that reach the core) down to
        ``background + edge_fraction · (otsu − background)`` on the 3 × 3 median-filtered
        image (:func:`skimage.filters.median`; it keeps straight edges straight), so it
        reaches the silhouette where the projected thickness falls off gradually.
    noise_k : the low threshold also stays ``noise_k`` background standard deviations (from
        the median absolute deviation of the median-filtered image outside the dilated
        core) above the background level (its median there).

    Returns the largest such connected component (8-connectivity), holes filled
    (:func:`scipy.ndimage.binary_fill_holes`); all False for a flat image.
    """
    return _segment(check_image(image), sigma_px, edge_fraction, noise_k)[0]


# ---- outline polygon -----------------------------------------------------------------


def _auto_tolerance(mask: np.ndarray) -> float:
    """Default polygon tolerance, pixels: 1.5 px, or 4 % of the side of a square of the mask's area."""
    return max(1.5, 0.04 * float(np.sqrt(mask.sum())))


def _drop_collinear(polygon: np.ndarray, tolerance: float) -> np.ndarray:
    """Remove vertices of a closed polygon that lie within ``tolerance`` of the line through
    their neighbours (Douglas–Peucker keeps the contour's arbitrary start point)."""
    points = list(map(np.asarray, polygon))
    while len(points) > 3:
        n = len(points)
        deviations = []
        for i in range(n):
            a, p, b = points[i - 1], points[i], points[(i + 1) % n]
            chord = b - a
            length = float(np.hypot(*chord))
            cross = chord[0] * (p - a)[1] - chord[1] * (p - a)[0]
            deviations.append(abs(cross) / length if length > 0 else float(np.hypot(*(p - a))))
        k = int(np.argmin(deviations))
        if deviations[k] >= tolerance:
            break
        del points[k]
    return np.array(points, dtype=np.float64).reshape(-1, 2)


def _refine_vertices(contour: np.ndarray, index: np.ndarray, tolerance: float) -> np.ndarray:
    """Polygon vertices (contour points ``contour[index]``, in contour order) moved to the
    intersections of straight lines fitted (total least squares) to the contour points of the
    two edges that meet there; the ends of every edge (where a corner is rounded by blur or
    filtering) are left out of the fits. A vertex stays where it is when an edge is too short
    to fit, the edges are nearly parallel, or the intersection lies farther than
    ``2 · tolerance + 1`` pixels from it."""
    n, m = len(index), len(contour)
    lines = []
    for i in range(n):
        start, stop = int(index[i]), int(index[(i + 1) % n])
        span = (stop - start) % m
        trim = max(1, int(0.15 * span))
        points = contour[(start + np.arange(trim, span - trim + 1)) % m]
        if len(points) < 3:
            lines.append(None)
            continue
        centre = points.mean(axis=0)
        direction = np.linalg.svd(points - centre, full_matrices=False)[2][0]
        lines.append((centre, direction))
    vertices = contour[index].astype(np.float64)
    for i in range(n):
        before, after = lines[i - 1], lines[i]
        if before is None or after is None:
            continue
        (p, u), (q, v) = before, after
        det = u[0] * -v[1] - u[1] * -v[0]
        if abs(det) < np.sin(np.radians(10.0)):  # nearly parallel: no well-defined corner
            continue
        rhs = q - p
        s = (rhs[0] * -v[1] - rhs[1] * -v[0]) / det
        point = p + s * u
        if np.hypot(*(point - vertices[i])) <= 2 * tolerance + 1:
            vertices[i] = point
    return vertices


def outline_polygon(mask: np.ndarray, tolerance_px: float | None = None) -> np.ndarray:
    """Vertices ``(K, 2)`` (row, column; float pixels) of the mask's outline as a polygon.

    The outline is the marching-squares contour at level 0.5 of the (zero-padded) mask
    (:func:`skimage.measure.find_contours`; it runs along the pixel boundaries, so a mask of
    ``n`` pixels across spans ``n`` pixels), the longest one if there are several. It is
    simplified with :func:`skimage.measure.approximate_polygon` (Douglas–Peucker) at
    ``tolerance_px`` pixels (default: ``max(1.5, 0.04 · sqrt(mask area))``), starting from the
    contour point farthest from the centroid; vertices left within the tolerance of the line
    through their neighbours are dropped, and every vertex is moved to the intersection of
    the lines fitted to the contour along its two edges (sub-pixel corners, not rounded off).
    The polygon is open (no repeated first vertex), in contour order; the **vertex count** is
    ``len(polygon)``. An empty mask gives ``(0, 2)``.
    """
    mask = _check_mask(mask)
    if not mask.any():
        return np.zeros((0, 2))
    tolerance = _auto_tolerance(mask) if tolerance_px is None else float(tolerance_px)
    if not np.isfinite(tolerance) or tolerance < 0:
        raise InputError(f"tolerance_px: expected a non-negative number of pixels, got {tolerance_px!r}")
    contours = measure.find_contours(np.pad(mask.astype(np.float64), 1), 0.5)
    contour = max(contours, key=len) - 1.0
    if len(contour) > 1 and np.allclose(contour[0], contour[-1]):
        contour = contour[:-1]
    if len(contour) < 3:
        return contour
    start = int(np.argmax(((contour - contour.mean(axis=0)) ** 2).sum(axis=1)))
    contour = np.roll(contour, -start, axis=0)
    polygon = measure.approximate_polygon(np.vstack([contour, contour[:1]]), tolerance)[:-1]
    if len(polygon) > 3:
        polygon = _drop_collinear(polygon, tolerance)
    # the polygon's vertices are contour points: find them (in order) to fit the edges between
    index, k = [], 0
    for vertex in polygon:
        while k < len(contour) and not np.array_equal(contour[k], vertex):
            k += 1
        index.append(k)
    if len(polygon) < 3 or k >= len(contour):
        return polygon
    return _refine_vertices(contour, np.asarray(index), tolerance)


def polygon_angles(polygon: np.ndarray) -> np.ndarray:
    """Interior angles (degrees, ``(K,)``) of a simple closed polygon ``(K, 2)``; reflex
    (concave) vertices give angles above 180°."""
    polygon = np.asarray(polygon, np.float64)
    if len(polygon) < 3:
        return np.zeros(0)
    before = np.roll(polygon, 1, axis=0) - polygon
    after = np.roll(polygon, -1, axis=0) - polygon
    turn = np.degrees(np.arctan2(before[:, 0] * after[:, 1] - before[:, 1] * after[:, 0],
                                 (before * after).sum(axis=1)))
    # orientation: the signed area decides which side is inside
    area = 0.5 * float(np.sum(polygon[:, 0] * np.roll(polygon[:, 1], -1) - np.roll(polygon[:, 0], -1) * polygon[:, 1]))
    angles = np.mod(turn if area < 0 else -turn, 360.0)
    return angles
