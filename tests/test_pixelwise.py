"""Pixel-wise maps (stemsim.classifiers.pixelwise, the U-Net) and the two-stage classifier."""

from __future__ import annotations

from cli_runner import run
from conftest_classifiers import run_cli
from test_dataset import generate_once

import json
import math

import numpy as np
import pytest
import yaml
from PIL import Image

from stemsim.classifiers.pixelwise import (MAP_FEATURE_NAMES, find_vertices, load_maps, map_features, map_metrics,
                                   near_count, predict_maps, train_unet, vertex_heatmaps, visible_sites)
from stemsim.classifiers.tomography import TILT_FEATURE_NAMES
from stemsim.errors import InputError

SPEC = {
    "name": "maps-test", "seed": 5,
    "image": {"size": 32, "pixel_size": 0.35},
    "label": "n_deformations", "classes": {"values": [0, 2], "per_class": 30},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "object": {"shape": "cuboid", "size": {"uniform": [5, 6]}, "orientation": "random",
               "deformation": {"kind": "truncate", "depth": 0.3}},
    "microscope": {"probe_fwhm": 0.2, "dose": 5.0e3},
    "support": {"thickness": 2.0, "roughness": 0.3},
    "output": {"formats": ["png", "npz"], "dtype": "uint8", "ground_truth": True},
}


@pytest.fixture(scope="module")
def cubes(tmp_path_factory):
    """A tiny dataset with ground truth: 30 intact and 30 two-corner-cut cubes, 32² at 0.35 nm."""
    return generate_once(tmp_path_factory, SPEC, "maps")[1]


def test_vertex_heatmaps_peak_at_sites_and_separate_deformed_ones():
    sites = np.array([[[3.0, 4.0, 1.0], [10.0, 12.0, 0.0], [np.nan, np.nan, np.nan]]], np.float32)
    heat = vertex_heatmaps(sites, (16, 20), sigma=1.5)
    assert heat.shape == (1, 16, 20, 2)
    assert heat[0, 4, 3, 0] == pytest.approx(1.0) and heat[0, 12, 10, 0] == pytest.approx(1.0)
    assert heat[0, 4, 3, 1] == pytest.approx(1.0) and heat[0, 12, 10, 1] < 1e-9  # only the deformed site's far tail
    assert heat[0, 4, 4, 0] == pytest.approx(math.exp(-1 / (2 * 1.5 ** 2)))
    assert {tuple(p) for p in find_vertices(heat[0, ..., 0])[:, :2].astype(int)} == {(3, 4), (10, 12)}


def test_visible_sites_and_near_counts():
    sites = np.array([[5, 5, 1], [5.5, 5.2, 0], [20, 5, 0], [-3, 4, 0], [np.nan, np.nan, np.nan]], np.float32)
    np.testing.assert_allclose(visible_sites(sites, (16, 16)), [[5, 5], [5.5, 5.2]], rtol=1e-6)  # 2 outside
    assert len(visible_sites(sites, (32, 32))) == 3
    assert len(visible_sites(sites, (32, 32), deformed_only=True)) == 1
    assert len(visible_sites(sites, (16, 16), margin=3.0)) == 3  # (-3, 4) is within 3 px of the field
    # one peak between two vertices that project 0.5 px apart recalls both
    assert near_count(sites[:2, :2], np.array([[5.2, 5.1]])) == 2
    assert near_count(np.array([[5.0, 5.0], [9.0, 5.0]]), np.array([[5.0, 5.0], [9.0, 7.5]])) == 2
    assert near_count(np.array([[5.0, 5.0]]), np.array([[9.0, 5.0]])) == 0
    assert near_count(np.zeros((0, 2)), np.array([[9.0, 5.0]])) == 0


