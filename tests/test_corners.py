"""The per-corner classifier of the two-stage model (stemsim.classifiers.corners, ``corner_classifier``)."""

from __future__ import annotations

from conftest_classifiers import run_cli
from test_pixelwise import cubes  # noqa: F401  (the tiny ground-truth dataset fixture)

import json

import numpy as np
import pytest
import yaml

from stemsim.classifiers.corners import (COUNT_RADIUS_PX, CORNER_FEATURE_NAMES, CORNER_PATCH_NAMES, CORNER_SUMMARY_NAMES,
                                 PATCH_HALF, TOP, corner_patches, corner_rows, corner_summary, corner_truth,
                                 expected_cuts, fit_corner_classifier)
from stemsim.classifiers.pixelwise import MAP_FEATURE_NAMES, load_maps, vertex_heatmaps

SITES = np.array([[8, 8, 1], [24, 8, 1], [8, 24, 0], [24, 24, 0]], np.float32)  # two cut corners, two intact


def true_maps():
    heat = vertex_heatmaps(SITES[None], (32, 32))[0]
    mask = np.zeros((32, 32), np.float32)
    mask[8:25, 8:25] = 1
    return mask, mask * 2.0, heat


def test_every_vertex_is_a_candidate_and_only_the_cut_ones_are_true():
    mask, thickness, heat = true_maps()
    corners = corner_rows(mask, thickness, heat)
    peaks, rows = corners.peaks, corners.features
    np.testing.assert_allclose(corners.centre, [16, 16])
    assert corners.size == 17
    assert rows.shape == (4, len(CORNER_FEATURE_NAMES))
    assert sorted(map(tuple, peaks[:, :2].astype(int))) == sorted(map(tuple, SITES[:, :2].astype(int)))
    truth = corner_truth(peaks, SITES, (32, 32))
    cut = {(int(c), int(r)) for c, r, d in SITES if d}
    assert [bool(t) for t in truth] == [(int(c), int(r)) in cut for c, r in peaks[:, :2]]
    features = dict(zip(CORNER_FEATURE_NAMES, rows.T))
    # the cut corners' own deformed heat is a full peak; the intact ones' is nothing
    np.testing.assert_allclose(features["deformed_heat_max"], truth, atol=1e-3)
    np.testing.assert_allclose(features["thickness_at"], 1.0)  # every corner of a flat slab is at full thickness
    assert np.all(features["corners_in_image"] == 4)
    # a peak far from every cut vertex is not one
    assert corner_truth(np.array([[16.0, 16.0, 1.0]]), SITES, (32, 32)).tolist() == [0.0]


def test_the_count_target_pairs_vertices_with_peaks_and_counts_what_each_peak_stands_for():
    def truth(peaks, sites, target="count"):
        return corner_truth(np.array(peaks, float), np.array(sites, np.float32), (32, 32), target).tolist()

    # a cut corner whose peak sits 4.5 px off its vertex (the tip is cut away): near misses it
    assert truth([[10, 10, 1]], [[14.5, 10, 1]], "near") == [0.0]
    assert truth([[10, 10, 1]], [[14.5, 10, 1]]) == [1.0]
    # two cut vertices 2 px apart make one peak: it stands for both; three for at most 2
    assert truth([[10, 10, 1]], [[9, 10, 1], [11, 10, 1]], "near") == [1.0]
    assert truth([[10, 10, 1]], [[9, 10, 1], [11, 10, 1]]) == [2.0]
    assert truth([[10, 10, 1]], [[9, 10, 1], [11, 10, 1], [10, 11, 1]]) == [2.0]
    # paired one to one: the intact vertex takes the peak beside it, so the cut one, nearer that
    # peak than its own, still counts for its own
    assert truth([[10, 10, 1], [15, 10, 1]], [[9, 10, 0], [12, 10, 1]]) == [0.0, 1.0]
    # too far, hidden (NaN) or outside the field: counts for no peak
    assert truth([[10, 10, 1]], [[10 + COUNT_RADIUS_PX + 0.5, 10, 1], [np.nan, np.nan, 1]]) == [0.0]
    assert truth([[0, 10, 1]], [[-5, 10, 1]]) == [0.0]
    assert truth([], [[10, 10, 1]]) == [] and truth([[10, 10, 1]], np.zeros((0, 3))) == [0.0]


