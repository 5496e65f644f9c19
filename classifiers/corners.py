"""Is this corner cut? One decision per projected vertex, from a two-stage model's maps.

Counting cut corners from image-level features of the maps asks a gradient-boosting model to
add up evidence it only sees pooled. Here each peak of the every-vertex heat-map is one item:
its own deformed heat, the projected thickness around it and where it sits on the particle
(:func:`corner_rows`) → a classifier fitted on the training images' peaks, whose truth is
whether a cut vertex of the simulator's ground truth lies within
:data:`~classifiers.pixelwise.MATCH_RADIUS_PX` (:func:`corner_truth`). An image's corner
probabilities are then summed up for the image-level classifier (:func:`corner_summary`,
named by :data:`CORNER_SUMMARY_NAMES`). With ``model.corner_patches`` a candidate's features
also hold the image and maps sampled around it in its own frame (:func:`corner_patches`).

Stage 2 must learn from corner probabilities as noisy as those it will see at test time,
so its training rows get *out-of-fold* probabilities: the training objects are split into
:data:`FOLDS` groups (all views of an object in one) and each group's peaks are scored by a
classifier fitted on the other groups (:func:`fit_corner_classifier`).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from classifiers.pixelwise import (MATCH_RADIUS_PX, PEAK_THRESHOLD, VERTEX_MASS, find_vertices, pair_geometry,
                                   visible_sites)

CANDIDATE_THRESHOLD = 0.15
"""Every-vertex heat this high makes a candidate corner (below the maps' 0.3 peak threshold:
the classifier, not the threshold, decides)."""
NEAR_PX, AROUND_PX = 3, 6  # pixels: a corner's own disc, and the ring around it
FOLDS = 5
TOP = 10  # corner probabilities kept, strongest first (a cuboid has 8 vertices)
CORNER_FEATURE_NAMES = (
    "vertex_heat", "deformed_heat_max", "deformed_mass", "vertex_mass", "thickness_at", "thickness_near",
    "thickness_around", "mask_around", "depth_in_mask", "distance_to_centre", "nearest_other_corner",
    "corners_in_image", "thickness_max_nm", "deformed_area")
PATCH_MAPS = ("image", "thickness", "deformed_heat")
PATCH_HALF, PATCH_STEP_PX = 4, 1.5  # a (2·4 + 1)² grid at 1.5 px: ±6 px around the corner
CORNER_PATCH_NAMES = tuple(f"patch_{name}_out{a - PATCH_HALF:+d}_side{b - PATCH_HALF:+d}" for name in PATCH_MAPS
                           for a in range(2 * PATCH_HALF + 1) for b in range(PATCH_HALF + 1))
"""With ``model.corner_patches``: each map sampled on a grid around the corner, turned so that
its first axis points from the particle's centre out through the corner, averaged with its
mirror image across that axis (which side is which is not known) and kept on one side."""
CORNER_SUMMARY_NAMES = (("corners_cut_expected", "corners_cut_over_0.5", "corners_cut_over_0.3",
                         "corners_cut_over_0.7", "corner_candidates")
                        + tuple(f"corner_cut_probability_{k + 1}" for k in range(TOP))
                        + ("likeliest_pair_midpoint_offset_rel", "likeliest_pair_distance_over_widest",
                           "likeliest_pair_translate_residual_1", "likeliest_pair_translate_residual_2",
                           "likeliest_pair_translate_residual_3"))


class Corners(NamedTuple):
    """One image's candidate corners: ``peaks`` ``(k, 3)`` (column, row, heat), their
    ``features`` ``(k, len(CORNER_FEATURE_NAMES))``, and the particle's thickness-weighted
    ``centre`` (column, row) and ``size`` (√ of its mask area), pixels."""

    peaks: np.ndarray
    features: np.ndarray
    centre: np.ndarray
    size: float


def corner_feature_names(patches: bool = False) -> tuple[str, ...]:
    """The columns of :func:`corner_rows`' features, with or without the patches."""
    return CORNER_FEATURE_NAMES + (CORNER_PATCH_NAMES if patches else ())


