"""Hand-crafted geometric features (stemsim.classifiers.features) on simulated images, and the
``geometric`` no-deep-learning baseline trained → evaluated → predicted from the command line."""

from __future__ import annotations

from cli_runner import run
from conftest_classifiers import run_cli
from test_dataset import generate_once

import csv
import json
import math

import numpy as np
import pytest
import yaml
from PIL import Image

from stemsim.classifiers.features import (FEATURE_NAMES, corner_distances, corner_points, image_features,
                                  integrated_intensity_volume, outline_polygon, particle_mask)
from stemsim.classifiers.run import open_run
from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, Pyramid, Scene, Sphere, axis_angle
from stemsim.errors import InputError

PIXEL = 0.1  # nm: a 6 nm cube is 60 pixels across
EDGE = 6.0
IDENTITY = [1.0, 0.0, 0.0, 0.0]
TILT = axis_angle((1, 0, 0), 30.0)  # the x edges stay on the beam's side; the y/z faces slope


def diagonal_view():
    """The orientation that looks down a cube's body diagonal (1, 1, 1): a hexagonal silhouette."""
    v = np.ones(3) / math.sqrt(3)
    axis = np.cross(v, [0.0, 0.0, 1.0])
    return axis_angle(axis / np.linalg.norm(axis), math.degrees(math.acos(v[2])))


def acquire(shape, orientation=IDENTITY, support=None, dose=None, seed=0):
    """A noise-free (or ``dose``) 128² image with a near-delta probe, in the simulator's units."""
    microscope = Microscope(pixel_size=PIXEL, size=128, probe=Probe(fwhm=0.02), dose=dose)
    scene = Scene([Particle(shape, "Au", orientation)], support=support)
    return microscope.acquire(scene, np.random.default_rng(seed))


def vertex_count(image) -> int:
    return len(outline_polygon(particle_mask(image)))


# ---- outline polygon ---------------------------------------------------------------------


def test_face_on_cube_outline_is_a_square_with_edge_and_diagonal_corner_distances():
    m = acquire(Cuboid(EDGE, EDGE, EDGE))
    mask = particle_mask(m.image)
    assert np.sum(mask ^ m.mask) <= 8  # the true silhouette, up to the corner pixels
    polygon = outline_polygon(mask)
    assert len(polygon) == 4
    # every polygon corner sits on a projected cube vertex (sites are column, row)
    sites = m.sites[:, 1::-1]
    assert max(np.min(np.hypot(*(sites - p).T)) for p in polygon) < 1.0  # pixels
    d = corner_distances(polygon, PIXEL)
    assert d.shape == (6,)
    np.testing.assert_allclose(d[:4], EDGE, atol=2 * PIXEL)
    np.testing.assert_allclose(d[4:], EDGE * math.sqrt(2), atol=2 * PIXEL)
    assert len(corner_points(mask, "harris")) == 4


def test_truncating_one_silhouette_corner_adds_exactly_one_vertex():
    # Face-on, every outline corner is the projection of TWO vertices (front and back), so
    # cutting one of them leaves the silhouette a square. Tilted 30° about x, each outline
    # corner is the projection of one vertex: cutting it gives a pentagon.
    assert vertex_count(acquire(Cuboid(EDGE).truncate([0], 0.25)).image) == 4
    whole = acquire(Cuboid(EDGE), TILT)
    polygon = outline_polygon(particle_mask(whole.image))
    assert len(polygon) == 4
    rows = whole.sites[:, 1]
    outer = int(np.argmin(rows))  # a vertex on the silhouette: the top row
    inner = int(np.argsort(rows)[3])  # a vertex that projects onto a side edge, not a corner
    assert np.min(np.hypot(*(polygon - whole.sites[outer, 1::-1]).T)) < 1.5
    assert np.min(np.hypot(*(polygon - whole.sites[inner, 1::-1]).T)) > 10
    assert vertex_count(acquire(Cuboid(EDGE).truncate([outer], 0.25), TILT).image) == 5
    assert vertex_count(acquire(Cuboid(EDGE).truncate([inner], 0.25), TILT).image) == 4