def test_expected_cuts_are_the_classifiers_expected_count():
    from sklearn.ensemble import HistGradientBoostingClassifier

    x = np.repeat([[0.0], [1.0], [2.0]], 30, axis=0)
    counts = HistGradientBoostingClassifier(max_iter=20, min_samples_leaf=5).fit(x, x[:, 0])
    expected = expected_cuts(counts, [x[:2], x[[30, 60, 89]]])
    assert [len(e) for e in expected] == [2, 3]
    np.testing.assert_allclose(np.concatenate(expected), counts.predict_proba(x[[0, 1, 30, 60, 89]]) @ [0, 1, 2])
    np.testing.assert_allclose(np.concatenate(expected), [0, 0, 1, 2, 2], atol=0.05)
    yes_no = HistGradientBoostingClassifier(max_iter=20, min_samples_leaf=5).fit(x, x[:, 0] > 0)
    assert expected_cuts(yes_no, [x])[0].tolist() == yes_no.predict_proba(x)[:, 1].tolist()  # exactly P(cut)


def test_no_particle_or_no_peak_gives_no_candidates():
    mask, thickness, heat = true_maps()
    assert corner_rows(np.zeros_like(mask), thickness, heat).features.shape == (4, len(CORNER_FEATURE_NAMES))
    peaks, rows, _, _ = corner_rows(mask, thickness, np.zeros_like(heat))
    assert peaks.shape == (0, 3) and rows.shape == (0, len(CORNER_FEATURE_NAMES))
    assert corner_truth(peaks, SITES, (32, 32)).shape == (0,)


def test_the_summary_counts_and_ranks_the_probabilities_and_places_the_likeliest_pair():
    corners = corner_rows(*true_maps())  # a square's corners: the likeliest pair below is its diagonal
    diagonal = [[8, 8], [24, 24]]
    first = [int(np.flatnonzero((corners.peaks[:, :2] == xy).all(axis=1))[0]) for xy in diagonal]
    p = np.zeros(4)
    p[first] = [0.9, 0.6]
    p[[i for i in range(4) if i not in first]] = [0.4, 0.2]
    summary = dict(zip(CORNER_SUMMARY_NAMES, corner_summary(corners, p)))
    assert summary["corners_cut_expected"] == pytest.approx(2.1)
    assert (summary["corners_cut_over_0.5"], summary["corners_cut_over_0.3"], summary["corners_cut_over_0.7"],
            summary["corner_candidates"]) == (2, 3, 1, 4)
    assert [summary[f"corner_cut_probability_{k}"] for k in range(1, 6)] == [0.9, 0.6, 0.4, 0.2, 0.0]
    assert summary["likeliest_pair_midpoint_offset_rel"] == pytest.approx(0.0)  # a diagonal's midpoint: the centre
    assert summary["likeliest_pair_distance_over_widest"] == pytest.approx(1.0)
    # the other two corners make one pair, not parallel to the diagonal
    assert summary["likeliest_pair_translate_residual_1"] > 1.0
    assert np.isnan(summary["likeliest_pair_translate_residual_2"])
    assert len(CORNER_SUMMARY_NAMES) == 5 + TOP + 5
    nothing = corner_summary(corners._replace(peaks=np.zeros((0, 3))), np.zeros(0))
    assert nothing[:5 + TOP].tolist() == [0.0] * (5 + TOP) and np.isnan(nothing[5 + TOP:]).all()


def test_out_of_fold_probabilities_never_come_from_a_classifier_that_saw_the_object():
    # each object's corners carry only its own id, and its truth is a coin flip per object: a
    # classifier that saw the object can look the answer up, one that did not can only guess
    rng = np.random.default_rng(0)
    n_objects, views, candidates = 60, 2, 15
    answers = rng.integers(0, 2, n_objects).astype(float)
    rows = [np.full((candidates, 1), float(obj)) for obj in range(n_objects) for _ in range(views)]
    truth = [np.full(candidates, answers[obj]) for obj in range(n_objects) for _ in range(views)]
    groups = np.repeat(np.arange(n_objects), views)
    estimator, held_out = fit_corner_classifier(rows, truth, groups, seed=1)
    seen = np.concatenate(expected_cuts(estimator, rows)) > 0.5
    unseen = np.concatenate(held_out) > 0.5
    answer = np.concatenate(truth) > 0.5
    assert np.mean(seen == answer) > 0.95
    assert np.mean(unseen == answer) < 0.75
    assert [len(p) for p in held_out] == [candidates] * len(rows)


