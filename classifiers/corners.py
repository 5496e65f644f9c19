"""Is this corner cut? One decision per projected vertex, from a two-stage model's maps.

Counting cut corners from image-level features of the maps asks a gradient-boosting model to
add up evidence it only sees pooled. Here each peak of the every-vertex heat-map is one item:
its own deformed heat, the projected thickness around it and where it sits on the particle
(:func:`corner_rows`) → a classifier fitted on the training images' peaks against the
simulator's ground truth (:func:`corner_truth`): with ``corner_target: near``, whether a cut
vertex lies within :data:`~stemsim.classifiers.pixelwise.MATCH_RADIUS_PX`; with ``count``, how many cut
vertices the candidate stands for (:func:`cut_counts`). An image's expected cuts per candidate
(:func:`expected_cuts`) are then summed up for the image-level classifier
(:func:`corner_summary`, named by :data:`CORNER_SUMMARY_NAMES`). With ``model.corner_patches``
a candidate's features also hold the image and maps sampled around it in its own frame
(:func:`corner_patches`).

Why ``count``: a cut corner's peak sits off the vertex, whose tip is cut away (often 3–5 px on
the counting bench), and vertices closer than the match radius make one peak. Judged by ``near``,
a perfect corner classifier's count was the true one on 91 % of the counting bench's validation
images; by ``count``, on 98 %.

Stage 2 must learn from expected cuts as noisy as those it will see at test time,
so its training rows get *out-of-fold* ones: the training objects are split into
:data:`FOLDS` groups (all views of an object in one) and each group's peaks are scored by a
classifier fitted on the other groups (:func:`fit_corner_classifier`).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import numpy as np

from stemsim.classifiers.pixelwise import (MATCH_RADIUS_PX, PEAK_THRESHOLD, VERTEX_MASS, find_vertices, pair_geometry,
                                   visible_mask, visible_sites)

CANDIDATE_THRESHOLD = 0.15
"""Every-vertex heat this high makes a candidate corner (below the maps' 0.3 peak threshold:
the classifier, not the threshold, decides)."""
NEAR_PX, AROUND_PX = 3, 6  # pixels: a corner's own disc, and the ring around it
FOLDS = 5
CORNER_TARGETS = ("near", "count")
"""What the corner classifier learns of each candidate (``model.corner_target``; :func:`corner_truth`)."""
COUNT_RADIUS_PX = 2 * MATCH_RADIUS_PX
"""``count``: a vertex this close to a candidate may be what it stands for."""
MAX_CUTS_PER_CANDIDATE = 2
TOP = 10  # expected cuts kept, largest first (a cuboid has 8 vertices)
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
    candidate corners (peaks of the every-vertex heat; :func:`~stemsim.classifiers.pixelwise.find_vertices`)
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


def corner_truth(peaks: np.ndarray, sites: np.ndarray, shape: tuple[int, int], target: str = "near") -> np.ndarray:
    """What the corner classifier learns of each candidate ``(k, ≥2)`` from the ground truth
    ``sites`` ``(S, 3)`` (column, row, deformed): ``near``, 1.0 if a cut vertex lies within the
    match radius, else 0.0; ``count``, :func:`cut_counts`."""
    from scipy.spatial.distance import cdist

    if target == "count":
        return cut_counts(peaks, sites, shape)
    cut = visible_sites(sites, shape, deformed_only=True, margin=MATCH_RADIUS_PX)
    if not len(peaks) or not len(cut):
        return np.zeros(len(peaks))
    return (cdist(peaks[:, :2], cut).min(axis=1) <= MATCH_RADIUS_PX).astype(np.float64)


def cut_counts(peaks: np.ndarray, sites: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """How many cut vertices of ``sites`` ``(S, 3)`` each candidate ``(k, ≥2)`` stands for, at
    most :data:`MAX_CUTS_PER_CANDIDATE`: the visible vertices, cut or not, and the candidates are
    paired one to one (as many pairs within :data:`COUNT_RADIUS_PX` as there can be, then the
    least total distance), and each cut vertex left over counts for its nearest candidate within
    that radius (two vertices that made one peak)."""
    from scipy.optimize import linear_sum_assignment
    from scipy.spatial.distance import cdist

    counts = np.zeros(len(peaks))
    vertices = np.asarray(sites, np.float64)[visible_mask(sites, shape, margin=MATCH_RADIUS_PX)]
    if not len(peaks) or not len(vertices):
        return counts
    cut = np.nan_to_num(vertices[:, 2]) > 0.5
    distance = cdist(vertices[:, :2], peaks[:, :2])
    allowed = distance <= COUNT_RADIUS_PX
    vertex, candidate = linear_sum_assignment(np.where(allowed, distance, 1e6))  # 1e6: only if nothing else fits
    paired = allowed[vertex, candidate]
    vertex, candidate = vertex[paired], candidate[paired]
    np.add.at(counts, candidate, cut[vertex])
    for left in np.setdiff1d(np.flatnonzero(cut & allowed.any(axis=1)), vertex):
        counts[np.argmin(distance[left])] += 1
    return np.minimum(counts, MAX_CUTS_PER_CANDIDATE)


def corner_summary(corners: Corners, probabilities: np.ndarray) -> np.ndarray:
    """One image's candidates and their :func:`expected_cuts` ``(k,)`` (with ``corner_target:
    near`` the probability of being cut) → ``(len(CORNER_SUMMARY_NAMES),)``: expected number cut,
    numbers above 0.5 / 0.3 / 0.7, candidates, the :data:`TOP` largest (0 past the candidates), and where the
    two likeliest cut corners sit among the others (:func:`~stemsim.classifiers.pixelwise.pair_geometry`
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


def corner_estimator(seed: int, target: str = "near"):
    """The unfitted per-corner classifier (``count``: three answers, 0–2 cut vertices, so more
    and smaller steps; chosen on the counting bench's validation images)."""
    from sklearn.ensemble import HistGradientBoostingClassifier

    if target == "count":
        return HistGradientBoostingClassifier(max_iter=600, learning_rate=0.05, max_leaf_nodes=63,
                                              l2_regularization=1.0, random_state=seed)
    return HistGradientBoostingClassifier(max_iter=300, learning_rate=0.1, max_leaf_nodes=31, random_state=seed)


def expected_cuts(estimator, rows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Per-image corner features (:func:`corner_rows`) → per-image expected number of cut
    vertices each candidate stands for (of a yes/no classifier: its probability of being cut;
    all images scored in one call)."""
    from threadpoolctl import threadpool_limits

    sizes = [len(r) for r in rows]
    if not sum(sizes):
        return [np.zeros(0) for _ in rows]
    stacked = np.vstack([r for r in rows if len(r)])
    with threadpool_limits(1):
        expected = estimator.predict_proba(stacked) @ np.asarray(estimator.classes_, np.float64)
    return np.split(expected, np.cumsum(sizes)[:-1])


def fit_corner_classifier(rows: Sequence[np.ndarray], truth: Sequence[np.ndarray], groups: np.ndarray,
                          seed: int, jobs: int = 1, target: str = "near") -> tuple[object, list[np.ndarray]]:
    """Fit the per-corner classifier on every training image's candidates (``rows[i]``,
    ``truth[i]`` of :func:`corner_truth` with ``target``; ``groups[i]`` the image's object) →
    ``(estimator, out-of-fold expected cuts per image)``: each image's come from a classifier
    that never saw its object."""
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
        estimator = corner_estimator(seed, target)
        with threadpool_limits(jobs):
            estimator.fit(np.vstack(x), y)
        return estimator

    held_out: list[np.ndarray | None] = [None] * len(rows)
    folds = min(FOLDS, len(np.unique(groups)))
    for train, test in GroupKFold(folds).split(np.zeros(len(rows)), groups=groups):
        for i, p in zip(test, expected_cuts(fit(train), [rows[i] for i in test])):
            held_out[i] = p
    return fit(np.arange(len(rows))), held_out


__all__ = ["CORNER_FEATURE_NAMES", "CORNER_PATCH_NAMES", "CORNER_SUMMARY_NAMES", "CORNER_TARGETS", "Corners",
           "corner_feature_names", "corner_patches", "corner_rows", "corner_truth", "cut_counts", "corner_summary",
           "expected_cuts", "fit_corner_classifier"]