def test_hexagonal_and_triangular_silhouettes():
    hexagon = acquire(Cuboid(EDGE), diagonal_view())
    polygon = outline_polygon(particle_mask(hexagon.image))
    assert len(polygon) == 6
    side = EDGE * math.sqrt(2 / 3)  # the hexagon's side (= its circumradius)
    d = corner_distances(polygon, PIXEL)
    np.testing.assert_allclose(d[:6], side, rtol=0.05)  # thickness ramps to 0 at the edge: slightly inside
    assert vertex_count(acquire(Pyramid(7.0, sides=3)).image) == 3  # tetrahedron on its base
    assert vertex_count(acquire(Pyramid(7.0, sides=4)).image) == 4  # half-octahedron from above


# ---- volume from the integrated intensity --------------------------------------------------


VOLUMES = {  # shape, orientation, analytic volume (nm³)
    "cube": (Cuboid(EDGE), IDENTITY, EDGE**3),
    "cuboid tilted": (Cuboid(5.0, 6.0, 7.0), TILT, 5.0 * 6.0 * 7.0),
    "truncated cube": (Cuboid(EDGE).truncate([1], 0.25), TILT, EDGE**3 - (0.25 * EDGE) ** 3 / 6),
    "sphere": (Sphere(3.5), IDENTITY, 4 / 3 * math.pi * 3.5**3),
}


@pytest.mark.parametrize("name", sorted(VOLUMES))
def test_volume_from_integrated_intensity(name):
    shape, orientation, volume = VOLUMES[name]
    clean = acquire(shape, orientation)
    assert integrated_intensity_volume(clean.image, PIXEL) == pytest.approx(volume, rel=0.02)
    on_carbon = acquire(shape, orientation, support=CarbonFilm(3.0, 0.5), seed=1)
    assert integrated_intensity_volume(on_carbon.image, PIXEL) == pytest.approx(volume, rel=0.05)
    noisy = acquire(shape, orientation, support=CarbonFilm(3.0, 0.5), dose=5e3, seed=2)
    assert integrated_intensity_volume(noisy.image, PIXEL) == pytest.approx(volume, rel=0.05)


def test_volume_needs_the_material_and_exponent_of_the_image():
    m = acquire(Cuboid(EDGE))
    silver = integrated_intensity_volume(m.image, PIXEL, material="Ag")
    assert silver == pytest.approx(EDGE**3 * (79 / 47) ** 1.7, rel=0.02)  # Ag scatters less: more of it


# ---- the feature vector --------------------------------------------------------------------


def test_feature_vector_is_fixed_and_survives_uint8_scaling():
    m = acquire(Cuboid(EDGE), TILT, support=CarbonFilm(3.0, 0.5), dose=5e3)
    calibrated = image_features(m.image, PIXEL)
    scaled = image_features(m.normalized(np.uint8), PIXEL)
    assert calibrated.shape == scaled.shape == (len(FEATURE_NAMES),) == (35,)
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES) and np.isfinite(calibrated).all()
    f, g = dict(zip(FEATURE_NAMES, calibrated)), dict(zip(FEATURE_NAMES, scaled))
    assert f["n_vertices"] == g["n_vertices"] == 4
    for key in ("area_nm2", "volume_fill", "solidity", "corner_distance_max_nm"):
        assert g[key] == pytest.approx(f[key], rel=0.03), key
    assert f["area_nm2"] == pytest.approx(EDGE * (EDGE * (math.cos(math.radians(30)) + 0.5)), rel=0.05)
    # relative volume: a face-on cube is a slab (≈ 1), a sphere a dome (≈ 2/3)
    cube = dict(zip(FEATURE_NAMES, image_features(acquire(Cuboid(EDGE)).image, PIXEL)))
    ball = dict(zip(FEATURE_NAMES, image_features(acquire(Sphere(3.5)).image, PIXEL)))
    assert cube["volume_fill"] > 0.95 and ball["volume_fill"] == pytest.approx(2 / 3, abs=0.03)
    assert ball["circularity"] > 0.9 > cube["circularity"]


def test_a_flat_image_has_no_particle():
    assert not particle_mask(np.zeros((16, 16))).any()
    features = image_features(np.full((16, 16), 7, np.uint8))
    assert features[FEATURE_NAMES.index("area_nm2")] == 0 and np.isnan(features[FEATURE_NAMES.index("solidity")])


