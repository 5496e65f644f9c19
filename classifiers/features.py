"""Hand-crafted geometric features of one particle in an ADF-STEM image (no deep learning).

Plain functions on NumPy arrays, in the scikit-image style: images are 2-D ``(H, W)`` arrays
of any real dtype, masks are bool ``(H, W)``, points are ``(K, 2)`` arrays of **(row,
column)** pixel coordinates with pixel centres at integers (the simulator's ``sites`` are
(column, row): swap the columns to compare). Lengths are in nm when a ``pixel_size_nm`` is
given (nm per pixel), areas in nm², volumes in nm³. The image processing is scikit-image /
SciPy (Gaussian filter, Otsu and hysteresis thresholds, connected components, hole filling,
marching-squares contours, Douglas–Peucker polygons, region properties, Harris corners).

Pipeline (:func:`image_features`):

1. :func:`particle_mask` — Gaussian smoothing, Otsu threshold (the particle's bright core),
   background level and noise from outside the core, hysteresis grown out from the core on
   a 3 × 3 median-filtered image down to a low level just above the background (so the
   mask reaches the silhouette even where the projected thickness ramps to zero, e.g. a
   tilted face, and straight edges stay straight), largest connected component, holes filled.
2. :func:`outline_polygon` — the mask's outline (:func:`skimage.measure.find_contours`)
   simplified to a polygon (:func:`skimage.measure.approximate_polygon`); its vertex count is
   ``len(polygon)``. A face-on cube gives 4, a cube seen along a body diagonal 6, one
   silhouette corner cut off adds one.
3. :func:`shape_descriptors` — area, perimeter, axes, eccentricity, solidity, extent,
   circularity, convex-hull defect and its significant concavities, Hu moments
   (:func:`skimage.measure.regionprops`).
4. :func:`corner_points` / :func:`corner_distances` — corners (the polygon's vertices, or
   Harris corners) and their sorted pairwise distances.
5. :func:`integrated_intensity_volume` — the particle volume from the integrated intensity
   of a *calibrated* image (the simulator's units; see its doc for the model), and
   :func:`thickness_descriptors` — the scale-free intensity features used on min–max scaled
   (uint8/uint16) images, whose absolute calibration is lost.

Bad input raises :class:`stemsim.errors.InputError` with one line naming the problem, e.g.
``image: expected a 2-D array (H, W), got shape (3, 4, 5)`` or ``image: holds NaN or
infinite values``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial.distance import pdist
from scipy.stats import skew
from skimage import feature, measure, morphology

from stemsim.classifiers.silhouette import (DEFAULT_EDGE_FRACTION, DEFAULT_NOISE_K, DEFAULT_SIGMA_PX,  # noqa: F401
                                           _check_mask, _check_pixel_size, _segment, check_image, outline_polygon,
                                           particle_mask, polygon_angles)
from stemsim.errors import InputError

__all__ = [
    "FEATURE_NAMES", "check_image", "particle_mask", "outline_polygon", "polygon_angles", "shape_descriptors",
    "corner_points", "corner_distances", "integrated_intensity_volume", "thickness_descriptors", "image_features",
]

FEATURE_NAMES: tuple[str, ...] = (
    # silhouette size (nm, nm², or pixels when no pixel size is given)
    "area_nm2", "perimeter_nm", "equivalent_diameter_nm", "major_axis_nm", "minor_axis_nm",
    # silhouette shape (dimensionless)
    "aspect_ratio", "eccentricity", "solidity", "extent", "circularity",
    "hull_defect", "n_concavities", "concavity_depth_rel",
    # outline polygon
    "n_vertices", "vertex_angle_min_deg", "vertex_angle_max_deg", "vertex_angle_std_deg", "edge_length_cv",
    # corners: polygon vertices (distances in nm) and Harris corners of the mask
    "corner_distance_min_nm", "corner_distance_max_nm", "corner_distance_mean_nm", "corner_distance_std_nm",
    "corner_distance_ratio", "n_harris_corners",
    # log-scaled Hu moments of the mask (translation, scale, rotation invariant)
    "hu_1", "hu_2", "hu_3", "hu_4", "hu_5", "hu_6", "hu_7",
    # projected thickness, relative (valid for min–max scaled images)
    "volume_fill", "intensity_cv", "intensity_skewness", "core_to_rim",
)
"""Names of the entries of :func:`image_features`, in order (35 features)."""

# ---- region properties ---------------------------------------------------------------


def shape_descriptors(mask: np.ndarray, pixel_size_nm: float = 1.0,
                      min_concavity_px: float = 2.0) -> dict[str, float]:
    """Silhouette descriptors of a mask (largest region) via :func:`skimage.measure.regionprops`.

    Returns a dict: ``area_nm2``, ``perimeter_nm``, ``equivalent_diameter_nm``,
    ``major_axis_nm``, ``minor_axis_nm`` (of the ellipse with the same second moments),
    ``aspect_ratio`` (minor/major, 1 for a disc or square), ``eccentricity``, ``solidity``
    (area / convex-hull area), ``extent`` (area / bounding-box area), ``circularity``
    (4π area / perimeter², 1 for a disc), ``hull_defect`` ((hull − area) / hull, relative),
    ``n_concavities`` (connected parts of hull − mask reaching at least ``min_concavity_px``
    pixels inside the hull, so the staircase of a pixelated straight edge does not count),
    ``concavity_depth_rel`` (depth of the deepest of them / equivalent diameter), and
    ``hu_1`` … ``hu_7`` (Hu moments, as ``−sign·log10|h|``). Lengths are scaled by
    ``pixel_size_nm``. An empty mask gives NaN everywhere but ``area_nm2 = 0``.
    """
    mask = _check_mask(mask)
    pixel = _check_pixel_size(pixel_size_nm)
    names = [n for n in FEATURE_NAMES[:13]] + [f"hu_{k}" for k in range(1, 8)]
    out = {name: float("nan") for name in names}
    labels = measure.label(mask, connectivity=2)
    if labels.max() == 0:
        out["area_nm2"] = 0.0
        return out
    regions = measure.regionprops(labels)
    region = max(regions, key=lambda r: r.area)
    area = float(region.area)
    perimeter = float(region.perimeter)
    hull = region.image_convex
    hull_area = float(hull.sum())
    major, minor = float(region.axis_major_length), float(region.axis_minor_length)
    out.update(
        area_nm2=area * pixel**2, perimeter_nm=perimeter * pixel,
        equivalent_diameter_nm=float(region.equivalent_diameter_area) * pixel,
        major_axis_nm=major * pixel, minor_axis_nm=minor * pixel,
        aspect_ratio=minor / major if major > 0 else 1.0, eccentricity=float(region.eccentricity),
        solidity=area / hull_area, extent=float(region.extent),
        circularity=4 * np.pi * area / perimeter**2 if perimeter > 0 else 1.0,
        hull_defect=(hull_area - area) / hull_area,
    )
    defect = hull & ~region.image
    depth_map = ndimage.distance_transform_edt(np.pad(hull, 1))[1:-1, 1:-1]
    parts = measure.label(defect, connectivity=2)
    depths = ndimage.maximum(depth_map, parts, index=np.arange(1, parts.max() + 1)) if parts.max() else []
    significant = [float(d) for d in np.atleast_1d(depths) if d >= min_concavity_px]
    out["n_concavities"] = float(len(significant))
    diameter_px = float(region.equivalent_diameter_area)
    out["concavity_depth_rel"] = (max(significant) / diameter_px) if significant else 0.0
    hu = measure.moments_hu(measure.moments_normalized(measure.moments_central(region.image.astype(float))))
    for k, h in enumerate(hu, start=1):
        out[f"hu_{k}"] = float(-np.sign(h) * np.log10(abs(h))) if h != 0 else 0.0
    return out


# ---- corners -------------------------------------------------------------------------


def corner_points(mask: np.ndarray, method: str = "polygon", tolerance_px: float | None = None,
                  min_distance_px: int = 3, harris_sigma_px: float = 1.5,
                  threshold_rel: float = 0.05) -> np.ndarray:
    """Corners ``(K, 2)`` (row, column; pixels) of the particle's silhouette.

    ``method="polygon"``: the vertices of :func:`outline_polygon` (``tolerance_px`` as there;
    they lie on the pixel boundary, so distances between them are true lengths).
    ``method="harris"``: :func:`skimage.feature.corner_peaks` of
    :func:`skimage.feature.corner_harris` of the mask (``harris_sigma_px``, peaks at least
    ``min_distance_px`` apart and above ``threshold_rel`` of the strongest); integer pixel
    positions of the corner pixels, about half a pixel inside the outline.

    Pass a mask (:func:`particle_mask` of an image); an empty mask gives ``(0, 2)``.
    """
    mask = _check_mask(mask)
    if method == "polygon":
        return outline_polygon(mask, tolerance_px)
    if method != "harris":
        raise InputError(f"method: expected polygon or harris, got {method!r}")
    if not mask.any():
        return np.zeros((0, 2))
    response = feature.corner_harris(np.pad(mask.astype(np.float64), 2), sigma=harris_sigma_px)
    peaks = feature.corner_peaks(response, min_distance=min_distance_px, threshold_rel=threshold_rel)
    return peaks.astype(np.float64).reshape(-1, 2) - 2.0


def corner_distances(points: np.ndarray, pixel_size_nm: float = 1.0) -> np.ndarray:
    """Sorted pairwise distances ``(K(K−1)/2,)`` between corner points ``(K, 2)`` (pixels),
    in nm (× ``pixel_size_nm``); :func:`scipy.spatial.distance.pdist`. A face-on cube of edge
    ``a`` gives four distances ``a`` and two ``a·√2``."""
    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise InputError(f"points: expected a (K, 2) array of (row, column), got shape {tuple(points.shape)}")
    pixel = _check_pixel_size(pixel_size_nm)
    if len(points) < 2:
        return np.zeros(0)
    return np.sort(pdist(points)) * pixel


# ---- intensity: volume and relative thickness ----------------------------------------


def integrated_intensity_volume(image: np.ndarray, pixel_size_nm: float, material: str | int = "Au",
                                z_exponent: float = 1.7, scattering: float = 1.0e-5,
                                mask: np.ndarray | None = None, margin_px: int = 4,
                                background: float | None = None) -> float:
    """Particle volume (nm³) from the integrated intensity of a **calibrated** image.

    Calibration: the simulator's image is the detected fraction of the beam in the
    thin-specimen limit (:mod:`stemsim.simulator.microscope`),
    ``I(x, y) = scattering · (Z^n · t(x, y) + 6^n · t_C(x, y))`` blurred by the probe (whose
    kernel integrates to 1), where ``t`` is the particle's projected thickness (nm) and
    ``t_C`` the carbon support's. Since ``Σ_pixels t · pixel_area`` is the particle volume,

        V ≈ Σ_{region} (I − background) · pixel_size² / (scattering · Z^n)

    ``region``: ``mask`` (default :func:`particle_mask`) dilated by ``margin_px`` pixels, to
    take in the probe blur around the edge; ``background``: the median of ``I`` outside the
    region (default), the mean support signal, assumed the same under the particle.

    Assumptions: one particle of one material (``material``: symbol or Z; ``z_exponent`` n
    and ``scattering`` as the simulator/spec used: defaults 1.7 and 1e-5 /nm); an image in
    the simulator's units (a float TIFF/npz of ``output.dtype: float32``), NOT a min–max
    scaled uint8/uint16 image (their scale is lost; see :func:`thickness_descriptors`);
    thin-specimen linearity (no channelling or saturation); probe tails inside the margin
    (``probe_tail_weight`` > 0 leaks signal beyond it); a support whose thickness under the
    particle averages to its thickness around it (the error is the area × the film's local
    mean deviation); shot noise averages out over the region.
    """
    x = check_image(image)
    pixel = _check_pixel_size(pixel_size_nm)
    from stemsim.simulator.materials import atomic_number

    try:
        z = atomic_number(material)
    except ValueError as error:
        raise InputError(str(error)) from None
    for name, value in (("z_exponent", z_exponent), ("scattering", scattering)):
        if not np.isfinite(value) or value <= 0:
            raise InputError(f"{name}: expected a positive number, got {value!r}")
    mask = particle_mask(x) if mask is None else _check_mask(mask)
    if mask.shape != x.shape:
        raise InputError(f"mask: shape {mask.shape} differs from the image's {x.shape}")
    if not mask.any():
        return 0.0
    region = ndimage.binary_dilation(mask, structure=morphology.disk(margin_px)) if margin_px > 0 else mask
    if background is None:
        outside = x[~region]
        background = float(np.median(outside)) if outside.size else 0.0
    signal = float(np.sum(x[region] - background))
    return signal * pixel**2 / (scattering * float(z) ** z_exponent)


def thickness_descriptors(image: np.ndarray, mask: np.ndarray, background: float) -> dict[str, float]:
    """Scale-free intensity features of the particle (valid for min–max scaled images).

    With ``s = image − background`` inside ``mask`` (image ∝ projected thickness, any scale):

    * ``volume_fill`` = Σ s / (mask pixels · max s): the **relative volume**, mean projected
      thickness over the largest one — the integrated intensity above the background (∝
      volume, :func:`integrated_intensity_volume`) normalised by the peak intensity × the
      silhouette area. Invariant to the min–max scaling of uint8/uint16 images (which an
      ``area^{3/2}`` normalisation is not: it needs the calibrated scale). Face-on cube ≈ 1,
      sphere ≈ 2/3, cone/pyramid ≈ 1/3; truncated corners lower it.
    * ``intensity_cv``: standard deviation / mean of ``s``; ``intensity_skewness``: its skewness.
    * ``core_to_rim``: mean ``s`` in the inner half (distance to the edge above half its
      maximum) over the mean ``s`` of the whole mask.

    Use a smoothed image for a noisy one (as :func:`image_features` does). NaN for an empty mask.
    """
    x = check_image(image)
    mask = _check_mask(mask)
    out = {"volume_fill": float("nan"), "intensity_cv": float("nan"), "intensity_skewness": float("nan"),
           "core_to_rim": float("nan")}
    if not mask.any():
        return out
    s = x[mask] - background
    peak, mean = float(s.max()), float(s.mean())
    if peak <= 0 or mean <= 0:
        return out
    distance = ndimage.distance_transform_edt(mask)
    core = distance > 0.5 * distance.max()
    out.update(volume_fill=mean / peak, intensity_cv=float(s.std()) / mean,
               intensity_skewness=float(skew(s)) if s.size > 2 and s.std() > 0 else 0.0,
               core_to_rim=float((x[core] - background).mean()) / mean if core.any() else 1.0)
    return out


# ---- the feature vector ----------------------------------------------------------------


def image_features(image: np.ndarray, pixel_size_nm: float = 1.0, sigma_px: float = DEFAULT_SIGMA_PX,
                   tolerance_px: float | None = None) -> np.ndarray:
    """The geometric feature vector of one image → float64 ``(len(FEATURE_NAMES),)``.

    ``image``: ``(H, W)``, any real dtype and intensity scale — calibrated floats, or the
    min–max scaled uint8/uint16 images of a dataset (all thresholds are relative to the
    image's own background and Otsu level, and the intensity features are scale-free, see
    :func:`thickness_descriptors`; the volume entry is therefore the *relative* volume
    ``volume_fill``, not nm³). ``pixel_size_nm``: nm per pixel (1: lengths in pixels).

    Entries (:data:`FEATURE_NAMES`): :func:`shape_descriptors` of :func:`particle_mask`;
    the :func:`outline_polygon`'s vertex count, interior angles (min, max, std; degrees) and
    edge-length coefficient of variation; :func:`corner_distances` of its vertices (min, max,
    mean, std in nm; max/min); the number of Harris corners (:func:`corner_points`); the Hu
    moments; :func:`thickness_descriptors` of the smoothed image. Undefined entries (no
    particle found; fewer than two corners) are NaN.
    """
    x = check_image(image)
    pixel = _check_pixel_size(pixel_size_nm)
    mask, smooth, background = _segment(x, sigma_px, DEFAULT_EDGE_FRACTION, DEFAULT_NOISE_K)
    values: dict[str, float] = dict(shape_descriptors(mask, pixel))
    polygon = outline_polygon(mask, tolerance_px)
    values["n_vertices"] = float(len(polygon))
    angles = polygon_angles(polygon)
    if len(angles):
        values.update(vertex_angle_min_deg=float(angles.min()), vertex_angle_max_deg=float(angles.max()),
                      vertex_angle_std_deg=float(angles.std()))
        edges = np.hypot(*(np.roll(polygon, -1, axis=0) - polygon).T)
        values["edge_length_cv"] = float(edges.std() / edges.mean()) if edges.mean() > 0 else 0.0
    distances = corner_distances(polygon, pixel)
    if len(distances):
        values.update(corner_distance_min_nm=float(distances[0]), corner_distance_max_nm=float(distances[-1]),
                      corner_distance_mean_nm=float(distances.mean()),
                      corner_distance_std_nm=float(distances.std()),
                      corner_distance_ratio=float(distances[-1] / distances[0]) if distances[0] > 0 else float("nan"))
    values["n_harris_corners"] = float(len(corner_points(mask, "harris"))) if mask.any() else 0.0
    values.update(thickness_descriptors(smooth, mask, background))
    return np.array([values.get(name, float("nan")) for name in FEATURE_NAMES], np.float64)
