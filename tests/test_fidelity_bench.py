"""The particle references (results/fidelity/particles) and the fidelity bench (#26 §4).

The stored abTEM images need no abTEM here: each file is checked for its keys and values, its
scan grid against stemsim's own ``Microscope.beam_positions``, and its atoms against the stemsim
solid rebuilt from the stored shape name, size, truncation and orientation (membership written
out here from ``shape.pieces()``, not the reference builder's code).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from stemsim.benchmarks import fidelity
from stemsim.simulator.microscope import Microscope

CASES_DIR = fidelity.CASES_DIR
NAMES = fidelity.case_names(CASES_DIR) if CASES_DIR.exists() else []
needs_cases = pytest.mark.skipif(not NAMES, reason="no stored particle references")


@pytest.fixture(scope="module", params=NAMES or [None])
def case(request):
    if request.param is None:
        pytest.skip("no stored particle references")
    return fidelity.load_case(CASES_DIR / f"{request.param}.npz")


@needs_cases
def test_index_lists_every_stored_case_with_its_settings():
    index = json.loads((CASES_DIR / "cases.json").read_text())
    assert {c["name"] for c in index["cases"]} == set(NAMES)
    assert index["settings"]["detector_mrad"] == [70.0, 200.0] and index["settings"]["energy_eV"] == 200e3
    assert len(NAMES) == len(set(NAMES))


def test_case_file_has_the_keys_and_a_physical_image(case):
    assert set(fidelity.KEYS) <= set(case)
    image = case["image"]
    assert image.dtype == np.float64 and image.shape == tuple(case["size"])
    assert np.all(np.isfinite(image)) and image.min() >= 0 and image.max() < 1  # fraction of the beam
    configs = case["image_configs"]
    assert configs.shape[1:] == image.shape and np.allclose(configs.mean(0), image)
    assert image.max() > 5 * np.median(image[0])  # the particle stands out of the frame's edge
    settings = json.loads(case["settings_json"])
    # 0.04 Å reads the HAADF signal 9-12 % high (fidelity_particles' docstring): 0.02 Å converges
    assert settings["sampling_A"] <= 0.02 and settings["semiangle_mrad"] == 20.0
    assert case["wall_s"] > 0


def test_scan_positions_are_stemsims_pixel_centres(case):
    xs, ys = Microscope(pixel_size=float(case["pixel_size"]), size=tuple(int(s) for s in case["size"])).beam_positions()
    np.testing.assert_allclose(case["beam_x"], xs, atol=1e-12)
    np.testing.assert_allclose(case["beam_y"], ys, atol=1e-12)


def _inside(shape, points, tolerance=1e-6):
    added = np.zeros(len(points), bool)
    removed = np.zeros(len(points), bool)
    for piece in shape.pieces():
        inside = np.all(points @ piece.planes[:, :3].T <= piece.planes[:, 3] + tolerance, axis=1)
        if piece.quadric is not None:
            u = points - piece.quadric[0]
            inside &= np.einsum("ni,ij,nj->n", u, piece.quadric[1], u) <= 1 + tolerance
        if piece.sign > 0:
            added |= inside
        else:
            removed |= inside
    return added & ~removed


def test_atoms_lie_in_the_rebuilt_stemsim_solid(case):
    from stemsim.simulator.rotation import rotation_matrices

    scene, _ = fidelity.rebuild(case, fidelity.fit_probe(_probe())[0], "linear")
    particle = scene.particles[0]
    n = int(case["particle_atoms"])
    numbers, positions = case["numbers"], case["positions"]
    assert np.all(numbers[:n] == particle.z) and np.all(numbers[n:] == 6)
    rotation = rotation_matrices(particle.line_orientations(1))[0]  # the stored matrix, via the quaternion
    np.testing.assert_allclose(rotation, case["orientation"], atol=1e-9)
    local = positions[:n] @ rotation  # object frame
    assert np.all(_inside(particle.shape, local))
    # an fcc crystal of the stemsim lattice constant: no atom doubled, the bulk ones with 12 neighbours
    spacing = particle.crystal.a / np.sqrt(2)
    distance = np.linalg.norm(local[:, None] - local[None], axis=-1) + np.eye(n) * 1e9
    assert distance.min() == pytest.approx(spacing, rel=1e-6)
    assert (distance < spacing * 1.05).sum(1).max() == 12
    # the volume the atoms fill is the solid's, to the surface's share
    assert abs(n / particle.crystal.number_density / _volume(particle.shape) - 1) < 0.25
    if case["carbon_nm"] > 0:  # the film lies beyond the particle along the beam
        carbon = positions[n:]
        assert carbon[:, 2].min() > positions[:n, 2].max() - 0.2
        assert abs(np.ptp(carbon[:, 2]) - case["carbon_nm"]) < 0.1


def _volume(shape, samples=200_000):
    rng = np.random.default_rng(1)
    reach = shape.bounding_radius
    points = rng.uniform(-reach, reach, (samples, 3))
    return _inside(shape, points).mean() * (2 * reach) ** 3


def _probe():
    with np.load(CASES_DIR / "probe.npz", allow_pickle=False) as data:
        return {key: data[key] for key in data.files}


def test_r_squared_on_known_inputs():
    rng = np.random.default_rng(3)
    reference = rng.uniform(0, 1, (16, 12))
    assert fidelity.r_squared(reference, reference) == 1.0
    assert abs(fidelity.r_squared(reference, np.full_like(reference, reference.mean()))) < 1e-12
    assert fidelity.r_squared(reference, reference + 1.0) < 0  # a biased map is worse than the mean
    noise = rng.normal(0, 0.1, reference.shape)
    expected = 1 - (noise ** 2).sum() / ((reference - reference.mean()) ** 2).sum()
    assert fidelity.r_squared(reference, reference + noise) == pytest.approx(expected, rel=1e-12)
    with pytest.raises(ValueError, match="^reference:"):
        fidelity.r_squared(np.ones((4, 4)), np.ones((4, 4)))
    with pytest.raises(ValueError, match="^reference:"):
        fidelity.r_squared(reference, reference[:8])


def test_smoothing_keeps_the_mean_and_has_the_stated_width():
    image = np.zeros((41, 41))
    image[20, 20] = 1.0
    smoothed = fidelity.smooth(image, 0.05)
    assert smoothed.sum() == pytest.approx(1.0)
    x = (np.arange(41) - 20) * 0.05
    width = np.sqrt((smoothed.sum(0) * x ** 2).sum())
    assert width == pytest.approx(fidelity.SMOOTH_NM, rel=0.02)


def test_probe_fit_recovers_a_probe_of_its_own_form():
    r = np.linspace(0, 1.5, 15001)  # fine: the fit interpolates E(r) onto its own radii
    profile = {"r_nm": r, "encircled": fidelity._encircled(r, 0.08, 0.2, 0.15)}
    probe, fit = fidelity.fit_probe(profile)
    assert (probe.fwhm, probe.tail_weight, probe.tail_width) == pytest.approx((0.08, 0.2, 0.15), rel=1e-4)
    assert fit["max_encircled_error"] < 1e-5


@needs_cases
def test_bench_on_one_case_with_the_linear_model_writes_the_documented_json(tmp_path):
    name = NAMES[0]
    payload = fidelity.run(tmp_path, CASES_DIR, models=["linear"], cases=[name], repeats=1)
    written = json.loads((tmp_path / "fidelity.json").read_text())
    assert written == json.loads(json.dumps(payload))
    assert {"command", "definitions", "targets", "probe", "models", "cases", "summary"} <= set(written)
    entry = written["cases"][0]
    assert entry["name"] == name and set(entry["models"]) == {"linear"}
    scores = entry["models"]["linear"]
    assert set(fidelity.SCORE_KEYS) <= set(scores)
    assert scores["targets"] == {}  # linear has no target: it is the uncalibrated mode
    assert -1 < scores["r2"] < 1 and scores["r2_smoothed"] > scores["r2"] - 0.05
    assert scores["mean_ratio"] > 0 and scores["time_s"] > 0
    assert entry["multislice_wall_s"] > 0 and 0 < entry["r2_ceiling"] <= 1
    sampling = payload["cases"][0]["sampling_A"]
    assert (tmp_path / "fidelity.md").read_text().count(f"| {name} | {sampling:.2f} | linear |") == 1
    with pytest.raises(ValueError, match="^models:"):
        fidelity.run(tmp_path, CASES_DIR, models=["nonesuch"], cases=[name])
