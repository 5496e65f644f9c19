"""The crystalline and calibrated modes of a dataset spec (issue #26): microscope.contrast,
object.lattice / lattice_constant, object.zone_axis / zone_axis_tilt; the zone-axis rotation
they draw; a spec without them is the dataset it always was (hash and bytes)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from cli_runner import run
from test_bad_specs import refused_by_generate_and_preview
from test_dataset import manifest, tree, write_spec

from stemsim.dataset import acquire, load_spec, plan, resolve, sample_parameters, sample_views
from stemsim.dataset.files import png_bytes
from stemsim.dataset.generate import MANIFEST_COLUMNS, render
from stemsim.dataset.parameters import ImageParameters
from stemsim.dataset.spec import hashed_spec, spec_hash
from stemsim.dataset.spec_schema import SPEC
from stemsim.dataset.store import open_dataset
from stemsim.errors import InputError
from stemsim.simulator import IMAGE_MODEL_VERSION
from stemsim.simulator.contrast import CONTRAST_MODELS
from stemsim.simulator.lattice import Lattice
from stemsim.simulator.rotation import rotation_matrices, zone_axis_rotation

NAN = float("nan")
ROOT = Path(__file__).resolve().parents[1]
BEAM = np.array([0.0, 0.0, 1.0])

# (change merged into test_bad_specs.BASE, the exact message after "stemsim: error: ")
BAD = [
    ({"microscope": {"contrast": "bogus"}},
     "microscope.contrast: expected one of linear, calibrated, crystalline, got 'bogus'"),
    ({"microscope": {"contrast": {"choice": ["linear"]}}},
     "microscope.contrast: expected one of linear, calibrated, crystalline, got {'choice': ['linear']}"),
    ({"object": {"lattice": "bct"}}, "object.lattice: expected one of auto, fcc, bcc, hcp, diamond, sc, amorphous, "
                                     "got 'bct'"),
    ({"object": {"lattice_constant": 5}},
     "object.lattice_constant: expected null (the element's) or a lattice constant in nm in [0.1, 2], got 5"),
    ({"object": {"lattice_constant": True}},
     "object.lattice_constant: expected null (the element's) or a lattice constant in nm in [0.1, 2], got true"),
    ({"object": {"lattice_constant": NAN}},
     "object.lattice_constant: expected null (the element's) or a lattice constant in nm in [0.1, 2], got nan"),
    ({"object": {"zone_axis": [0, 0, 0]}},
     "object.zone_axis: expected null or a crystal direction [u, v, w] (3 finite numbers, not all zero), got [0, 0, 0]"),
    ({"object": {"zone_axis": [1, 1]}},
     "object.zone_axis: expected null or a crystal direction [u, v, w] (3 finite numbers, not all zero), got [1, 1]"),
    ({"object": {"zone_axis": [1, NAN, 0]}},
     "object.zone_axis: expected null or a crystal direction [u, v, w] (3 finite numbers, not all zero), "
     "got [1, nan, 0]"),
    ({"object": {"zone_axis": "001"}},
     "object.zone_axis: expected null or a crystal direction [u, v, w] (3 finite numbers, not all zero), got '001'"),
    ({"object": {"zone_axis": [True, 0, 0]}},
     "object.zone_axis: expected null or a crystal direction [u, v, w] (3 finite numbers, not all zero), "
     "got [true, 0, 0]"),
    ({"object": {"zone_axis": [0, 0, 1], "zone_axis_tilt": -1}},
     "object.zone_axis_tilt: expected an rms angle in mrad in [0, 200], got -1"),
    ({"object": {"zone_axis": [0, 0, 1], "zone_axis_tilt": 500}},
     "object.zone_axis_tilt: expected an rms angle in mrad in [0, 200], got 500"),
    ({"object": {"zone_axis": [0, 0, 1], "zone_axis_tilt": {"uniform": [0, 5]}}},
     "object.zone_axis_tilt: expected an rms angle in mrad in [0, 200], got {'uniform': [0, 5]}"),
    # against the other keys
    ({"object": {"zone_axis_tilt": 5}}, "object.zone_axis_tilt: a mistilt of 5 mrad needs object.zone_axis (null here)"),
    ({"object": {"zone_axis": [1, 1, 0], "orientation": [1, 0, 0, 0]}},
     "object.orientation: must be random with object.zone_axis (the axis sets the orientation, the turn about the "
     "beam is drawn), got [1, 0, 0, 0]"),
    ({"object": {"zone_axis": [1, 1, 0], "lattice": "amorphous"}},
     "object.zone_axis: an amorphous lattice (object.lattice) has no zone axes"),
    ({"object": {"zone_axis": [1, 1, 0]}, "views": {"count": 3}},
     "views.mode: random views turn the particle off object.zone_axis: use tilt or jitter (about the zone axis), "
     "or one view"),
    ({"microscope": {"contrast": "crystalline", "rotation_during_scan": {"uniform": [0, 3]}}},
     "microscope.rotation_during_scan: must be 0 with microscope.contrast: crystalline (it images a static "
     "crystal), got {'uniform': [0, 3]}"),
    ({"object": {"material": {"choice": ["Au", "Ga"]}}, "microscope": {"contrast": "calibrated"}},
     "object.lattice: auto, but ASE has no crystal structure for Ga (orthorhombic), which microscope.contrast: "
     "calibrated needs: name one (fcc, bcc, hcp, diamond, sc, amorphous) and object.lattice_constant"),
    ({"object": {"material": "Hg", "zone_axis": [0, 0, 1]}},
     "object.lattice: auto, but ASE has no crystal structure for Hg (rhombohedral), which object.zone_axis needs: "
     "name one (fcc, bcc, hcp, diamond, sc, amorphous) and object.lattice_constant"),
    ({"object": {"material": 85, "lattice": "fcc"}, "microscope": {"contrast": "crystalline"}},
     "object.lattice_constant: ASE has no crystal structure for At (none) to take it from: give it, in nm"),
    ({"image": {"size": 2048, "pixel_size": 0.3}, "object": {"size": 150}, "microscope": {"contrast": "crystalline"}},
     "object.size: up to 150 nm may hold up to 540,796,390 atoms (its bounding sphere), more than the 10,000,000 "
     "of one particle of the crystalline contrast model"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(BAD)])
def test_bad_crystal_keys(change, message, tmp_path, capsys):
    refused_by_generate_and_preview(change, message, tmp_path, capsys)


def test_the_contrast_key_takes_the_registry():
    check = SPEC["microscope"].check.schema["contrast"].check
    for name in CONTRAST_MODELS:
        assert check("microscope.contrast", name) == name
    # a lattice named with its constant makes an element without ASE's structure usable
    spec = resolve({"name": "a", "label": "n_deformations", "object": {"material": "Ga", "lattice": "fcc",
                    "lattice_constant": 0.45, "zone_axis": [0, 0, 1]}, "microscope": {"contrast": "calibrated"}})
    assert spec["object"]["lattice_constant"] == 0.45


# ---- a spec without the new keys is what it was -------------------------------------------


QUICKSTART_HASH = "21388b49ce517bc9"  # spec_hash of configs/quickstart.yaml before these keys (image model 2)
QUICKSTART_FIRST_PNG = "ddaf7898946b74f9af4f45d9a2cabc0aeca9aa339a7f5b555c76bbfd04f7ab03"  # its image 0, likewise


def test_defaults_leave_the_hash_and_the_image_unchanged():
    spec = load_spec(ROOT / "configs" / "quickstart.yaml")
    assert "contrast" in spec["microscope"] and spec["object"]["zone_axis"] is None
    # the added keys at their defaults do not enter the identity: the hash of the spec without them
    stripped = hashed_spec(spec)
    assert "contrast" not in stripped["microscope"] and "lattice" not in stripped["object"]
    assert "contrast" in spec["microscope"]  # the spec itself is left alone
    explicit = load_spec(ROOT / "configs" / "quickstart.yaml")
    explicit["object"].update(lattice="auto", lattice_constant=None, zone_axis=None, zone_axis_tilt=0)
    assert spec_hash(explicit) == spec_hash(spec)
    explicit["microscope"]["contrast"] = "calibrated"
    assert spec_hash(explicit) != spec_hash(spec)
    image = png_bytes(render(acquire(sample_views(spec, plan(spec)[0])[0]), "uint8"))
    from stemsim import __version__

    if (__version__, IMAGE_MODEL_VERSION) == ("0.1.0", 2):  # what the pins were recorded with
        assert spec_hash(spec) == QUICKSTART_HASH
        assert hashlib.sha256(image).hexdigest() == QUICKSTART_FIRST_PNG


def test_a_default_manifest_keeps_its_columns_and_old_rows_read_as_linear():
    spec = load_spec(ROOT / "configs" / "quickstart.yaml")
    row = sample_parameters(spec, plan(spec)[0]).to_row()
    assert list(row) == MANIFEST_COLUMNS[len(MANIFEST_COLUMNS) - len(row):]  # no crystal columns
    again = ImageParameters.from_row({k: str(v) for k, v in row.items()})
    assert (again.contrast, again.lattice, again.lattice_constant) == ("linear", "auto", None)
    assert again == sample_parameters(spec, plan(spec)[0])


# ---- the zone-axis rotation -------------------------------------------------------------


@pytest.mark.parametrize("direction", [[0, 0, 1], [0, 0, -1], [1, 0, 0], [1, 1, 0], [1, 1, 1], [2, -1, 5],
                                       [1e-9, 0, -1], [0.3, 0.2, 0.1]])
def test_the_beam_runs_along_the_zone_axis(direction):
    rng = np.random.default_rng(5)
    for _ in range(20):
        matrix = rotation_matrices(zone_axis_rotation(direction, rng))
        assert np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-14)
        unit = np.asarray(direction, float) / np.linalg.norm(direction)
        assert np.abs(matrix.T @ BEAM - unit).max() < 1e-14


def test_the_turn_about_the_beam_is_uniform_and_the_mistilt_has_its_rms():
    rng = np.random.default_rng(11)
    axis = np.array([1.0, 1.0, 0.0]) / np.sqrt(2)
    sigma = 4.0  # mrad
    angles, azimuths = [], []
    for _ in range(4000):
        matrix = rotation_matrices(zone_axis_rotation(axis, rng, sigma))
        angles.append(np.arccos(np.clip(matrix.T @ BEAM @ axis, -1, 1)) * 1e3)
        x = matrix @ np.array([0.0, 0.0, 1.0])  # the shape's z, perpendicular to [110]: where it points in the plane
        azimuths.append(np.arctan2(x[1], x[0]))
    angles = np.array(angles)
    # |θ|² / σ² is chi-square with 2 degrees of freedom: mean 2, sd 2; 4000 draws: 1.6 % rms on the mean
    assert np.mean(angles**2) == pytest.approx(2 * sigma**2, rel=0.06)
    assert np.mean(angles**2) != pytest.approx(2 * sigma**2, rel=1e-6)  # drawn, not a constant
    # the turn about the beam: uniform azimuth (first circular moments ~ 0 within 4/sqrt(n))
    assert abs(np.mean(np.cos(azimuths))) < 0.07 and abs(np.mean(np.sin(azimuths))) < 0.07
    counts, _ = np.histogram(azimuths, bins=8, range=(-np.pi, np.pi))
    assert counts.min() > 400


def test_the_zone_axis_rotation_is_the_generator_s():
    first = zone_axis_rotation([1, 1, 0], np.random.default_rng(3), 2.0)
    assert first == zone_axis_rotation([1, 1, 0], np.random.default_rng(3), 2.0)
    assert first != zone_axis_rotation([1, 1, 0], np.random.default_rng(4), 2.0)
    # three draws whatever the tilt: what follows in the stream is the same
    a, b = np.random.default_rng(9), np.random.default_rng(9)
    zone_axis_rotation([0, 0, 1], a, 0.0)
    zone_axis_rotation([0, 0, 1], b, 7.0)
    assert a.random() == b.random()
    with pytest.raises(ValueError, match=r"^zone_axis: expected a non-zero finite 3-vector, got \[0, 0, 0\]$"):
        zone_axis_rotation([0, 0, 0], a)
    with pytest.raises(ValueError, match=r"^zone_axis_tilt: expected an rms angle >= 0 mrad, got -1.0$"):
        zone_axis_rotation([0, 0, 1], a, -1.0)


def test_a_hexagonal_zone_axis_is_a_direction_of_its_cell():
    spec = resolve({"name": "mg", "label": "n_deformations", "object": {"material": "Mg", "zone_axis": [1, 1, 0]}})
    cell = Lattice.for_element("Mg").cell
    direction = np.array([1.0, 1.0, 0.0]) @ cell  # a1 + a2: 60° from x, in the basal plane
    for item in plan(spec)[:4]:
        p = sample_parameters(spec, item)
        beam = rotation_matrices(np.quaternion(p.qw, p.qx, p.qy, p.qz)).T @ BEAM
        assert np.abs(beam - direction / np.linalg.norm(direction)).max() < 1e-12


def test_a_tilt_series_starts_from_the_zone_axis():
    spec = resolve({"name": "t", "label": "n_deformations", "object": {"zone_axis": [0, 1, 1]},
                    "views": {"count": 3, "mode": "tilt", "tilt": {"range": [-20, 20]}}})
    views = sample_views(spec, plan(spec)[0])
    beams = [rotation_matrices(np.quaternion(v.qw, v.qx, v.qy, v.qz)).T @ BEAM for v in views]
    assert np.abs(beams[1] - np.array([0, 1, 1]) / np.sqrt(2)).max() < 1e-12  # the 0° view
    assert all(np.degrees(np.arccos(b @ beams[1])) == pytest.approx(20) for b in (beams[0], beams[2]))


# ---- datasets of the new contrast models -------------------------------------------------


def small(contrast: str, **obj) -> dict:
    return {"name": f"small-{contrast}", "seed": 4, "label": "n_deformations", "image": {"size": 64, "pixel_size": 0.15},
            "classes": {"values": [0, 1], "per_class": 2}, "splits": {"train": 0.5, "test": 0.5},
            "object": {"size": {"uniform": [3, 4]}, **obj}, "microscope": {"contrast": contrast, "dose": 2e4}}


def test_a_crystalline_dataset_on_its_zone_axis(tmp_path):
    path = write_spec(tmp_path, small("crystalline", zone_axis=[0, 0, 1]))
    first, second = tmp_path / "first", tmp_path / "second"
    assert run("generate", path, "--out", first) == 0
    assert run("generate", path, "--out", second, "--jobs", "2") == 0
    assert tree(first) == tree(second)  # byte-reproducible
    rows = manifest(first)
    assert len(rows) == 4 and {r["contrast"] for r in rows} == {"crystalline"} and rows[0]["lattice"] == "auto"
    for row in rows:  # each particle on [001], the cube's own z
        q = np.quaternion(*(float(row[k]) for k in ("qw", "qx", "qy", "qz")))
        assert np.abs(rotation_matrices(q).T @ BEAM - BEAM).max() < 1e-12
    # the manifest row regenerates the stored image, the crystalline model included
    store = open_dataset(first)
    for split in ("train", "test"):
        for truth, ident in ((gt, i) for gt in store.ground_truth(split, ["images", "columns"]) for i in gt["ids"]):
            index = truth["ids"].index(ident)
            row = next(r for r in rows if r["id"] == ident)
            assert np.array_equal(render(acquire(row), "uint8"), truth["images"][index])
            columns = truth["columns"][index]
            assert columns.dtype == np.float32 and columns.shape[1] == 4 and len(columns) > 20
            assert np.array_equal(columns, acquire(row).columns)
            assert np.all((columns[:, :2] > -1) & (columns[:, :2] < 64)) and columns[:, 2].min() >= 1


def test_a_calibrated_dataset_and_columns_only_where_they_are(tmp_path, capsys):
    spec = resolve(small("calibrated", zone_axis=[1, 1, 0], zone_axis_tilt=3.0))
    linear = resolve(small("linear", zone_axis=[1, 1, 0], zone_axis_tilt=3.0))
    item = plan(spec)[0]
    made = acquire(sample_parameters(spec, item))
    assert made.columns is None
    assert np.array_equal(made.image, acquire(sample_parameters(spec, item)).image)  # reproducible
    # the same particle, orientation and noise stream, another contrast: another image
    assert sample_parameters(linear, item).qw == sample_parameters(spec, item).qw
    assert not np.array_equal(made.image, acquire(sample_parameters(linear, item)).image)
    out = tmp_path / "calibrated"
    assert run("generate", write_spec(tmp_path, small("calibrated", zone_axis=[1, 1, 0])), "--out", out) == 0
    assert {r["contrast"] for r in manifest(out)} == {"calibrated"}
    capsys.readouterr()
    assert run("info", out) == 0 and "contrast calibrated" in capsys.readouterr().out
    with pytest.raises(InputError, match="holds no atomic columns"):
        next(open_dataset(out).ground_truth("train", ["columns"]))


def test_the_crystalline_example_config_is_valid():
    spec = load_spec(ROOT / "configs" / "crystalline.yaml")
    assert spec["microscope"]["contrast"] == "crystalline" and spec["object"]["zone_axis"] is not None


def test_the_columns_of_a_tilt_series_are_read_per_view(tmp_path):
    spec = {**small("crystalline", zone_axis=[0, 1, 1]), "classes": {"values": [0], "per_class": 2},
            "splits": {"train": 1.0}, "views": {"count": 2, "mode": "tilt", "tilt": {"range": [0, 5]}}}
    out = tmp_path / "views"
    assert run("generate", write_spec(tmp_path, spec), "--out", out) == 0
    rows = {(r["object_id"], int(r["view"])): r for r in manifest(out)}
    with np.load(out / "arrays" / "train-00000.npz") as archive:
        assert archive["column_counts"].shape == (2, 2)
    seen = 0
    for truth in open_dataset(out).ground_truth("train", ["columns"]):
        for ident, columns in zip(truth["ids"], truth["columns"]):
            obj, view = ident.split("/view_")
            assert np.array_equal(columns, acquire(rows[obj, int(view)]).columns)
            seen += 1
    assert seen == 4
    # on [011] the atoms stand in columns; 5° off it, each alone
    counts = {view: len(acquire(rows["0000000", view]).columns) for view in (0, 1)}
    assert counts[0] < counts[1] / 3