def corner_rows(mask: np.ndarray, thickness: np.ndarray, heat: np.ndarray, image: np.ndarray | None = None) -> Corners:
    """One image's maps (mask probability, thickness nm, vertex heat ``(H, W, 2)``) → its
    candidate corners (peaks of the every-vertex heat; :func:`~classifiers.pixelwise.find_vertices`)
    and their features. Lengths are in units of the particle's size, thickness in units of its
    maximum: scale-free. With the ``image`` the maps were made from ``(H, W)``, the features
    also hold :func:`corner_patches` (:data:`CORNER_PATCH_NAMES`)."""
    from scipy import ndimage
    from scipy.spatial.distance import cdist

    peaks = find_vertices(heat[..., 0], threshold=CANDIDATE_THRESHOLD)
    inside = mask > 0.5
    weight = np.clip(thickness, 0, None)
    yy, xx = np.indices(mask.shape)
    centre = np.array([(xx * weight).sum(), (yy * weight).sum()]) / weight.sum() if weight.sum() > 0 \
        else np.full(2, math.nan)
    size = math.sqrt(max(inside.sum(), 1))
    if not inside.any() or not len(peaks):
        return Corners(peaks, np.zeros((len(peaks), len(corner_feature_names(image is not None)))), centre, size)
    depth = ndimage.distance_transform_edt(inside) - ndimage.distance_transform_edt(~inside)
    peak_thickness = max(float(thickness.max()), 1e-6)
    deformed_area = float(np.sum(heat[..., 1] > PEAK_THRESHOLD)) / VERTEX_MASS
    gaps = cdist(peaks[:, :2], peaks[:, :2]) + np.diag(np.full(len(peaks), np.inf))
    out = []
    for k, (c, r, h) in enumerate(peaks):
        c, r = int(c), int(r)
        d2 = (xx - c) ** 2 + (yy - r) ** 2
        near, within = d2 <= NEAR_PX ** 2, d2 <= AROUND_PX ** 2
        around = within & ~near
        out.append([h, heat[..., 1][near].max(), heat[..., 1][near].sum() / VERTEX_MASS,
                    heat[..., 0][near].sum() / VERTEX_MASS,
                    thickness[r, c] / peak_thickness, thickness[near].mean() / peak_thickness,
                    thickness[around].mean() / peak_thickness, inside[within].mean(), depth[r, c] / size,
                    math.hypot(c - centre[0], r - centre[1]) / size,
                    gaps[k].min() / size if len(peaks) > 1 else math.nan, len(peaks), peak_thickness,
                    deformed_area])
    features = np.array(out, np.float64)
    if image is not None:
        features = np.hstack([features, corner_patches(image, mask, thickness / peak_thickness, heat[..., 1],
                                                       peaks, centre)])
    return Corners(peaks, features, centre, size)


def corner_patches(image: np.ndarray, mask: np.ndarray, thickness: np.ndarray, deformed_heat: np.ndarray,
                   peaks: np.ndarray, centre: np.ndarray) -> np.ndarray:
    """The image (lightly smoothed, 0 at the background's median and 1 at the particle's
    brightest), the relative thickness and the deformed heat around each peak ``(k, ≥2)``
    (column, row), sampled in the corner's own frame (:data:`CORNER_PATCH_NAMES`) →
    ``(k, len(CORNER_PATCH_NAMES))``. The frame turns with the particle, so the trees need not
    learn every orientation: a cut corner's flat facet is then always across the first axis."""
    from scipy import ndimage

    smooth = ndimage.gaussian_filter(np.asarray(image, np.float64), 0.8)
    inside = mask > 0.5
    background = float(np.median(smooth[~inside])) if (~inside).any() else float(smooth.min())
    top = float(np.percentile(smooth[inside], 99.5)) if inside.any() else float(smooth.max())
    scaled = (smooth - background) / max(top - background, 1e-6)
    steps = (np.arange(2 * PATCH_HALF + 1) - PATCH_HALF) * PATCH_STEP_PX
    out_steps, side_steps = np.meshgrid(steps, steps, indexing="ij")
    rows = []
    for column, row in peaks[:, :2]:
        at = np.array([column, row], np.float64)
        outward = at - centre
        length = float(np.hypot(*outward))
        outward = outward / length if np.isfinite(length) and length > 0 else np.array([1.0, 0.0])
        side = np.array([-outward[1], outward[0]])
        points = at + out_steps[..., None] * outward + side_steps[..., None] * side  # (..., column/row)
        row_features = []
        for plane in (scaled, thickness, deformed_heat):
            grid = ndimage.map_coordinates(plane, [points[..., 1].ravel(), points[..., 0].ravel()], order=1,
                                           mode="nearest").reshape(out_steps.shape)
            row_features.append((0.5 * (grid + grid[:, ::-1]))[:, :PATCH_HALF + 1].ravel())
        rows.append(np.concatenate(row_features))
    return np.array(rows, np.float64).reshape(len(peaks), len(CORNER_PATCH_NAMES))


