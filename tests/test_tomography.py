"""Views of a tilt series registered in 3-D (stemsim.classifiers.tomography): geometry invariants."""

from __future__ import annotations

import numpy as np
import pytest

from stemsim.classifiers.pixelwise import find_vertices, vertex_heatmaps
from stemsim.classifiers.tomography import (TILT_FEATURE_NAMES, TiltSeries, backproject, thickness_centres, tilt_features,
                                    volume_peaks)

SHAPE = (96, 96)
FOUR = TiltSeries((0.0, 1.0, 0.0), (-45.0, -15.0, 15.0, 45.0))


def feature(values: np.ndarray, name: str) -> float:
    return float(values[TILT_FEATURE_NAMES.index(name)])


def views_of(points: np.ndarray, deformed: np.ndarray, series: TiltSeries, shifts=None):
    """Heat-maps ``(K, H, W, 2)`` and thickness ``(K, H, W)`` of object-frame points (pixels) seen
    by the views of ``series``; each view's centre moved by ``shifts[k]`` pixels (drift). The
    thickness is a round blob on the centre, so its centroid is the object's origin."""
    projections = series.projections()
    shifts = np.zeros((len(projections), 2)) if shifts is None else np.asarray(shifts, float)
    middle = (np.array(SHAPE[::-1], float) - 1) / 2
    sites, thickness = [], []
    rows, cols = np.indices(SHAPE)
    for projection, shift in zip(projections, shifts):
        centre = middle + shift
        spots = centre + points @ projection.T
        sites.append(np.column_stack([spots, deformed.astype(float)]))
        thickness.append(np.exp(-((cols - centre[0]) ** 2 + (rows - centre[1]) ** 2) / (2 * 8.0 ** 2)))
    return vertex_heatmaps(np.array(sites, np.float32), SHAPE), np.array(thickness, np.float32)


def test_two_corners_one_view_shows_on_one_spot_count_apart_in_3d():
    beam = FOUR.projections(1)[0]
    along = np.cross(beam[0], beam[1])  # view 0's beam direction in the object frame
    first = np.array([10.0, 5.0, 0.0])
    points = np.array([first, first + 18 * along, [-12.0, -8.0, 6.0], [4.0, -14.0, -9.0]])
    deformed = np.array([True, True, True, False])
    heat, thickness = views_of(points, deformed, FOUR)
    assert len(find_vertices(heat[0, ..., 1])) == 2  # the first view sees two deformed spots
    for count in (2, 4):
        values = tilt_features(heat[:count], thickness[:count], FOUR.projections(count), pixel_size=0.2)
        assert feature(values, "bp_deformed_peaks_above_0.7") == 3
        assert feature(values, "bp_vertex_peaks_above_0.7") == 4
        # a corner is in every view; a point where it lines up with another corner, in some
        assert feature(values, "bp_deformed_peak_3") > 0.7 and feature(values, "bp_deformed_peak_4") < 0.5
    # a tilt about the image's x axis (rows then move) counts the same
    about_x = TiltSeries((1.0, 0.0, 0.0), (-40.0, -10.0, 20.0, 50.0))
    heat, thickness = views_of(points, deformed, about_x)
    assert feature(tilt_features(heat, thickness, about_x.projections()), "bp_deformed_peaks_above_0.7") == 3


def test_the_3d_peak_sits_at_the_corner_and_the_pair_distance_is_in_nm():
    points = np.array([[12.0, -6.0, 8.0], [-10.0, 10.0, -4.0]])
    heat, thickness = views_of(points, np.array([True, True]), FOUR)
    centres = thickness_centres(thickness)
    np.testing.assert_allclose(centres, np.tile((np.array(SHAPE[::-1]) - 1) / 2, (4, 1)), atol=1e-6)
    volume = backproject(heat[..., 1], FOUR.projections(), centres, step=2.0)
    assert volume.shape == (49, 49, 49)
    peaks = volume_peaks(volume)
    found = (peaks[:2, :3] - 24) * 2.0  # grid index → object-frame pixels
    assert sorted(map(tuple, np.round(found).tolist())) == sorted(map(tuple, points.tolist()))
    values = tilt_features(heat, thickness, FOUR.projections(), pixel_size=0.2)
    assert feature(values, "bp_deformed_pair_distance_nm") == pytest.approx(np.linalg.norm(points[0] - points[1]) * 0.2,
                                                                            abs=0.2 * 2.0)


