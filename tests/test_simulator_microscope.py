"""Contrast, probe, noise, scan: the microscope's physics and its reproducibility."""

import numpy as np
import pytest

from stemsim.simulator import (CarbonFilm, Cuboid, Microscope, Particle, Probe, ScanDistortion, ScanRotation, Scene,
                       Sphere, axis_angle, random_rotation)
from stemsim.simulator.microscope import poisson_counts


def rng(seed=0):
    return np.random.default_rng(seed)


@pytest.mark.parametrize("n", [1.5, 1.7, 2.0])
def test_intensity_ratio_is_z_ratio_to_the_n(n):
    microscope = Microscope(pixel_size=0.1, size=64, z_exponent=n, probe=Probe(0.2))
    shape = Cuboid(3.0).truncate([2], 0.3)
    gold = microscope.acquire(Scene([Particle(shape, "Au")]), rng()).image.astype(np.float64)
    carbon = microscope.acquire(Scene([Particle(shape, "Si")]), rng()).image.astype(np.float64)
    inside = gold > gold.max() * 1e-3
    np.testing.assert_allclose(gold[inside] / carbon[inside], (79 / 14) ** n, rtol=1e-5)


def test_signal_is_scattering_times_z_n_thickness_without_blur():
    microscope = Microscope(pixel_size=0.1, size=64, probe=Probe(0.0), z_exponent=1.7)
    measurement = microscope.acquire(Scene([Particle(Sphere(2.0), "Pt")]), rng())
    np.testing.assert_allclose(measurement.signal, 1e-5 * 78**1.7 * measurement.thickness, rtol=1e-5, atol=1e-9)


def test_probe_blur_conserves_total_signal_and_has_the_set_width():
    fwhm = 0.6
    microscope = Microscope(pixel_size=0.05, size=128, probe=Probe(fwhm), z_exponent=2.0)
    sharp = Microscope(pixel_size=0.05, size=128, probe=Probe(0.0), z_exponent=2.0)
    scene = Scene([Particle(Sphere(0.02), "Au", position=(0.025, 0.025))])  # one pixel: the image is the probe
    blurred = microscope.acquire(scene, rng()).signal.astype(np.float64)
    assert blurred.sum() == pytest.approx(sharp.acquire(scene, rng()).signal.astype(np.float64).sum(), rel=1e-4)
    profile = blurred[64]
    above_half = np.flatnonzero(profile >= profile.max() / 2)
    measured = (above_half[-1] - above_half[0] + 1) * 0.05
    assert measured == pytest.approx(fwhm, abs=0.1)


def test_lorentzian_tails_spread_signal_further():
    scene = Scene([Particle(Sphere(0.02), "Au", position=(0.025, 0.025))])
    gaussian = Microscope(pixel_size=0.05, size=128, probe=Probe(0.2)).acquire(scene, rng()).signal
    microscope = Microscope(pixel_size=0.05, size=128, probe=Probe(0.2, tail_weight=0.3, tail_width=0.5))
    tailed = microscope.acquire(scene, rng()).signal
    far = np.hypot(*np.meshgrid(np.arange(128) - 64, np.arange(128) - 64)) > 20
    assert tailed[far].sum() > 100 * gaussian[far].sum()
    # The tails carry signal beyond the frame (the blur no longer wraps it back in): the field
    # keeps the part of the kernel, centred on the particle's pixel, that falls inside it.
    (top, bottom), (left, right) = microscope.blur_margins
    kernel = microscope.probe.kernel((128 + top + bottom, 128 + left + right), 0.05)
    inside = kernel[np.ix_(np.arange(-64, 64) % kernel.shape[0], np.arange(-64, 64) % kernel.shape[1])].sum()
    assert 0.97 < inside < 0.99
    assert tailed.sum() == pytest.approx(gaussian.sum() * inside, rel=1e-5)


def test_poisson_counts_have_poisson_mean_and_variance():
    generator = rng(7)
    for mean in (0.4, 3.0, 11.5, 12.5, 80.0, 2500.0):
        counts = poisson_counts(np.full(200_000, mean), generator)
        standard_error = np.sqrt(mean / counts.size)
        assert abs(counts.mean() - mean) < 5 * standard_error
        # Var of the sample variance of a Poisson variable ≈ (2 mean² + mean) / N.
        assert abs(counts.var() - mean) < 5 * np.sqrt((2 * mean**2 + mean) / counts.size)


def test_dose_sets_counts_and_noise_falls_as_one_over_sqrt_dose():
    scene = Scene([], support=CarbonFilm(thickness=5.0, roughness=0.0))
    fraction = 1e-5 * 6**1.7 * 5.0
    spreads = []
    for dose in (1e3, 1e5):
        microscope = Microscope(pixel_size=0.2, size=128, dose=dose)
        measurement = microscope.acquire(scene, rng(3))
        expected = dose * 4.0 * fraction  # 0.2 nm pixels are 4 Å²
        counts = measurement.counts.astype(np.float64)
        assert counts.mean() == pytest.approx(expected, rel=5 / np.sqrt(expected * counts.size))
        assert counts.var() == pytest.approx(expected, rel=0.05)
        np.testing.assert_allclose(measurement.image, measurement.counts / (dose * 4.0), rtol=1e-6)
        spreads.append(measurement.image.std())
    assert spreads[0] / spreads[1] == pytest.approx(10.0, rel=0.05)


def test_no_dose_means_no_noise():
    scene = Scene([Particle(Cuboid(4.0), "Au", random_rotation(rng(1)))])
    measurement = Microscope(pixel_size=0.1, size=64).acquire(scene, rng())
    assert measurement.counts is None
    np.testing.assert_array_equal(measurement.image, measurement.signal)