def test_load_maps_reads_ground_truth_and_the_truth_scores_perfectly(cubes):
    data = load_maps(cubes, "test")
    assert data.images.shape == data.thickness.shape == data.mask.shape == (12, 32, 32)
    assert data.sites.shape == (12, 8, 3) and data.pixel_size == 0.35
    manifest = {row.split(",")[0]: row.split(",")[4] for row in (cubes / "manifest.csv").read_text().splitlines()[1:]}
    assert [int(manifest[i]) for i in data.ids] == [[0, 2][k] for k in data.labels]
    # volume of the truth = Σ t·a: the 5-6 nm cubes minus two corners, and no thickness outside the mask
    volumes = data.thickness.sum(axis=(1, 2)) * 0.35 ** 2
    assert 0.8 * 5 ** 3 < volumes.min() and volumes.max() < 6 ** 3 * 1.001
    assert not data.thickness[~data.mask].any()
    truth = {"mask": data.mask.astype(np.float32), "thickness": data.thickness,
             "vertices": vertex_heatmaps(data.sites, (32, 32))}
    scores = map_metrics(truth, data)
    assert scores["mask_iou"]["mean"] == 1.0 and scores["thickness_relative_error"]["mean"] == 0.0
    assert scores["volume_relative_error"]["within_5_percent"] == 1.0
    deformed = scores["vertices"]["deformed"]
    assert deformed["visible"] == sum(len(visible_sites(s, (32, 32), True)) for s in data.sites) > 0
    assert scores["vertices"]["all"]["precision"] == 1.0 and scores["vertices"]["all"]["recall"] == 1.0
    assert deformed["precision"] == 1.0 and deformed["recall"] == 1.0


def test_map_features_count_the_deformed_vertices_of_true_maps():
    sites = np.array([[[8, 8, 1], [24, 8, 1], [8, 24, 0], [24, 24, 0]]], np.float32)
    heat = vertex_heatmaps(sites, (32, 32))[0]
    mask = np.zeros((32, 32), np.float32)
    mask[8:25, 8:25] = 1
    features = dict(zip(MAP_FEATURE_NAMES, map_features(mask, mask * 2.0, heat, 0.5)))
    assert features["vertices_found"] == 4 and features["deformed_found"] == 2
    assert features["deformed_heat_count"] == pytest.approx(2.0, rel=0.01)
    assert features["vertex_heat_count"] == pytest.approx(4.0, rel=0.01)
    assert features["deformed_pair_distance_nm"] == pytest.approx(16 * 0.5)
    assert features["map_volume_nm3"] == pytest.approx(17 * 17 * 2.0 * 0.25)


@pytest.mark.parametrize("pair, kind", [((0, 1), "edge"), ((0, 3), "face diagonal"), ((0, 7), "body diagonal")])
def test_pair_features_tell_edge_face_and_body_diagonal_apart(pair, kind):
    from scipy.spatial.distance import pdist
    from scipy.spatial.transform import Rotation

    from stemsim.classifiers.pixelwise import pair_features

    # a cuboid's 8 corners (index 4x + 2y + z), half-edges 16, 13, 10 px, orthographically projected
    corners = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float) * [16, 13, 10]
    projected = Rotation.from_euler("xyz", [30, 40, 50], degrees=True).apply(corners)[:, :2] + 48
    assert pdist(projected).min() > 10  # a view where no two corners merge
    sites = np.zeros((1, 8, 3), np.float32)
    sites[0, :, :2], sites[0, list(pair), 2] = projected, 1
    heat = vertex_heatmaps(sites, (96, 96))[0]
    peak, midpoint, spread, *residuals = pair_features(find_vertices(heat[..., 0]), heat[..., 1],
                                                       np.array([48.0, 48.0]), 40.0)
    assert peak > 0.9
    near = sum(r < 0.06 for r in residuals)  # other vertex pairs that are translates of this one
    assert near == {"edge": 3, "face diagonal": 1, "body diagonal": 0}[kind]
    assert (midpoint < 0.02) == (kind == "body diagonal")  # only a body diagonal is halved by the centre
    assert (spread == pytest.approx(1.0)) == (kind == "body diagonal")  # …and is the widest pair here


def test_unet_trains_briefly_and_beats_a_constant_mask(cubes):
    train, val = load_maps(cubes, "train"), load_maps(cubes, "val")
    model, history = train_unet(train, val, width=8, depth=2, epochs=12, batch_size=12, learning_rate=3e-3, seed=0)
    assert len(history) == 12 and history[-1]["loss"] < history[0]["loss"]
    maps = predict_maps(model, val.images)
    scores = map_metrics(maps, val)
    # the best constant mask: every pixel "particle" (IoU = particle fraction), or none (IoU 0)
    constant = float(np.mean(val.mask.sum(axis=(1, 2)) / val.mask[0].size))
    assert scores["mask_iou"]["mean"] > constant + 0.15
    # and a better thickness map than the best constant one (0 nm: most pixels are background)
    assert scores["thickness_relative_error"]["mean"] < 0.8
    # fully convolutional: an odd-sized image is padded and cropped back
    odd = predict_maps(model, [val.images[0][:30, :27]])
    assert odd["mask"].shape == (1, 30, 27) and odd["vertices"].shape == (1, 30, 27, 2)
    # symmetric maps turn with the image (the network alone need not); the true maps do too
    image = val.images[:1]
    for turn in (lambda a: np.rot90(a, 1, axes=(1, 2)), lambda a: a[:, :, ::-1]):
        plain, turned = predict_maps(model, image)["vertices"], predict_maps(model, turn(image))["vertices"]
        assert np.abs(turned - turn(plain)).max() > 1e-3
        both = predict_maps(model, image, symmetric=True), predict_maps(model, turn(image), symmetric=True)
        for key in ("mask", "thickness", "vertices"):
            np.testing.assert_allclose(both[1][key], turn(both[0][key]), atol=1e-5)


