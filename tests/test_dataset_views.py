"""Multi-view datasets (``views:``): several images of one object, with its labels and split."""

import csv

import numpy as np
import pytest
import quaternion
from cli_runner import run
from PIL import Image
from test_dataset import generate_once, tree

from stemsim.simulator.rotation import axis_angle
from stemsim.dataset import acquire, plan, resolve, sample_parameters, sample_views
from stemsim.dataset.generate import render

MULTIVIEW = {
    "name": "views",
    "seed": 11,
    "image": {"size": 32, "pixel_size": 0.6},
    "label": "n_deformations",
    "classes": {"values": [0, 3], "per_class": 5},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "object": {"shape": "cuboid", "size": {"uniform": [6, 9]}},
    "microscope": {"dose": 2.0e3, "z_exponent": {"uniform": [1.5, 1.8]}, "rotation_during_scan": {"uniform": [0, 5]}},
    "views": {"count": 3, "mode": "tilt", "tilt": {"range": [-40, 40]}},
    "output": {"formats": ["png", "npz"], "shard_size": 7},
}
OBJECT_KEYS = ("object_seed", "shape", "size", "aspect_b", "aspect_c", "material", "offset_x", "offset_y",
               "deformed_vertices", "configuration", "depth")


def relative_angle(p: np.quaternion, q: np.quaternion) -> float:
    """The angle (degrees) of the rotation taking orientation ``q`` to ``p``."""
    return float(np.rad2deg(np.linalg.norm(quaternion.as_rotation_vector(p * q.conjugate()))))


def orientation(row: dict) -> np.quaternion:
    return np.quaternion(*(float(row[k]) for k in ("qw", "qx", "qy", "qz")))


@pytest.fixture(scope="module")
def multiview_dataset(tmp_path_factory):
    return generate_once(tmp_path_factory, MULTIVIEW, "views")


def test_views_share_object_labels_and_split(multiview_dataset):
    _, out = multiview_dataset
    with (out / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 2 * 5 * 3
    objects: dict[str, list[dict]] = {}
    for row in rows:
        objects.setdefault(row["object_id"], []).append(row)
    assert len(objects) == 10
    for object_id, views in objects.items():
        assert [int(v["view"]) for v in views] == [0, 1, 2]
        assert [v["id"] for v in views] == [f"{object_id}-{k:02d}" for k in range(3)]
        for key in ("split", "label", "label_index", "n_deformed", *OBJECT_KEYS):
            assert len({v[key] for v in views}) == 1, key
        assert len({v["seed"] for v in views}) == 3  # each view its own noise
        assert [v["path"] for v in views] == [f"{views[0]['split']}/{views[0]['label']}/{object_id}/view_{k}.png"
                                              for k in range(3)]
        # views.microscope: object — one draw of the settings, the motion during each scan its own
        assert len({v["z_exponent"] for v in views}) == 1
        assert len({v["rotation_angle"] for v in views}) == 3


def test_shards_hold_objects_by_views(multiview_dataset):
    _, out = multiview_dataset
    with (out / "manifest.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    row = rows[4]  # object 1, view 1
    shard = np.load(out / row["shard"])
    assert shard["images"].shape[1:] == (3, 32, 32)
    assert shard["thickness"].shape == shard["images"].shape
    assert shard["vertices"].shape[1:] == (3, 8, 3)
    assert len(shard["ids"]) == len(shard["labels"]) == shard["images"].shape[0] <= 7 // 3
    position, view = int(row["shard_index"]), int(row["view"])
    assert shard["ids"][position] == row["object_id"]
    image = render(acquire(row), "uint8")  # a view's manifest row regenerates it alone
    np.testing.assert_array_equal(image, shard["images"][position, view])
    np.testing.assert_array_equal(image, np.asarray(Image.open(out / row["path"])))


def test_multiview_bytes_are_the_same_for_any_number_of_jobs(multiview_dataset, tmp_path):
    spec, one = multiview_dataset
    assert run("generate", spec, "--out", tmp_path / "two", "--jobs", 2) == 0
    assert tree(one) == tree(tmp_path / "two")


def test_a_tilt_series_turns_by_the_step_about_the_axis():
    spec = resolve({**MULTIVIEW, "views": {"count": 5, "mode": "tilt",
                                           "tilt": {"axis": [1, 0, 0], "range": [-60, 60], "step": 20}}})
    views = sample_views(spec, plan(spec)[0])
    step = axis_angle([1, 0, 0], 20)
    for before, after in zip(views, views[1:]):
        turn = orientation(after) * orientation(before).conjugate()
        assert min(abs(relative_angle(turn, step)), abs(relative_angle(-turn, step))) < 1e-6
    # the object's own orientation sits at tilt 0, between views 2 and 3 (−20°, 0°, ...)
    base = sample_parameters(spec, plan(spec)[0])
    assert relative_angle(orientation(views[3]), orientation(base)) == pytest.approx(0, abs=1e-6)


def test_jitter_stays_near_one_orientation_and_random_does_not():
    def mean_pair_angle(views_spec):
        spec = resolve({**MULTIVIEW, "views": views_spec})
        angles = []
        for item in plan(spec):
            qs = [orientation(v) for v in sample_views(spec, item)]
            angles += [min(relative_angle(p, q), 360 - relative_angle(p, q)) for i, p in enumerate(qs) for q in qs[i + 1:]]
        return np.mean(angles)

    jitter = mean_pair_angle({"count": 4, "mode": "jitter", "jitter": 3.0})
    assert 1.0 < jitter < 10.0  # two independent 3° rms turns: about 3·√2·0.8 ≈ 3.4°
    assert mean_pair_angle({"count": 4, "mode": "random"}) > 90  # uniform SO(3): mean ≈ 126°


def test_views_microscope_view_redraws_the_settings():
    spec = resolve({**MULTIVIEW, "views": {"count": 4, "mode": "random", "microscope": "view"}})
    views = sample_views(spec, plan(spec)[0])
    assert len({v["z_exponent"] for v in views}) == 4
    assert len({v["size"] for v in views}) == 1


def test_one_view_is_the_plain_dataset():
    spec = resolve({**MULTIVIEW, "views": {"count": 1, "mode": "tilt"}})
    item = plan(spec)[3]
    assert sample_views(spec, item) == [sample_parameters(spec, item)]
