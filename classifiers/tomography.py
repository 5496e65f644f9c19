"""Views of a tilt series registered in 3-D: vertex heat-maps back-projected along the known angles.

One projection cannot tell a corner in front from one behind it: they share a spot. A tilt
series (``views.mode: tilt``) turns the object about a known axis by known angles, so a
corner at object-frame point ``p`` shows in view ``k`` at ``P_k p`` (``P_k``: the first two
rows of the view's rotation) from where the view sees the object's centre. Averaging each
view's heat-map at those spots over the views (unfiltered back-projection,
:func:`stemsim.classifiers.kernels.backproject_mean`) gives a 3-D map that is high where a corner
is in *every* view: a real corner scores about 1, a point that only lines up with corners in
some views scores the fraction of those views. Its peaks are 3-D corners; counting them
counts corners that one view shows on top of each other.

Registration needs no fitting: the rotation about any axis moves the projected
thickness-weighted centre (the projection of the object's centroid) the way it moves any
other point, so centring each view on its thickness centroid (:func:`thickness_centres`)
puts the object-frame origin at the centroid in every view, whatever the drift between
views. The axis and angles are the tilt series' own (``spec.yaml`` ``views``, read by
:class:`stemsim.dataset.store.DatasetStore`; :class:`TiltSeries`); the object's orientation at tilt 0 is unknown and not needed.

Used by the ``two_stage`` model's ``backprojection`` fusion (:mod:`stemsim.classifiers.two_stage`):
:func:`tilt_features` of the stage-1 heat-maps, named :data:`TILT_FEATURE_NAMES`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.dataset.store import open_dataset, tilt_of
from stemsim.errors import InputError

GRID_STEP_PX = 2.0
"""Spacing of the 3-D grid, pixels."""
HEAT_BLUR_PX = 2.0
"""σ (pixels) by which heat-maps are widened before back-projection, their peaks kept at their
height: with the maps' own σ = 1.5 px a corner between grid points would lose up to half its
height; at σ = 2.5 px it keeps at least 0.79 of it."""
PEAK_FLOOR = 0.15
PEAK_WINDOW = 5  # grid points (10 px = 1.5 nm at 0.15 nm/px): one peak per corner
PEAK_LEVELS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
TOP_PEAKS = 10
CENTRE_PULL = 1e-5  # per squared grid step; ≤ 0.01 at the edge of a 65-point grid
CHANNELS = ("deformed", "vertex")  # heat-map channel 1, channel 0

TILT_FEATURE_NAMES = tuple(
    [feature for name in CHANNELS for feature in
     [f"bp_{name}_peaks_above_{level:g}" for level in PEAK_LEVELS]
     + [f"bp_{name}_peak_{i + 1}" for i in range(TOP_PEAKS)] + [f"bp_{name}_max"]]
    + ["bp_deformed_pair_distance_nm", "bp_deformed_pair_distance_rel", "bp_deformed_pair_midpoint_rel"])
"""Names of :func:`tilt_features` output, in order."""


@dataclass(frozen=True)
class TiltSeries:
    """The known geometry of a tilt series: rotation ``axis`` (microscope frame) and the
    ``angles`` (degrees) of its views, in view order."""

    axis: tuple[float, float, float]
    angles: tuple[float, ...]

    @classmethod
    def from_views(cls, views: dict[str, Any]) -> "TiltSeries | None":
        """A dataset spec's ``views`` block → its tilt series, or None when it is not one."""
        series = tilt_of(views)
        return None if series is None else cls(*series)

    @classmethod
    def of_dataset(cls, root: str | Path) -> "TiltSeries | None":
        """The tilt series of the stemsim dataset at ``root`` (None: no ``spec.yaml``, or its
        views are not a tilt series)."""
        store = open_dataset(root)
        if not store.has_spec:
            return None
        views = store.views
        return None if views.angles is None else cls(views.axis, views.angles)

    def projections(self, count: int | None = None) -> np.ndarray:
        """``(K, 2, 3)``: the first two rows of the rotation of each of the first ``count`` views."""
        import quaternion

        from stemsim.simulator.rotation import axis_angle

        angles = self.angles if count is None else self.angles[:count]
        return np.array([quaternion.as_rotation_matrix(axis_angle(self.axis, a))[:2] for a in angles])

    def same_as(self, other: "TiltSeries | None") -> bool:
        return other is not None and np.allclose(_unit(self.axis), _unit(other.axis), atol=1e-9) and \
            len(self.angles) == len(other.angles) and np.allclose(self.angles, other.angles, atol=1e-6)

    def describe(self) -> str:
        axis = ", ".join(f"{v:g}" for v in self.axis)
        return f"axis [{axis}], {len(self.angles)} views at {self.angles[0]:g}…{self.angles[-1]:g}°"


