"""The one shape registry (stemsim.simulator.shapes.REGISTRY): every simulated shape can be generated."""

import math

import numpy as np
import pytest

from stemsim.simulator import Ellipsoid, Microscope, Particle, Scene
from stemsim.simulator.shapes import REGISTRY, SHAPE_NAMES, build_shape
from stemsim.dataset import acquire, plan, resolve, sample_parameters
from stemsim.dataset.parameters import ImageParameters
from stemsim.dataset.spec import DEFAULTS
from stemsim.errors import InputError

SPEC = {"name": "rods", "label": "shape", "classes": {"values": ["ellipsoid", "sphere"], "per_class": 3},
        "object": {"size": 4.0, "aspect": {"uniform": [1.0, 2.5]}}, "image": {"size": 128},
        "support": None, "microscope": {"dose": None}}


def test_every_shape_class_is_in_the_registry_and_builds():
    simulated = {kind.cls for kind in REGISTRY.values()}
    assert {cls for cls in simulated} >= {type(build_shape(name, 5.0)) for name in SHAPE_NAMES}
    for name, kind in REGISTRY.items():
        shape = build_shape(name, 5.0, 1.5, 2.0)
        assert isinstance(shape, kind.cls)
        assert shape.n_sites == kind.sites, name
    assert DEFAULTS["object"]["shape"] in SHAPE_NAMES


def test_the_ellipsoid_takes_its_semi_axes_from_size_and_aspect():
    shape = build_shape("ellipsoid", 4.0, 1.5, 2.5)
    assert (shape.a, shape.b, shape.c) == (2.0, 3.0, 5.0)  # diameters size, aspect_b·size, aspect_c·size
    assert shape.base_volume == pytest.approx(4 / 3 * math.pi * 2.0 * 3.0 * 5.0)


def test_a_spec_with_ellipsoids_generates_and_its_thickness_is_the_volume():
    spec = resolve(SPEC)
    rows = [sample_parameters(spec, item) for item in plan(spec)]
    rods = [row for row in rows if row.shape == "ellipsoid"]
    assert len(rods) == 3 and len({(row.aspect_b, row.aspect_c) for row in rods}) == 3  # drawn apart, each
    for row in rods:
        assert row.n_deformed == 0 and row.configuration is None and row.deformation_kind is None
        measurement = acquire(row)
        a, b, c = row.size / 2, row.aspect_b * row.size / 2, row.aspect_c * row.size / 2
        volume = measurement.thickness.sum() * row.pixel_size**2
        assert volume == pytest.approx(4 / 3 * math.pi * a * b * c, rel=0.005)  # docs/simulator.md: tests < 0.5 %
        # the manifest row regenerates the same image
        again = acquire(ImageParameters.from_row({k: str(v) for k, v in row.to_row().items()}))
        np.testing.assert_array_equal(again.image, measurement.image)


def test_the_generator_writes_an_ellipsoid_dataset(tmp_path):
    from stemsim.dataset import generate

    spec = resolve({**SPEC, "output": {"formats": ["npz"]}})
    summary = generate(spec, tmp_path / "rods")
    assert sum(summary.counts.values()) == 6
    shard = np.load(next((tmp_path / "rods" / "arrays").glob("train-*.npz")))
    assert np.isnan(shard["vertices"][list(shard["classes"]).index("ellipsoid") == shard["labels"]]).all()


def test_same_thickness_as_the_simulator_class():
    spec = resolve(SPEC)
    row = next(r for r in (sample_parameters(spec, i) for i in plan(spec)) if r.shape == "ellipsoid")
    microscope = Microscope(pixel_size=row.pixel_size, size=row.image_size)
    particle = Particle(Ellipsoid(row.size / 2, row.aspect_b * row.size / 2, row.aspect_c * row.size / 2), "Au",
                        np.quaternion(row.qw, row.qx, row.qy, row.qz), (row.offset_x, row.offset_y))
    thickness = microscope.acquire(Scene([particle]), np.random.default_rng(0)).thickness
    np.testing.assert_allclose(acquire(row).thickness, thickness)


@pytest.mark.parametrize("change", [
    {"label": "deformed", "object": {"shape": "ellipsoid"}, "classes": {}},
    {"label": "configuration", "object": {"shape": "ellipsoid", "deformation": {"count": 1}}, "classes": {}},
    {"object": {"size": 4.0, "deformation": {"count": 1}}},
])
def test_an_ellipsoid_takes_no_deformation(change):
    with pytest.raises(InputError, match="an ellipsoid has no vertices to deform"):
        resolve({**SPEC, **change})