@pytest.mark.parametrize("function", [particle_mask, image_features,
                                      lambda image: integrated_intensity_volume(image, PIXEL)])
def test_bad_images_are_refused_with_one_line(function):
    with pytest.raises(InputError) as error:
        function(np.zeros((3, 4, 5)))
    assert str(error.value) == "image: expected a 2-D array (H, W), got shape (3, 4, 5)"
    for bad in (np.nan, np.inf):
        image = np.zeros((8, 8))
        image[2, 3] = bad
        with pytest.raises(InputError) as error:
            function(image)
        assert str(error.value) == "image: holds NaN or infinite values"


def test_bad_arguments_are_refused():
    with pytest.raises(InputError, match=r"^pixel_size_nm: expected a positive number of nm, got -1$"):
        image_features(np.zeros((8, 8)), -1)
    with pytest.raises(InputError, match=r"^points: expected a \(K, 2\) array"):
        corner_distances(np.zeros((4, 3)))
    with pytest.raises(InputError, match=r"^method: expected polygon or harris, got 'fast'$"):
        corner_points(np.ones((8, 8), bool), "fast")
    with pytest.raises(InputError, match=r"^material: unknown element 'Xx'$"):
        integrated_intensity_volume(np.zeros((8, 8)), PIXEL, material="Xx")


# ---- the geometric classifier through the command line -------------------------------------

SPEC = {
    "name": "geometric-test", "seed": 3,
    "image": {"size": 32, "pixel_size": 0.35},
    "label": "shape", "classes": {"values": ["cuboid", "sphere"], "per_class": 30},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "object": {"shape": "cuboid", "size": {"uniform": [5, 6]}, "orientation": "random",
               "deformation": {"count": 0}},
    "microscope": {"probe_fwhm": 0.2, "dose": 5.0e3},
    "support": {"thickness": 2.0, "roughness": 0.3},
    "output": {"formats": ["png", "npz"], "dtype": "uint8", "ground_truth": False},
}


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """A tiny `stemsim generate` dataset: 30 cuboids and 30 spheres, 32² px at 0.35 nm."""
    return generate_once(tmp_path_factory, SPEC, "geometric")[1]