def check_tilt_series(trained: dict[str, Any], root: str | Path) -> None:
    """InputError (one line) when the stemsim dataset at ``root`` is not the tilt series
    ``trained`` (``{"axis", "angles"}``, what ``run.json`` ``backprojection.tilt_series``
    records). Data without a ``spec.yaml`` cannot say; its views are taken as that series'."""
    series = TiltSeries(tuple(trained["axis"]), tuple(trained["angles"]))
    store = open_dataset(root)
    if not store.has_spec:
        return
    found = TiltSeries.of_dataset(root)
    if not series.same_as(found):
        what = "views that are not a tilt series" if found is None else f"the tilt series {found.describe()}"
        raise InputError(f"{store.spec_file}: backprojection fusion was trained on the tilt series "
                         f"{series.describe()}; this data has {what}")


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float64)
    return v / np.linalg.norm(v)


def thickness_centres(thickness: np.ndarray) -> np.ndarray:
    """Thickness maps ``(K, H, W)`` (nm; negative values ignored) → ``(K, 2)`` (column, row)
    thickness-weighted centres, the image centre for an empty map."""
    weights = np.clip(np.asarray(thickness, np.float64), 0.0, None)
    total = weights.sum(axis=(1, 2))
    rows, cols = np.indices(weights.shape[1:])
    middle = (np.array(weights.shape[1:][::-1], np.float64) - 1) / 2
    centre = np.stack([(weights * cols).sum(axis=(1, 2)), (weights * rows).sum(axis=(1, 2))], axis=1)
    return np.where(total[:, None] > 0, centre / np.maximum(total, 1e-12)[:, None], middle)