def test_two_stage_with_unet_tta_makes_symmetric_maps_in_training_and_after(cubes, tmp_path, capsys):
    from stemsim.classifiers.run import open_run

    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "model": {"name": "two_stage", "min_samples_leaf": 4, "unet_epochs": 1, "unet_depth": 2, "unet_images": 8,
                  "unet_val_images": 4, "unet_tta": True},
        "data": {"kind": "stemsim", "path": str(cubes)}, "seed": 1}))
    assert run_cli(["train", exp, "--out", tmp_path / "run", "--quiet"], capsys)[0] == 0
    model = open_run(tmp_path / "run").load_model()
    val = load_maps(cubes, "val", 4)
    assert model.symmetric_maps is True
    np.testing.assert_array_equal(model.maps(list(val.images))["vertices"],
                                  predict_maps(model.unet, val.images, symmetric=True)["vertices"])
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["maps"]["val"] == map_metrics(predict_maps(model.unet, val.images, symmetric=True), val)


def test_two_stage_trains_evaluates_scores_maps_and_writes_them(cubes, tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "model": {"name": "two_stage", "min_samples_leaf": 4, "unet_epochs": 2, "unet_depth": 2, "unet_images": 24,
                  "unet_val_images": 8},
        "data": {"kind": "stemsim", "path": str(cubes)}, "seed": 1}))
    out = tmp_path / "run"
    code, _, err = run_cli(["train", exp, "--out", out, "--quiet"], capsys)
    assert code == 0, err
    assert {"model.skops", "unet.keras", "unet_history.json"} <= {p.name for p in out.iterdir()}
    info = json.loads((out / "run.json").read_text())
    assert info["pipeline"] == "two_stage" and info["weights"].startswith("none: U-Net trained here")
    assert info["maps"]["unet_images"] == 24 and info["maps"]["val"]["n_images"] == 8
    assert info["features"]["count"] == len(MAP_FEATURE_NAMES) + 35

    code, _, err = run_cli(["evaluate", out], capsys)
    assert code == 0, err
    report = json.loads((out / "evaluation" / "test" / "metrics.json").read_text())
    assert report["maps"]["n_images"] == report["data"]["n_images"] == 12
    assert 0.0 <= report["maps"]["mask_iou"]["mean"] <= 1.0
    assert "| mask IoU (mean) |" in (out / "evaluation" / "test" / "report.md").read_text()

    test = np.load(next((cubes / "arrays").glob("test-*.npz")))
    Image.fromarray(test["images"][0]).save(tmp_path / "cube.png")
    code, text, err = run_cli(["predict", out, tmp_path / "cube.png", "--maps", tmp_path / "maps"], capsys)
    assert code == 0, err
    assert text.splitlines()[0] == "file,label,p_0,p_2,pixel_size_nm,error"
    assert run_cli(["predict", out, tmp_path / "cube.png"], capsys)[1] == text  # the maps change no answer
    names = sorted(p.name for p in (tmp_path / "maps").iterdir())
    assert names == ["cube.mask.png", "cube.thickness.tif", "cube.vertices.json", "cube.vertices.png"]
    thickness = np.asarray(Image.open(tmp_path / "maps" / "cube.thickness.tif"))
    assert thickness.shape == (32, 32) and thickness.dtype == np.float32 and thickness.min() >= 0
    assert np.asarray(Image.open(tmp_path / "maps" / "cube.vertices.png")).shape == (32, 32, 3)
    peaks = json.loads((tmp_path / "maps" / "cube.vertices.json").read_text())
    assert peaks["columns"] == ["column", "row", "height"] and set(peaks) == {"columns", "vertices", "deformed"}

    # features fusion pools views: a run trained on single-view data has nothing to pool them with
    code, _, err = run_cli(["evaluate", out, "--fusion", "features"], capsys)
    assert code == 2 and err == ("stemsim: error: --fusion: features fusion needs a two_stage run trained on "
                                 "multi-view data (it learns from view-pooled map features); this run cannot "
                                 "(use mean or vote)\n")
    assert not (out / "views_model.skops").exists() and "view_features" not in info
    code, _, err = run_cli(["evaluate", out, "--fusion", "backprojection"], capsys)
    assert code == 2 and err == ("stemsim: error: --fusion: backprojection fusion needs a two_stage run trained on "
                                 "a tilt series (it learns from heat-maps back-projected along the series' angles); "
                                 "this run can use mean, vote\n")
    from stemsim.classifiers.run import open_run

    assert open_run(out).fusions == ("mean", "vote")

    # maps need a map network; a geometric run has none
    geo = tmp_path / "geo.yaml"
    geo.write_text(yaml.safe_dump({"model": {"name": "geometric", "min_samples_leaf": 4},
                                   "data": {"kind": "stemsim", "path": str(cubes)}}))
    assert run_cli(["train", geo, "--out", tmp_path / "geo", "--quiet"], capsys)[0] == 0
    code, _, err = run_cli(["predict", tmp_path / "geo", tmp_path / "cube.png", "--maps", tmp_path / "m2"], capsys)
    assert code == 2 and not (tmp_path / "m2").exists()
    assert err.strip() == (f"stemsim: error: --maps: {tmp_path / 'geo'} is a geometric run, which makes no maps "
                           "(only model.name two_stage does)")