def test_without_candidates_or_without_cut_ones_the_classifier_knows_the_base_rate():
    none = [np.zeros((0, len(CORNER_FEATURE_NAMES)))] * 4
    estimator, held_out = fit_corner_classifier(none, [np.zeros(0)] * 4, np.arange(4), seed=1)
    assert [len(p) for p in held_out] == [0] * 4
    assert expected_cuts(estimator, [np.ones((3, len(CORNER_FEATURE_NAMES)))])[0].tolist() == [0.0] * 3
    intact = [np.ones((2, len(CORNER_FEATURE_NAMES)))] * 4
    estimator, held_out = fit_corner_classifier(intact, [np.zeros(2)] * 4, np.arange(4), seed=1)
    assert np.concatenate(held_out).tolist() == [0.0] * 8


@pytest.mark.parametrize("patches, target", [(False, "near"), (True, "count")])
def test_two_stage_with_a_corner_classifier_trains_saves_and_predicts_with_it(cubes, tmp_path, capsys, monkeypatch,
                                                                              patches, target):
    from stemsim.classifiers.model_files import load_file
    from stemsim.classifiers.run import open_run

    monkeypatch.setattr("stemsim.classifiers.corners.CANDIDATE_THRESHOLD", 0.0)  # a 2-epoch U-Net's peaks are faint

    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "model": {"name": "two_stage", "min_samples_leaf": 4, "unet_epochs": 2, "unet_depth": 2, "unet_images": 24,
                  "unet_val_images": 8, "corner_classifier": True, "corner_patches": patches,
                  "corner_target": target},
        "data": {"kind": "stemsim", "path": str(cubes)}, "seed": 1}))
    out = tmp_path / "run"
    code, _, err = run_cli(["train", exp, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((out / "run.json").read_text())
    assert info["features"]["count"] == len(MAP_FEATURE_NAMES) + 35 + len(CORNER_SUMMARY_NAMES)
    assert info["features"]["names"][-len(CORNER_SUMMARY_NAMES):] == list(CORNER_SUMMARY_NAMES)
    corners = info["corners"]
    assert corners["file"] == "corner_model.skops" and (out / "corner_model.skops").is_file()
    assert corners["target"] == target
    assert corners["train_candidates"] > 0 and corners["val_candidates"] > 0
    assert 0.0 <= corners["val_accuracy"] <= 1.0
    saved = load_file(out / "corner_model.skops")["feature_names"]
    assert saved == list(CORNER_FEATURE_NAMES) + (list(CORNER_PATCH_NAMES) if patches else [])
    assert ("(with image patches)" in info["weights"]) == patches
    assert info["weights"].endswith("each counting the cut vertices it stands for") == (target == "count")

    model = open_run(out).load_model()
    assert model.corner_estimator is not None and model.corner_patches == patches
    val = load_maps(cubes, "val")
    features = model.features(list(val.images))
    rows = []
    for image in val.images:  # one image at a time: the corners depend on no other image
        maps = model.maps([image])
        rows.append(corner_rows(maps["mask"][0], maps["thickness"][0], maps["vertices"][0],
                                model.unet_inputs([image])[0] if patches else None))
    probabilities = expected_cuts(model.corner_estimator, [c.features for c in rows])
    np.testing.assert_allclose(features[:, -len(CORNER_SUMMARY_NAMES):],
                               [corner_summary(c, p) for c, p in zip(rows, probabilities)],
                               rtol=1e-5)  # a batch and a single image go through the U-Net in other float order
    assert run_cli(["evaluate", out], capsys)[0] == 0

    (out / "corner_model.skops").unlink()
    code, _, err = run_cli(["evaluate", out], capsys)
    assert code == 2 and err == f"stemsim: error: {out / 'corner_model.skops'}: corner classifier file is missing\n"


def test_on_multi_view_data_the_folds_keep_every_view_of_an_object_together(tmp_path, capsys, monkeypatch):
    from cli_runner import run
    from test_pixelwise import SPEC

    import stemsim.classifiers.two_stage as two_stage

    spec = {**SPEC, "name": "corners-views", "classes": {"values": [0, 2], "per_class": 10},
            "views": {"count": 3, "mode": "tilt", "tilt": {"axis": [0, 1, 0], "range": [-30, 30]}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert run("generate", tmp_path / "spec.yaml", "--out", tmp_path / "ds", "--jobs", "1") == 0
    seen = {}

    def spy(rows, truth, groups, seed, jobs=1, target="near"):
        seen["groups"] = np.asarray(groups)
        return fit_corner_classifier(rows, truth, groups, seed, jobs, target)

    monkeypatch.setattr(two_stage, "fit_corner_classifier", spy)
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "model": {"name": "two_stage", "min_samples_leaf": 2, "unet_epochs": 1, "unet_depth": 2,
                  "corner_classifier": True},
        "data": {"kind": "stemsim", "path": str(tmp_path / "ds")}, "seed": 1}))
    code, _, err = run_cli(["train", exp, "--out", tmp_path / "run", "--quiet"], capsys)
    assert code == 0, err
    groups = seen["groups"].reshape(-1, 3)  # the training views, each object's in a row
    assert len(groups) == 12
    assert (groups == groups[:, :1]).all()  # one group per object...
    assert len(np.unique(groups[:, 0])) == 12  # ...and a different one for each


def test_corner_patches_are_read_in_each_corners_own_frame():
    # a square particle, symmetric under turns by 90° about its centre pixel (16, 16)
    image = np.zeros((33, 33))
    image[8:25, 8:25] = 1.0
    heat = np.zeros((33, 33))
    peaks = np.array([[8, 8, 1.0], [24, 8, 1.0], [8, 24, 1.0], [24, 24, 1.0]])
    centre = np.array([16.0, 16.0])
    rows = corner_patches(image, image, image, heat, peaks, centre)
    assert rows.shape == (4, len(CORNER_PATCH_NAMES)) == (4, 3 * (2 * PATCH_HALF + 1) * (PATCH_HALF + 1))
    np.testing.assert_allclose(rows, np.repeat(rows[:1], 4, axis=0), atol=1e-12)  # every corner alike
    at_corner = CORNER_PATCH_NAMES.index("patch_image_out+0_side+0")
    outside = CORNER_PATCH_NAMES.index(f"patch_image_out+{PATCH_HALF}_side+0")
    inside = CORNER_PATCH_NAMES.index(f"patch_image_out-{PATCH_HALF}_side+0")
    assert rows[0, outside] == 0.0 and rows[0, inside] == 1.0 and 0 < rows[0, at_corner] <= 1.0

    cut = image.copy()
    cut[np.add.outer(np.arange(33), np.arange(33)) > 45] = 0.0  # cut the corner at (24, 24) off
    rows = corner_patches(cut, cut, cut, heat, peaks, centre)
    np.testing.assert_allclose(rows[:3], np.repeat(rows[:1], 3, axis=0), atol=1e-12)
    assert np.abs(rows[3] - rows[0]).max() > 0.5 and rows[3, inside] == pytest.approx(1.0, abs=1e-6)


@pytest.mark.parametrize("key, value, why", [
    ("corner_patches", True, "the patches are what the corner classifier reads"),
    ("corner_target", "count", "it is what the corner classifier learns")])
def test_corner_keys_without_the_corner_classifier_are_refused(tmp_path, capsys, key, value, why):
    from conftest_classifiers import write_stemsim_arrays

    root = write_stemsim_arrays(tmp_path / "data")
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({"model": {"name": "two_stage", key: value},
                                   "data": {"kind": "stemsim", "path": str(root)}}))
    code, _, err = run_cli(["train", exp, "--out", tmp_path / "run"], capsys)
    assert code == 2 and err == f"stemsim: error: model.{key}: {why}; set model.corner_classifier: true\n"
    assert not (tmp_path / "run").exists()