def backproject(maps: np.ndarray, projections: np.ndarray, centres: np.ndarray,
                step: float = GRID_STEP_PX, size: int | None = None) -> np.ndarray:
    """Per-view maps ``(K, H, W)`` → the ``(n, n, n)`` mean back-projection (module doc) on a
    grid ``step`` pixels apart spanning the field (``n`` = ``size`` or ``max(H, W) / step + 1``),
    axes (x, y, z) of the object frame at tilt 0."""
    from stemsim.classifiers.kernels import backproject_mean

    maps = np.ascontiguousarray(maps, np.float32)
    if maps.ndim != 3 or len(projections) != len(maps) or len(centres) != len(maps) or not len(maps):
        raise ValueError(f"maps (K, H, W), projections (K, 2, 3) and centres (K, 2) must agree, got "
                         f"{maps.shape}, {np.shape(projections)}, {np.shape(centres)}")
    n = int(size) if size is not None else int(max(maps.shape[1:]) // step) + 1
    return backproject_mean(maps, np.ascontiguousarray(projections, np.float64),
                            np.ascontiguousarray(centres, np.float64), float(step), n)


@lru_cache(maxsize=4)
def _centre_pull(shape: tuple[int, ...]) -> np.ndarray:
    """:data:`CENTRE_PULL` × squared grid distance from the centre, for a grid of ``shape``.

    Where the views cannot place a corner in depth (one view: a ridge along the beam), the
    point nearest the centroid wins: a slight pull to the centre breaks the ridge's ties. (The
    grid samples an oblique ridge with a ripple, so one view still gives a few peaks per ridge.)
    """
    index = np.indices(shape, np.float64) - (np.array(shape, np.float64) - 1)[:, None, None, None] / 2
    pull = CENTRE_PULL * (index ** 2).sum(axis=0)
    pull.flags.writeable = False
    return pull


def volume_peaks(volume: np.ndarray, floor: float = PEAK_FLOOR, window: int = PEAK_WINDOW) -> np.ndarray:
    """Local maxima of a 3-D map above ``floor`` → ``(k, 4)`` (x, y, z grid index, height),
    highest first. Heights are less :data:`CENTRE_PULL` times the squared grid distance from
    the centre (at most 0.01)."""
    from scipy import ndimage

    volume = volume.astype(np.float64) - _centre_pull(volume.shape)
    top = ndimage.maximum_filter(volume, size=window, mode="constant", cval=-np.inf)
    index = np.argwhere((volume == top) & (volume > floor))
    heights = volume[tuple(index.T)]
    order = np.argsort(-heights, kind="stable")
    return np.column_stack([index[order], heights[order]]).astype(np.float64).reshape(-1, 4)


def tilt_features(heat: np.ndarray, thickness: np.ndarray, projections: np.ndarray,
                  pixel_size: float = 1.0, step: float = GRID_STEP_PX) -> np.ndarray:
    """The stage-1 maps of K views of one object (vertex heat ``(K, H, W, 2)``, thickness nm
    ``(K, H, W)``) and the views' ``projections`` ``(K, 2, 3)`` → float64
    ``(len(TILT_FEATURE_NAMES),)``. The heat-maps are widened by :data:`HEAT_BLUR_PX` first.

    Per channel (deformed vertices, every vertex): how many 3-D peaks stand above each of
    :data:`PEAK_LEVELS`, the :data:`TOP_PEAKS` highest peaks (0 past the last) and the maximum;
    then the distance between the two highest deformed peaks in nm and over the cube root of
    the mean projected volume, and their midpoint's distance from the centroid over that
    length (NaN with fewer than two peaks). ``pixel_size``: nm per pixel.
    """
    from scipy import ndimage

    from stemsim.classifiers.pixelwise import SIGMA_PX

    gain = (SIGMA_PX ** 2 + HEAT_BLUR_PX ** 2) / SIGMA_PX ** 2  # keeps a σ = SIGMA_PX peak's height
    heat = gain * ndimage.gaussian_filter(np.asarray(heat, np.float32), (0, HEAT_BLUR_PX, HEAT_BLUR_PX, 0))
    thickness = np.asarray(thickness, np.float32)
    centres = thickness_centres(thickness)
    out: list[float] = []
    peaks_of = {}
    for name, channel in zip(CHANNELS, (1, 0)):
        volume = backproject(heat[..., channel], projections, centres, step)
        peaks = volume_peaks(volume)
        peaks_of[name] = peaks
        top = np.zeros(TOP_PEAKS)
        top[:min(TOP_PEAKS, len(peaks))] = peaks[:TOP_PEAKS, 3]
        out += [float(np.sum(peaks[:, 3] > level)) for level in PEAK_LEVELS] + top.tolist() + \
               [float(volume.max())]
    half = (volume.shape[0] - 1) / 2  # the grid index of the centroid
    pair = peaks_of["deformed"][:2, :3]
    length = float(np.mean(np.clip(thickness, 0, None).sum(axis=(1, 2)))) ** (1 / 3) * pixel_size ** (2 / 3)
    if len(pair) == 2 and length > 0:
        distance = float(np.linalg.norm(pair[0] - pair[1])) * step * pixel_size
        midpoint = float(np.linalg.norm(pair.mean(axis=0) - half)) * step * pixel_size
        out += [distance, distance / length, midpoint / length]
    else:
        out += [np.nan] * 3
    return np.array(out, np.float64)