def test_two_stage_on_multi_view_data_learns_from_every_view_and_scores_objects(tmp_path, capsys):
    spec = {**SPEC, "name": "maps-views", "classes": {"values": [0, 2], "per_class": 10},
            "views": {"count": 2, "mode": "tilt", "tilt": {"axis": [0, 1, 0], "range": [-30, 30]}}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert run("generate", tmp_path / "spec.yaml", "--out", tmp_path / "ds", "--jobs", "1") == 0
    assert len(load_maps(tmp_path / "ds", "train")) == 2 * 12  # views flattened: 12 objects × 2
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({
        "model": {"name": "two_stage", "min_samples_leaf": 2, "unet_epochs": 1, "unet_depth": 2},
        "data": {"kind": "stemsim", "path": str(tmp_path / "ds")}, "seed": 1}))
    code, _, err = run_cli(["train", exp, "--out", tmp_path / "run", "--quiet"], capsys)
    assert code == 0, err
    assert json.loads((tmp_path / "run" / "run.json").read_text())["maps"]["unet_images"] == 24
    code, _, err = run_cli(["evaluate", tmp_path / "run", "--fusion", "vote"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "run" / "evaluation" / "test-vote" / "metrics.json").read_text())
    assert report["data"]["n_objects"] == 4 and report["maps"]["n_images"] == 8  # per object; maps per view
    # the first K views of each object: the classes are scored again, the per-view maps are not
    code, _, err = run_cli(["evaluate", tmp_path / "run", "--views", "1"], capsys)
    assert code == 0, err
    subset = json.loads((tmp_path / "run" / "evaluation" / "test-views1" / "metrics.json").read_text())
    assert subset["maps"] == {"skipped": "maps are scored per view, on the evaluation of all views (without --views)"}

    # features fusion: a second stage 2 learnt from the view-pooled features of view subsets
    run_json = json.loads((tmp_path / "run" / "run.json").read_text())
    info = run_json["view_features"]
    assert info["rows"] == 12 * 2 * 2 and info["features"] == 3 * run_json["features"]["count"] + 1
    assert set(info["val_accuracy_by_first_views"]) == {"1", "2"}
    assert (tmp_path / "run" / "views_model.skops").is_file()
    code, out, err = run_cli(["evaluate", tmp_path / "run", "--fusion", "features", "--views", "1"], capsys)
    assert code == 0, err
    assert "4 objects × 1 view (features)" in out
    pooled = json.loads((tmp_path / "run" / "evaluation" / "test-features-views1" / "metrics.json").read_text())
    assert pooled["views"] == {"count": 1, "available": 2, "fusion": "features"}
    from stemsim.classifiers.run import open_run
    from stemsim.classifiers.two_stage import TwoStageModel
    from stemsim.classifiers.data import load_dataset
    from stemsim.classifiers.views import pool_view_features

    run_info = open_run(tmp_path / "run")
    assert run_info.fusions == ("mean", "vote", "features", "backprojection")
    model = TwoStageModel.load(run_info.model_path)
    objects = load_dataset(run_info.config["data"], run_info.preprocessing(), ("test",)).split("test").images
    probs = model.pooled_probabilities([obj[:1] for obj in objects])  # what the evaluation reported
    written = np.loadtxt(tmp_path / "run" / "evaluation" / "test-features-views1" / "predictions.csv",
                         delimiter=",", skiprows=1, usecols=(3, 4))
    np.testing.assert_allclose(written, probs, atol=1e-5)
    by_hand = model._probabilities_of(model.views_estimator,
                                      np.array([pool_view_features(model.features(list(obj))) for obj in objects]))
    np.testing.assert_allclose(model.pooled_probabilities(objects), by_hand, atol=1e-6)
    # view order does not change the answer (mean, min and max do not see it)
    np.testing.assert_allclose(model.pooled_probabilities([obj[::-1] for obj in objects]), by_hand, atol=1e-6)
    # predict --object: one folder of views, the same classifier
    from stemsim.classifiers.data import read_object

    folder = sorted(p for p in (tmp_path / "ds" / "test").glob("*/*") if p.is_dir())[0]
    code, out, err = run_cli(["predict", tmp_path / "run", "--object", folder, "--fusion", "features",
                              "--format", "json"], capsys)
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["views"] == {"count": 2, "available": 2, "fusion": "features"}
    expected = model.pooled_probabilities([read_object(folder, run_info.preprocessing())])[0]
    np.testing.assert_allclose([row["probabilities"][c] for c in run_info.classes], expected, atol=1e-5)
    code, _, err = run_cli(["evaluate", tmp_path / "run", "--fusion", "median"], capsys)
    assert code == 2 and err == ("stemsim: error: --fusion: expected mean, vote, features, backprojection, "
                                 "got 'median'\n")

    # backprojection fusion: the pooled features + the heat-maps back-projected along the tilt angles
    tilt = run_json["backprojection"]
    assert tilt["tilt_series"] == {"axis": [0.0, 1.0, 0.0], "angles": [-30.0, 30.0]}
    assert tilt["rows"] == info["rows"] and tilt["features"] == info["features"] + len(TILT_FEATURE_NAMES)
    assert (tmp_path / "run" / "backprojection_model.skops").is_file()
    assert model.tilt_series.angles == (-30.0, 30.0)
    code, out, err = run_cli(["evaluate", tmp_path / "run", "--fusion", "backprojection"], capsys)
    assert code == 0, err
    assert "4 objects × 2 views (backprojection)" in out
    written = np.loadtxt(tmp_path / "run" / "evaluation" / "test-backprojection" / "predictions.csv",
                         delimiter=",", skiprows=1, usecols=(3, 4))
    np.testing.assert_allclose(written, model.pooled_probabilities(objects, "backprojection"), atol=1e-5)
    maps, per_view = model.maps_and_features(list(objects[0]))
    row = np.concatenate([pool_view_features(per_view), model.tilt_object_features(maps)])
    np.testing.assert_allclose(model._probabilities_of(model.tilt_estimator, row[None])[0],
                               model.pooled_probabilities(objects[:1], "backprojection")[0], atol=1e-6)
    # the views are the first of the training tilt series, so more views than it has cannot be placed
    with pytest.raises(InputError, match=r"^--fusion backprojection: an object has 3 views; the run's tilt series "
                                         r"\(axis \[0, 1, 0\], 2 views at -30…30°\) has only 2$"):
        model.pooled_probabilities([np.concatenate([objects[0], objects[0][:1]])], "backprojection")
    code, out, err = run_cli(["predict", tmp_path / "run", "--object", folder, "--fusion", "backprojection",
                              "--format", "json"], capsys)
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["views"] == {"count": 2, "available": 2, "fusion": "backprojection"}
    expected = model.pooled_probabilities([read_object(folder, run_info.preprocessing())], "backprojection")[0]
    np.testing.assert_allclose([row["probabilities"][c] for c in run_info.classes], expected, atol=1e-5)
    # each view keeps its own angle: views given in another order, with their positions, answer the same
    np.testing.assert_allclose(model.pooled_probabilities([obj[::-1] for obj in objects], "backprojection", [1, 0]),
                               model.pooled_probabilities(objects, "backprojection"), atol=1e-6)
    # a folder of view_k files: view k is at the series' k-th angle (here the last view alone, at +30°)
    last = tmp_path / "last_view"
    last.mkdir()
    (last / "view_1.png").write_bytes((folder / "view_1.png").read_bytes())
    code, out, err = run_cli(["predict", tmp_path / "run", "--object", last, "--fusion", "backprojection",
                              "--format", "json"], capsys)
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["views"] == {"count": 1, "available": 1, "fusion": "backprojection", "indices": [1]}
    expected = model.pooled_probabilities([read_object(last, run_info.preprocessing())], "backprojection", [1])[0]
    np.testing.assert_allclose([row["probabilities"][c] for c in run_info.classes], expected, atol=1e-5)
    (last / "view_2.png").write_bytes((folder / "view_0.png").read_bytes())
    code, _, err = run_cli(["predict", tmp_path / "run", "--object", last, "--fusion", "backprojection"], capsys)
    assert code == 2 and err == ("stemsim: error: --fusion backprojection: view 2 is not in the run's tilt series "
                                 "(axis [0, 1, 0], 2 views at -30…30°: views 0–1)\n")
    (last / "view_2.png").rename(last / "view_01.png")
    code, _, err = run_cli(["predict", tmp_path / "run", "--object", last, "--fusion", "backprojection"], capsys)
    assert code == 2 and err in (f"stemsim: error: {last}: view_01.png and view_1.png are both view 1\n",
                                 f"stemsim: error: {last}: view_1.png and view_01.png are both view 1\n")
    # data of another tilt series cannot be scored with these angles
    other = {**spec, "views": {"count": 2, "mode": "tilt", "tilt": {"axis": [0, 1, 0], "range": [-60, 60]}},
             "classes": {"values": [0, 2], "per_class": 2}}
    (tmp_path / "other.yaml").write_text(yaml.safe_dump(other))
    assert run("generate", tmp_path / "other.yaml", "--out", tmp_path / "other", "--jobs", "1") == 0
    code, _, err = run_cli(["evaluate", tmp_path / "run", "--data", tmp_path / "other", "--fusion",
                            "backprojection", "--out", tmp_path / "e"], capsys)
    assert code == 2 and not (tmp_path / "e").exists()
    assert err == (f"stemsim: error: {tmp_path / 'other' / 'spec.yaml'}: backprojection fusion was trained on the "
                   "tilt series axis [0, 1, 0], 2 views at -30…30°; this data has the tilt series axis [0, 1, 0], "
                   "2 views at -60…60°\n")