def test_drift_between_views_and_view_order_do_not_change_the_features():
    points = np.array([[10.0, 5.0, -7.0], [-12.0, -8.0, 6.0], [4.0, -14.0, -9.0]])
    deformed = np.array([True, True, False])
    heat, thickness = views_of(points, deformed, FOUR)
    still = tilt_features(heat, thickness, FOUR.projections(), pixel_size=0.2)
    heat, thickness = views_of(points, deformed, FOUR, shifts=[(3, -2), (0, 4), (-5, 1), (2, 2)])
    drifted = tilt_features(heat, thickness, FOUR.projections(), pixel_size=0.2)
    np.testing.assert_allclose(drifted, still, atol=1e-4)
    order = [2, 0, 3, 1]  # the views in another order, each with its own angle
    np.testing.assert_allclose(tilt_features(heat[order], thickness[order], FOUR.projections()[order], 0.2),
                               drifted, atol=1e-5)


def test_tilt_series_from_a_spec_and_bad_shapes():
    tilt = {"count": 3, "mode": "tilt", "tilt": {"axis": [0, 2, 0], "range": [-60, 60], "step": None}}
    series = TiltSeries.from_views(tilt)
    assert series.angles == (-60.0, 0.0, 60.0) and series.describe() == "axis [0, 2, 0], 3 views at -60…60°"
    assert series.same_as(TiltSeries((0.0, 1.0, 0.0), (-60.0, 0.0, 60.0)))
    assert not series.same_as(TiltSeries((1.0, 0.0, 0.0), (-60.0, 0.0, 60.0)))
    assert TiltSeries.from_views({**tilt, "mode": "random"}) is None
    assert TiltSeries.from_views({**tilt, "count": 1}) is None
    np.testing.assert_allclose(series.projections(2)[1], [[1, 0, 0], [0, 1, 0]], atol=1e-12)  # 0°: no turn
    with pytest.raises(ValueError, match="must agree"):
        backproject(np.zeros((2, 8, 8)), series.projections(3), np.zeros((2, 2)))


def test_ceiling_counts_deformed_corners_from_true_heat_maps(tmp_path):
    """stemsim.benchmarks.ceiling: with every view of a ±60° series the true maps count each object's
    deformed corners; a dataset that is not a tilt series of counts gets one error line."""
    import subprocess
    import sys

    import yaml
    from cli_runner import run

    from stemsim.benchmarks.ceiling import count_accuracy

    spec = {"name": "ceiling-test", "seed": 3, "image": {"size": 48, "pixel_size": 0.4},
            "label": "n_deformations", "classes": {"values": [0, 1, 3], "per_class": 4},
            "splits": {"train": 0.5, "val": 0.0, "test": 0.5},
            "object": {"shape": "cuboid", "size": {"uniform": [7, 9]}, "orientation": "random",
                       "deformation": {"kind": "truncate", "depth": 0.3}},
            "microscope": {"probe_fwhm": 0.2, "dose": 5.0e3},
            "views": {"count": 4, "mode": "tilt", "tilt": {"axis": [0, 1, 0], "range": [-60, 60]}},
            "output": {"formats": ["npz"], "dtype": "uint8", "ground_truth": True}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert run("generate", tmp_path / "spec.yaml", "--out", tmp_path / "ds", "--jobs", "1") == 0
    results = count_accuracy(tmp_path / "ds")
    assert results["n_objects"] == 6 and results["tilt_series"] == "axis [0, 1, 0], 4 views at -60…60°"
    subsets = {(s["views"], s["selection"]): s for s in results["subsets"]}
    assert set(subsets) == {(1, "first"), (2, "first"), (2, "spread"), (4, "first")}
    assert subsets[(2, "spread")]["indices"] == [0, 3]
    assert subsets[(4, "first")]["accuracy"]["0.7"] == 1.0  # every view: every corner placed in 3-D
    written = yaml.safe_load((tmp_path / "ds" / "spec.yaml").read_text())
    (tmp_path / "ds" / "spec.yaml").write_text(yaml.safe_dump({**written, "label": "configuration"}))
    done = subprocess.run([sys.executable, "-m", "stemsim.benchmarks.ceiling", str(tmp_path / "ds"), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True)
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr == (f"ceiling: error: {tmp_path / 'ds' / 'spec.yaml'}: label: the ceiling counts deformed "
                           "corners, so it needs label: n_deformations, got 'configuration'\n")
