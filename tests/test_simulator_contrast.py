"""Contrast models: the registry, and the multislice-calibrated thickness laws (#26 §2)."""

import json
from pathlib import Path

import numpy as np
import pytest

from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, ScanDistortion, ScanRotation, Scene, axis_angle
from stemsim.simulator.contrast import CONTRAST_MODELS, laws
from stemsim.simulator.contrast.laws import (ThicknessLaw, carbon_law, law_for, law_table_from_results,
                                             load_law_table, orientation_class, orientation_classes)
from stemsim.simulator.lattice import Lattice
from stemsim.simulator.rotation import rotation_matrices

RESULTS = Path(__file__).resolve().parents[1] / "results" / "fidelity" / "thickness_law.json"
GOLD = Lattice.for_element("Au")


def rng(seed=0):
    return np.random.default_rng(seed)


def matrix(axis, angle_deg):
    return rotation_matrices(np.array([axis_angle(axis, angle_deg)]))[0]


def slab_signal(material="Au", orientation=(1, 0, 0, 0), c=2.0, probe=Probe(), **kwargs):
    """Noise-free signal and thickness of a slab far larger than the 9.6 nm field."""
    microscope = Microscope(size=64, contrast="calibrated", probe=probe, **kwargs)
    measurement = microscope.acquire(Scene(Particle(Cuboid(60.0, 60.0, c), material, orientation)), rng())
    return measurement.signal.astype(np.float64), measurement.thickness.astype(np.float64)


# --- the shipped table ----------------------------------------------------------------------------

def test_the_shipped_table_is_the_results_files_laws():
    results = json.loads(RESULTS.read_text())
    shipped = load_law_table()
    assert shipped["laws"] == results["laws"] and shipped["laws_doc"] == results["laws_doc"]
    assert shipped == json.loads(json.dumps(law_table_from_results(results)))  # regenerating changes nothing


def _doc_formula(law: dict, t):
    """I(t) as ``laws_doc`` writes it, independently of the module's registry."""
    form = law["form"]
    if form == "power":
        return law["a"] * t ** law["b"]
    if form == "channelling":
        return t * (law["c_inf"] + (law["c0"] - law["c_inf"] + law["g"] * t) * np.exp(-t / law["tau_nm"]))
    if form == "relaxing":
        return t * (law["c_inf"] + (law["c0"] - law["c_inf"]) * np.exp(-t / law["tau_nm"]))
    if form == "saturating":
        return law["a"] * law["lambda_nm"] * (1 - np.exp(-t / law["lambda_nm"]))
    return t * np.interp(t, law["t_nm"], law["i_per_nm"])


@pytest.mark.parametrize("key", ["Au/off_axis", "Au/001", "Au/011", "Pt/off_axis", "Pt/001", "Pt/011", "C/amorphous"])
def test_every_shipped_law_is_its_formula_inside_the_measured_range(key):
    element, name = key.split("/")
    entry = load_law_table()["laws"][element][name]
    law = law_for(element, name)
    t = np.linspace(*entry["valid_nm"], 7)
    np.testing.assert_allclose(law(t), _doc_formula(entry, t), rtol=1e-12)
    np.testing.assert_allclose(law.per_nm(t), _doc_formula(entry, t) / t, rtol=1e-12)


@pytest.mark.parametrize("entry", [
    {"form": "saturating", "a": 0.01, "lambda_nm": 12.0, "valid_nm": [0.5, 20.0]},
    {"form": "relaxing", "c0": 0.006, "c_inf": 0.011, "tau_nm": 2.5, "valid_nm": [0.5, 20.0]},
])
def test_the_forms_not_shipped_are_their_formulas(entry):
    law = ThicknessLaw.from_entry(entry)
    t = np.array([0.5, 1.0, 3.7, 20.0])
    np.testing.assert_allclose(law(t), _doc_formula(entry, t), rtol=1e-12)


def test_below_the_measured_range_i_over_t_is_held_and_beyond_it_tables_hold_and_formulas_continue():
    for law in (law_for("Au", "off_axis"), law_for("Au", "011"), carbon_law()):
        low, high = law.valid_nm
        assert law(0.0) == 0.0 and law.per_nm(0.0) == pytest.approx(law.per_nm(low), rel=1e-12)
        np.testing.assert_allclose(law([low / 4, low / 2]), np.array([low / 4, low / 2]) * law.per_nm(low), rtol=1e-12)
    table = law_for("Au", "011")
    assert table.per_nm(40.0) == pytest.approx(table.per_nm(table.valid_nm[1]), rel=1e-12)
    entry = load_law_table()["laws"]["Au"]["001"]
    assert law_for("Au", "001")(35.0) == pytest.approx(_doc_formula(entry, 35.0), rel=1e-12)
    with pytest.raises(ValueError, match="thickness"):
        table([1.0, -0.1])