def test_carbon_film_has_the_set_mean_and_roughness():
    film = CarbonFilm(thickness=3.0, roughness=0.5, correlation_length=0.5)
    microscope = Microscope(pixel_size=0.1, size=256, probe=Probe(0.0), z_exponent=1.0)
    signal = microscope.acquire(Scene([], support=film), rng(5)).signal / (1e-5 * 6.0)
    assert signal.mean() == pytest.approx(3.0, abs=0.05)
    assert signal.std() == pytest.approx(0.5, rel=0.1)
    # Smooth: neighbouring pixels (0.1 nm apart, correlation length 0.5 nm) correlate strongly.
    assert np.corrcoef(signal[:, :-1].ravel(), signal[:, 1:].ravel())[0, 1] > 0.9


def test_same_seed_gives_bit_identical_measurements():
    microscope = Microscope(pixel_size=0.15, size=96, probe=Probe(0.12), dose=5e3,
                            scan=ScanDistortion(jitter=0.3, line_amplitude=0.5, line_frequency=3, drift=(1, 2)))

    def make(seed):
        generator = np.random.default_rng(seed)
        shape = Cuboid(6.0).truncate([0, 5], 0.3)
        scene = Scene([Particle(shape, "Au", random_rotation(generator))], support=CarbonFilm())
        return microscope.acquire(scene, generator)

    first, second, other = make(11), make(11), make(12)
    for name in ("image", "counts", "signal", "thickness", "mask", "sites"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert not np.array_equal(first.image, other.image)


def test_rotation_during_scan_with_zero_angle_equals_static():
    microscope = Microscope(pixel_size=0.1, size=96)
    orientation = random_rotation(rng(2))
    shape = Cuboid(5.0, 6.0, 7.0)
    static = microscope.thickness(Scene([Particle(shape, "Au", orientation)]))
    spun = microscope.thickness(Scene([Particle(shape, "Au", orientation, rotation_during_scan=ScanRotation((1, 1, 0), 0.0))]))
    np.testing.assert_array_equal(static, spun)


def test_rotation_during_scan_turns_each_line_by_its_fraction():
    microscope = Microscope(pixel_size=0.1, size=96)
    shape = Cuboid(4.0, 8.0, 4.0)
    angle = 90.0
    spinning = Particle(shape, "Au", rotation_during_scan=ScanRotation((0, 0, 1), angle))
    moving = microscope.thickness(Scene([spinning]))
    for row in (10, 48, 85):
        fraction = row / 95
        frozen = Particle(shape, "Au", axis_angle((0, 0, 1), angle * fraction))
        np.testing.assert_array_equal(moving[row], microscope.thickness(Scene([frozen]))[row])
    start = microscope.thickness(Scene([Particle(shape, "Au")]))
    assert not np.array_equal(moving[30:66], start[30:66])


def test_site_ground_truth_marks_deformed_vertices_at_projected_positions():
    microscope = Microscope(pixel_size=0.1, size=100)
    shape = Cuboid(4.0).truncate([0, 7], 0.25)
    measurement = microscope.acquire(Scene([Particle(shape, "Au", position=(1.0, -2.0))]), rng())
    sites = measurement.sites
    assert sites.shape == (8, 3)
    np.testing.assert_array_equal(sites[:, 2], [1, 0, 0, 0, 0, 0, 0, 1])
    # Vertex 0 at (-2, -2, -2) nm, shifted by (1, -2): column (x / 0.1 + 50 - 0.5), row likewise.
    np.testing.assert_allclose(sites[0, :2], [(-1.0 / 0.1) + 49.5, (-4.0 / 0.1) + 49.5], atol=1e-4)


def test_scan_jitter_shifts_whole_lines():
    scene = Scene([Particle(Cuboid(4.0), "Au")])
    steady = Microscope(pixel_size=0.1, size=64).acquire(scene, rng(0)).thickness
    shaken = Microscope(pixel_size=0.1, size=64, scan=ScanDistortion(jitter=2.0)).acquire(scene, rng(0)).thickness
    changed_rows = np.any(steady != shaken, axis=1)
    assert changed_rows[steady.any(axis=1)].mean() > 0.5
    # Each object row keeps its thickness profile, only displaced along x.
    np.testing.assert_allclose(shaken.sum(axis=1), steady.sum(axis=1), atol=0.41)


def test_normalized_output_spans_the_integer_range():
    scene = Scene([Particle(Sphere(2.0), "Au")], support=CarbonFilm())
    measurement = Microscope(pixel_size=0.1, size=64, dose=1e4).acquire(scene, rng())
    for dtype in (np.uint8, np.uint16):
        image = measurement.normalized(dtype)
        assert image.dtype == dtype
        assert image.min() == 0 and image.max() == np.iinfo(dtype).max


def test_film_shift_matches_bilinear_periodic_interpolation():
    from scipy.ndimage import map_coordinates

    from stemsim.simulator.kernels import shift_periodic

    generator = rng(4)
    field = generator.standard_normal((40, 30))
    dx, dy = generator.normal(0, 3, (40, 30)), generator.normal(0, 3, (40, 30))
    moved = np.empty_like(field)
    shift_periodic(field, dx, dy, moved)
    rows, cols = np.meshgrid(np.arange(40), np.arange(30), indexing="ij")
    expected = map_coordinates(field, [rows + dy, cols + dx], order=1, mode="grid-wrap")
    np.testing.assert_allclose(moved, expected, atol=1e-12)