def corner_truth(peaks: np.ndarray, sites: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """1.0 for each candidate ``(k, ≥2)`` within the match radius of a cut vertex of the
    ground truth ``sites`` ``(S, 3)`` (column, row, deformed), else 0.0."""
    from scipy.spatial.distance import cdist

    cut = visible_sites(sites, shape, deformed_only=True, margin=MATCH_RADIUS_PX)
    if not len(peaks) or not len(cut):
        return np.zeros(len(peaks))
    return (cdist(peaks[:, :2], cut).min(axis=1) <= MATCH_RADIUS_PX).astype(np.float64)


def corner_summary(corners: Corners, probabilities: np.ndarray) -> np.ndarray:
    """One image's candidates and their probabilities of being cut ``(k,)`` →
    ``(len(CORNER_SUMMARY_NAMES),)``: expected number cut, numbers above 0.5 / 0.3 / 0.7,
    candidates, the :data:`TOP` largest probabilities (0 past the candidates), and where the
    two likeliest cut corners sit among the others (:func:`~classifiers.pixelwise.pair_geometry`
    against the candidates as high as the maps' vertex peaks; NaN with fewer than two)."""
    p = np.asarray(probabilities, np.float64)
    order = np.argsort(-p, kind="stable")
    top = np.zeros(TOP)
    top[:min(TOP, len(p))] = p[order][:TOP]
    pair = [math.nan] * 5
    if len(p) >= 2:
        vertices = corners.peaks[corners.peaks[:, 2] >= PEAK_THRESHOLD, :2]
        pair = pair_geometry(corners.peaks[order[:2], :2], vertices, corners.centre, corners.size)
    return np.concatenate([[p.sum(), np.sum(p > 0.5), np.sum(p > 0.3), np.sum(p > 0.7), len(p)], top, pair])


def corner_estimator(seed: int):
    """The unfitted per-corner classifier."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, max_leaf_nodes=31, random_state=seed)


def corner_probabilities(estimator, rows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per-image corner features (:func:`corner_rows`) → per-image probabilities that each is
    cut (all images scored in one call)."""
    from threadpoolctl import threadpool_limits

    sizes = [len(r) for r in rows]
    if not sum(sizes):
        return [np.zeros(0) for _ in rows]
    stacked = np.vstack([r for r in rows if len(r)])
    with threadpool_limits(1):
        p = estimator.predict_proba(stacked)[:, list(estimator.classes_).index(1.0)] \
            if 1.0 in estimator.classes_ else np.zeros(len(stacked))
    return np.split(p, np.cumsum(sizes)[:-1])


def fit_corner_classifier(rows: Sequence[np.ndarray], truth: Sequence[np.ndarray], groups: np.ndarray,
                          seed: int, jobs: int = 1) -> tuple[object, list[np.ndarray]]:
    """Fit the per-corner classifier on every training image's candidates (``rows[i]``,
    ``truth[i]``; ``groups[i]`` the image's object) → ``(estimator, out-of-fold probabilities
    per image)``: each image's probabilities come from a classifier that never saw its object."""
    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    groups = np.asarray(groups)

    def fit(index) -> object:
        x = [rows[i] for i in index if len(rows[i])]
        y = np.concatenate([truth[i] for i in index if len(truth[i])] or [np.zeros(0)])
        if len(np.unique(y)) < 2:  # no candidates, or all of one kind: the base rate is all there is to learn
            from sklearn.dummy import DummyClassifier

            y = y if len(y) else np.zeros(1)
            return DummyClassifier(strategy="prior").fit(np.zeros((len(y), 1)), y)  # it reads no feature
        estimator = corner_estimator(seed)
        with threadpool_limits(jobs):
            estimator.fit(np.vstack(x), y)
        return estimator

    held_out: list[np.ndarray | None] = [None] * len(rows)
    folds = min(FOLDS, len(np.unique(groups)))
    for train, test in GroupKFold(folds).split(np.zeros(len(rows)), groups=groups):
        for i, p in zip(test, corner_probabilities(fit(train), [rows[i] for i in test])):
            held_out[i] = p
    return fit(np.arange(len(rows))), held_out


__all__ = ["CORNER_FEATURE_NAMES", "CORNER_PATCH_NAMES", "CORNER_SUMMARY_NAMES", "Corners", "corner_feature_names",
           "corner_patches", "corner_rows", "corner_truth", "corner_summary",
           "corner_probabilities", "fit_corner_classifier"]