def test_bad_laws_name_their_key():
    with pytest.raises(ValueError, match="form"):
        ThicknessLaw("cubic", (), (0.5, 20.0))
    with pytest.raises(ValueError, match="parameters"):
        ThicknessLaw("power", (("a", 1.0),), (0.5, 20.0))
    with pytest.raises(ValueError, match="orientation_class"):
        law_for("Au", "111")


# --- which law -----------------------------------------------------------------------------------

@pytest.mark.parametrize("axis, angle_deg, expected", [
    ((1, 0, 0), 0.0, "001"),
    ((0, 0, 1), 37.0, "001"),                        # a turn about the beam keeps the zone axis
    ((0, 1, 0), 90.0, "001"),                        # [100] along the beam
    ((1, 0, 0), np.rad2deg(9.9e-3), "001"),          # inside the 10 mrad tolerance
    ((1, 0, 0), np.rad2deg(10.1e-3), "off_axis"),    # just outside it
    ((1, 0, 0), 45.0, "011"),
    ((0, 1, 0), -45.0, "011"),
    ((1, 0, 0), 45.0 + np.rad2deg(9.9e-3), "011"),
    ((1, 0, 0), 45.0 + np.rad2deg(10.1e-3), "off_axis"),
    ((1, 2, 3), 20.0, "off_axis"),
    ((1, 0, 0), 17.0, "off_axis"),
])
def test_orientation_class_of_a_cubic_crystal(axis, angle_deg, expected):
    assert orientation_class(matrix(axis, angle_deg), GOLD) == expected


def test_orientation_class_tolerance_and_non_cubic_lattices():
    tilted = matrix((1, 0, 0), np.rad2deg(30e-3))
    assert orientation_class(tilted, GOLD) == "off_axis"
    assert orientation_class(tilted, GOLD, tolerance_mrad=31.0) == "001"
    assert orientation_class(np.eye(3), Lattice.for_element("Mg")) == "off_axis"  # hcp
    assert orientation_class(np.eye(3), Lattice.for_element("Au", "amorphous")) == "off_axis"
    with pytest.raises(ValueError, match="rotation"):
        orientation_class(np.eye(2), GOLD)


def test_a_batch_of_rotations_is_classed_as_each_one_alone():
    edges = [matrix((1, 0, 0), np.rad2deg(angle)) for angle in (9.99e-3, 10.01e-3, np.pi / 4 - 9.99e-3, np.pi / 4 - 10.01e-3)]
    randoms = [matrix(axis, angle) for axis, angle in zip(rng(5).normal(size=(60, 3)), rng(6).uniform(0, 180, 60))]
    near = [matrix(axis, angle) for axis, angle in zip(rng(7).normal(size=(40, 3)), rng(8).uniform(0, 1.2, 40))]
    batch = np.array(edges + randoms + near + [matrix((0, 1, 0), 45.3)])
    alone = [orientation_class(r, GOLD) for r in batch]
    assert orientation_classes(batch, GOLD) == alone
    assert set(alone) == {"001", "011", "off_axis"} and alone[:4] == ["001", "off_axis", "011", "off_axis"]


@pytest.mark.parametrize("n", [1.5, 1.7])
def test_an_untabulated_element_is_gold_off_axis_scaled_by_z_n_and_density(n):
    gold = law_for("Au", "off_axis")
    silver_density = Lattice.for_element("Ag").number_density
    scale = (47 / 79) ** n * silver_density / load_law_table()["laws"]["Au"]["number_density_per_nm3"]
    t = np.array([0.0, 0.3, 2.0, 11.0, 30.0])
    for name in ("off_axis", "001", "011"):  # no zone-axis law for untabulated elements
        np.testing.assert_allclose(law_for("Ag", name, n)(t), scale * gold(t), rtol=1e-12)
    assert law_for("C", "001") == carbon_law() == laws.CARBON  # carbon has its amorphous law only
    assert law_for("Pt", "011").form == "table"


# --- the contrast model in the microscope -----------------------------------------------------------

def test_the_default_contrast_is_linear_to_the_byte():
    scene = Scene(Particle(Cuboid(4.0), "Au", axis_angle((1, 1, 0), 30)), support=CarbonFilm(3.0, 0.5))
    kwargs = dict(size=48, dose=2e3, scan=ScanDistortion(jitter=0.3))
    default = Microscope(**kwargs).acquire(scene, rng(4))
    linear = Microscope(contrast="linear", **kwargs).acquire(scene, rng(4))
    assert default.image.tobytes() == linear.image.tobytes()
    assert default.signal.tobytes() == linear.signal.tobytes()