def test_geometric_classifier_trains_evaluates_and_predicts(shapes, tmp_path, capsys):
    from stemsim.classifiers.model_files import load_file

    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump({"model": {"name": "geometric", "min_samples_leaf": 4},
                                   "data": {"kind": "stemsim", "path": str(shapes)}, "seed": 1}))
    run = tmp_path / "run"
    code, out, err = run_cli(["train", exp, "--out", run, "--quiet"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "history.csv", "history.json", "model.skops",
                                                     "run.json"]
    info = json.loads((run / "run.json").read_text())
    assert info["weights"] == "none (scikit-learn HistGradientBoostingClassifier on geometric features)"
    assert info["pipeline"] == "geometric" and info["features"]["pixel_size_nm"] == 0.35
    assert info["features"]["names"] == list(FEATURE_NAMES) and info["best"]["epoch"] == info["epochs_run"] == 200
    history = json.loads((run / "history.json").read_text())
    assert {"epoch", "loss", "accuracy", "val_loss", "val_accuracy"} <= set(history[-1])
    assert history[-1]["accuracy"] >= 0.9 and history[-1]["val_accuracy"] >= 0.8

    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0, err
    report = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    accuracy, baseline = report["metrics"]["accuracy"], report["constant_baseline"]["accuracy"]
    assert accuracy >= 0.9 > baseline == pytest.approx(0.5)
    assert report["model_size"]["model_file_bytes"] == (run / "model.skops").stat().st_size
    assert report["inference"]["images_per_second"] > 0 and report["weights"] == info["weights"]
    assert "feature extraction + classifier" in (run / "evaluation" / "test" / "report.md").read_text()
    predictions = list(csv.DictReader((run / "evaluation" / "test" / "predictions.csv").read_text().splitlines()))
    assert len(predictions) == report["data"]["n_images"] == 12

    # model.skops reloads on its own: a plain dict around the scikit-learn estimator
    saved = load_file(run / "model.skops")
    assert saved["classes"] == ["cuboid", "sphere"] and saved["feature_names"] == list(FEATURE_NAMES)
    test = np.load(next((shapes / "arrays").glob("test-*.npz")))
    prepare = open_run(run).preprocessing().prepare  # uint8 → [0, 1] at the dataset's own 32²
    features = np.array([image_features(prepare(image)[..., 0], 0.35) for image in test["images"]])
    probabilities = saved["estimator"].predict_proba(features)
    by_id = {row["id"]: float(row["p_sphere"]) for row in predictions}
    np.testing.assert_allclose([by_id[str(i)] for i in test["ids"]], probabilities[:, 1], atol=1e-4)

    # predict: a PNG of the data, a float TIFF with NaN → its own error line, exit 2
    import tifffile

    sphere = int(np.flatnonzero(test["labels"] == 1)[0])
    Image.fromarray(test["images"][sphere]).save(tmp_path / "ball.png")
    broken = test["images"][0].astype(np.float32)
    broken[5, 5] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", broken)
    code, out, err = run_cli(["predict", run, tmp_path / "ball.png", tmp_path / "nan.tif"], capsys)
    assert code == 2
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["file", "label", "p_cuboid", "p_sphere", "pixel_size_nm", "error"]
    assert rows[1][1] == "sphere" and rows[1][5] == ""
    assert rows[2][1] == "" and rows[2][5] == f"{tmp_path / 'nan.tif'}: holds NaN or infinite values"
    assert f"stemsim: error: {tmp_path / 'nan.tif'}: holds NaN or infinite values" in err


def test_logistic_variant_and_refusals(shapes, tmp_path):
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.training import train

    experiment = {"model": {"name": "geometric", "classifier": "logistic"},
                  "data": {"kind": "stemsim", "path": str(shapes)}, "seed": 0}
    run = train(experiment, tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert info["weights"] == "none (scikit-learn LogisticRegression on geometric features)"
    assert info["epochs_run"] == 1
    report = evaluate(run)
    assert report["metrics"]["accuracy"] > report["constant_baseline"]["accuracy"]

    with pytest.raises(InputError, match=r"^model.classifier: expected one of gbm, logistic, got 'svm'$"):
        train({**experiment, "model": {"name": "geometric", "classifier": "svm"}}, tmp_path / "x")
    (run / "model.skops").write_bytes(b"not a skops file")
    with pytest.raises(InputError, match=r"model.skops: not a stemsim model file"):
        evaluate(run)


def test_multiview_data_is_fused_per_object(tmp_path):
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.prediction import predict_objects
    from stemsim.classifiers.training import train

    spec = {**SPEC, "name": "geometric-views", "classes": {"values": ["cuboid", "sphere"], "per_class": 12},
            "views": {"count": 3, "mode": "random"}}
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(spec))
    assert run("generate", tmp_path / "spec.yaml", "--out", tmp_path / "ds", "--jobs", "1") == 0
    model = train({"model": {"name": "geometric", "min_samples_leaf": 4},
                   "data": {"kind": "stemsim", "path": str(tmp_path / "ds")}, "seed": 0}, tmp_path / "run")
    report = evaluate(model)  # every view an image in training; per object at evaluation
    assert report["views"] == {"count": 3, "available": 3, "fusion": "mean"}
    assert report["data"]["n_objects"] * 3 == report["data"]["n_images"]
    assert report["metrics"]["accuracy"] > report["constant_baseline"]["accuracy"]
    folder = next((tmp_path / "ds" / "test" / "sphere").iterdir())
    [row] = predict_objects(model, [folder])
    assert row["error"] is None and row["views"]["count"] == 3 and set(row["probabilities"]) == {"cuboid", "sphere"}


def test_progress_bars_only_on_a_terminal(monkeypatch):
    """Feature extraction draws a bar only where stderr is a terminal; the items are the same."""
    from stemsim.classifiers.progress import tracked

    items = [3, 1, 2]
    assert tracked(items, "features", 3) is items  # piped/tested stderr: untouched
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("TTY_COMPATIBLE", "1")
    monkeypatch.setenv("TTY_INTERACTIVE", "1")
    assert list(tracked(iter(items), "features", 3)) == items