def test_bad_inputs_get_one_line_errors(cubes, tmp_path, capsys):
    from stemsim.classifiers.training import train

    # a dataset made without ground truth
    spec = {**SPEC, "name": "no-truth", "classes": {"values": [0, 2], "per_class": 5},
            "output": {**SPEC["output"], "ground_truth": False}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert run("generate", tmp_path / "spec.yaml", "--out", tmp_path / "ds", "--jobs", "1") == 0
    shard = sorted((tmp_path / "ds" / "arrays").glob("train-*.npz"))[0]
    with pytest.raises(InputError, match=rf"^{shard}: holds no thickness, mask, vertices \(the dataset was made "
                                         r"without output.ground_truth: true\)$"):
        load_maps(tmp_path / "ds", "train")
    with pytest.raises(InputError, match=r"no npz shards for the 'train' split"):
        load_maps(tmp_path, "train")  # the generation spec.yaml is here, no shards
    # folder data has no ground truth to learn maps from
    folder = tmp_path / "folders"
    for label in ("a", "b"):
        (folder / label).mkdir(parents=True)
        Image.fromarray(np.zeros((8, 8), np.uint8)).save(folder / label / "x.png")
    with pytest.raises(InputError, match=r"^model.name: two_stage learns its maps from a stemsim dataset's "
                                         r"ground truth; data.kind is folder$"):
        train({"model": {"name": "two_stage"}, "data": {"kind": "folder", "path": str(folder)}}, tmp_path / "r")
    assert not (tmp_path / "r").exists()
    # features fusion is the two-stage model's own
    with pytest.raises(InputError, match=r"^evaluation.fusion: features is the two_stage model's view pooling; "
                                         r"model.name geometric fuses views by mean or vote$"):
        train({"model": {"name": "geometric"}, "data": {"kind": "stemsim", "path": str(cubes)},
               "evaluation": {"fusion": "features"}}, tmp_path / "r")
    assert not (tmp_path / "r").exists()
    # image sides that the U-Net's poolings cannot halve
    data = load_maps(cubes, "val")
    with pytest.raises(InputError, match=r"^model.unet_depth: 6 needs image sides that are multiples of 64, "
                                         r"got \(32, 32\)$"):
        train_unet(data, data, depth=6, epochs=1)