def test_an_unknown_contrast_names_contrast():
    with pytest.raises(ValueError, match="^contrast: .*calibrated"):
        Microscope(contrast="multislice")
    assert CONTRAST_MODELS["calibrated"].summary


@pytest.mark.parametrize("probe", [Probe(), Probe(0.1, tail_weight=0.1)])  # the tail: blur margins
def test_a_gold_slab_off_axis_scatters_the_off_axis_law(probe):
    signal, thickness = slab_signal(orientation=axis_angle((1, 0, 0), 17.0), probe=probe,
                                    scan=ScanDistortion(jitter=0.5))
    assert np.ptp(thickness) < 1e-5 and thickness[0, 0] == pytest.approx(2.0 / np.cos(np.deg2rad(17.0)), rel=1e-6)
    np.testing.assert_allclose(signal, law_for("Au", "off_axis")(thickness), rtol=1e-6)


def test_a_gold_slab_on_001_scatters_the_001_law_brighter_by_the_tables_ratio():
    on_axis, thickness = slab_signal()
    np.testing.assert_allclose(on_axis, law_for("Au", "001")(thickness), rtol=1e-6)
    tilt = axis_angle((1, 0, 0), 17.0)
    off_axis, _ = slab_signal(orientation=tilt, c=2.0 * np.cos(np.deg2rad(17.0)))  # also 2 nm along the beam
    ratio = law_for("Au", "001")(2.0) / law_for("Au", "off_axis")(2.0)
    assert ratio > 1.5  # channelling on the zone axis
    np.testing.assert_allclose(on_axis / off_axis, ratio, rtol=1e-5)


def test_an_untabulated_slab_scales_as_documented_and_ignores_scattering():
    signal, thickness = slab_signal("Ag", z_exponent=1.6, scattering=3e-5)
    np.testing.assert_allclose(signal, law_for("Ag", "001", 1.6)(thickness), rtol=1e-6)
    np.testing.assert_allclose(signal, law_for("Au", "off_axis")(thickness) * law_for("Ag", z_exponent=1.6).scale,
                               rtol=1e-6)


def test_a_turning_slab_takes_each_scan_lines_law():
    # 0 -> 45 degrees about x over the frame: [001] first, off axis, then [011] on the last lines
    turning = ScanRotation((1, 0, 0), 45.0)
    microscope = Microscope(size=64, contrast="calibrated", probe=Probe(0.0))
    particle = Particle(Cuboid(60.0, 60.0, 2.0), "Au", rotation_during_scan=turning)
    measurement = microscope.acquire(Scene(particle), rng())
    lines = particle.line_rotations(64)
    expected = [law_for("Au", orientation_class(r, GOLD))(measurement.thickness[i].astype(np.float64))
                for i, r in enumerate(lines)]
    classes = [orientation_class(r, GOLD) for r in lines]
    assert classes[0] == "001" and classes[-1] == "011" and "off_axis" in classes
    np.testing.assert_allclose(measurement.signal, np.array(expected), rtol=1e-6, atol=1e-9)


def test_overlapping_particles_add_their_laws_and_the_support_takes_the_carbon_law():
    microscope = Microscope(size=48, contrast="calibrated", probe=Probe(0.0))
    tilt = axis_angle((1, 0, 0), 17.0)
    slabs = [Particle(Cuboid(60.0, 60.0, c), "Au", tilt) for c in (1.0, 3.0)]
    both = microscope.acquire(Scene(slabs, support=CarbonFilm(4.0, roughness=0.0)), rng()).signal
    t = np.array([1.0, 3.0]) / np.cos(np.deg2rad(17.0))
    expected = law_for("Au", "off_axis")(t).sum() + carbon_law()(4.0)
    np.testing.assert_allclose(both, expected, rtol=1e-6)


def test_calibrated_images_are_reproducible():
    scene = Scene([Particle(Cuboid(5.0), "Au", axis_angle((1, 2, 0), 25), (1.0, -0.5)),
                   Particle(Cuboid(3.0), "Pd", rotation_during_scan=ScanRotation((0, 1, 0), 10.0))],
                  support=CarbonFilm(3.0, 0.5))
    microscope = Microscope(size=48, contrast="calibrated", dose=5e3, scan=ScanDistortion(jitter=0.2))
    first, again, other = (microscope.acquire(scene, rng(seed)) for seed in (7, 7, 8))
    assert first.image.tobytes() == again.image.tobytes() and first.signal.tobytes() == again.signal.tobytes()
    assert first.image.tobytes() != other.image.tobytes()
    assert first.signal.max() > 0.02  # several nm of gold off axis: I(5 nm) ~ 0.036
