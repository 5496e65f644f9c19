"""The crystalline contrast model: filling particles with atoms, atomic columns, image formation."""

import numpy as np
import pytest

from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, ScanDistortion, ScanRotation, Scene
from stemsim.simulator.atoms import crystal_atoms, object_atoms, particle_atoms, thermal_sigma, zone_columns
from stemsim.simulator.atoms_kernels import splat_gaussians
from stemsim.simulator.contrast.crystalline import particle_scatterers
from stemsim.simulator.contrast.laws import law_for
from stemsim.simulator.lattice import Lattice
from stemsim.simulator.rotation import random_rotation
from stemsim.simulator.shapes import Octahedron, Sphere

AU = Lattice.for_element("Au")
HALF = AU.a / 2  # fcc lattice planes along a cube axis are a/2 apart
# A cube edge of an odd number of half-spacings holds exactly that many planes (the lattice point
# at the centre): its atom count is its volume's, not a surface-rounding error away.
EDGE = 15 * HALF  # 3.06 nm
# The same for an octahedron's {111} faces: halfway between (111) planes, a/√3 apart.
OCTAHEDRON_EDGE = 7.5 * AU.a * np.sqrt(2)  # 4.33 nm


def rng(seed=0):
    return np.random.default_rng(seed)


def solid_volume(shape) -> float:
    """nm³ from the exact chord kernel: Σ thickness × pixel area on a fine grid."""
    microscope = Microscope(pixel_size=0.04, size=160, supersampling=2)
    return float(microscope.thickness(Scene(Particle(shape))).sum()) * 0.04**2


@pytest.mark.parametrize("shape", [
    Cuboid(EDGE), Cuboid(EDGE).truncate([0, 5], 0.3), Cuboid(EDGE).truncate([1, 2, 7], 0.45),
    Sphere(2.0), Sphere(2.2).dent(3, 0.4).bump(6, 0.3), Octahedron(OCTAHEDRON_EDGE)], ids=str)
def test_atom_count_times_volume_per_atom_is_the_volume(shape):
    positions, sites = crystal_atoms(shape, AU)
    assert positions.shape == sites.shape and positions.dtype == np.float64
    assert len(positions) * AU.volume_per_atom == pytest.approx(solid_volume(shape), rel=0.03)


@pytest.mark.parametrize("material", ["Fe", "Mg", "Si"])  # bcc, hcp, diamond
def test_other_lattices_fill_at_their_density(material):
    lattice = Lattice.for_element(material)
    # a small sphere's count steps with each shell of atoms it takes in (±5 % at 2 nm): the mean
    # over a few radii is the density's
    ratios = [len(crystal_atoms(Sphere(r), lattice)[0]) * lattice.volume_per_atom / Sphere(r).base_volume
              for r in (2.0, 2.1, 2.2, 2.3, 2.4)]
    assert max(abs(np.array(ratios) - 1)) < 0.06 and np.mean(ratios) == pytest.approx(1.0, abs=0.015)


def test_a_truncation_removes_exactly_the_atoms_beyond_its_plane():
    whole = {tuple(s) for s in crystal_atoms(Cuboid(EDGE), AU)[1]}
    cut_shape = Cuboid(EDGE).truncate(0, 0.4)
    kept = {tuple(s) for s in crystal_atoms(cut_shape, AU)[1]}
    assert kept < whole
    plane = cut_shape.pieces()[0].planes[-1]  # the truncation plane follows the six faces
    sites = np.array(sorted(whole))
    beyond = (sites / 12) @ AU.cell @ plane[:3] > plane[3]
    removed = np.array([tuple(s) not in kept for s in sites])
    assert removed.sum() > 10
    np.testing.assert_array_equal(removed, beyond)


def test_atoms_are_rotated_and_shifted_into_the_microscope_frame():
    particle = Particle(Cuboid(EDGE), "Au", random_rotation(rng(3)), position=(1.0, -2.0))
    rotation = particle.line_rotations(1)[0]
    world = particle_atoms(particle, rotation, rng())
    expected = crystal_atoms(particle.shape, AU)[0] @ rotation.T + [1.0, -2.0, 0.0]
    np.testing.assert_allclose(world, expected, atol=1e-12)


def test_amorphous_fill_density_and_reproducibility():
    lattice = Lattice.for_element("Au", "amorphous")
    shape = Sphere(2.5)
    first = object_atoms(shape, lattice, rng(5))
    assert len(first) * lattice.volume_per_atom == pytest.approx(shape.base_volume, rel=0.03)
    np.testing.assert_array_equal(first, object_atoms(shape, lattice, rng(5)))
    assert not np.array_equal(first[:50], object_atoms(shape, lattice, rng(6))[:50])


def test_fcc_columns_on_001_are_a_half_apart_in_truth_and_image():
    pixel = HALF / 4  # 64 px = 16 column spacings: the column lattice lands on FFT bin 16
    microscope = Microscope(pixel_size=pixel, size=64, probe=Probe(fwhm=0.08), contrast="crystalline")
    # half a pixel off the centre: the columns sit on pixel centres (no ties between pixels)
    measurement = microscope.acquire(Scene(Particle(Cuboid(11 * HALF), "Au", position=(pixel / 2, pixel / 2))), rng())
    columns = measurement.columns
    assert columns.shape == (11 * 11, 4) and set(np.unique(columns[:, 2])) == {5.0, 6.0}
    for axis in (0, 1):
        steps = np.diff(np.unique(np.round(columns[:, axis], 4)))
        np.testing.assert_allclose(steps, 4.0, atol=1e-4)
    spectrum = np.abs(np.fft.fft2(measurement.signal - measurement.signal.mean()))
    assert np.argmax(spectrum[0, 5:33]) + 5 == 16 and np.argmax(spectrum[5:33, 0]) + 5 == 16
    image = measurement.signal
    peaks = (image[1:-1, 1:-1] > 0.5 * image.max()) & (image[1:-1, 1:-1] == np.max(
        [image[1 + a:63 + a, 1 + b:63 + b] for a in (-1, 0, 1) for b in (-1, 0, 1)], axis=0))
    rows, cols = np.nonzero(peaks)
    truth = {(round(float(c)), round(float(r))) for c, r in columns[:, :2]}
    assert len(rows) == len(truth) and {(c + 1, r + 1) for r, c in zip(rows, cols)} == truth


def test_columns_along_011_and_their_spacing():
    labels, counts, spacing = zone_columns(Cuboid(EDGE), AU, (0, 1, 1))
    assert spacing == pytest.approx(AU.a / np.sqrt(2), rel=1e-9)
    assert counts.sum() == len(labels) == len(crystal_atoms(Cuboid(EDGE), AU)[0])


@pytest.mark.parametrize("orientation", [(1, 0, 0, 0), "random"])
def test_the_image_holds_the_scattered_mass(orientation):
    orientation = random_rotation(rng(2)) if orientation == "random" else orientation
    microscope = Microscope(pixel_size=0.1, size=64, probe=Probe(fwhm=0.3), contrast="crystalline")
    particle = Particle(Sphere(1.5), "Au", orientation)
    weights = particle_scatterers(particle, particle.line_rotations(1)[0], microscope, rng()).weight
    signal = microscope.acquire(Scene(particle), rng()).signal
    assert float(signal.astype(np.float64).sum()) * 0.1**2 == pytest.approx(weights.sum(), rel=1e-5)


def test_a_zone_axis_cube_scatters_the_zone_axis_law():
    microscope = Microscope(contrast="crystalline")
    on_axis = Particle(Cuboid(EDGE), "Au")  # [001] along the beam: columns of 7 and 8 atoms
    weights = particle_scatterers(on_axis, np.eye(3), microscope, rng())
    assert weights.orientation == "001"
    assert weights.weight.sum() / EDGE**2 == pytest.approx(float(law_for(79, "001")(EDGE)), rel=0.03)
    off = Particle(Cuboid(EDGE), "Au", random_rotation(rng(1)))
    scattered = particle_scatterers(off, off.line_rotations(1)[0], microscope, rng())
    assert scattered.orientation == "off_axis" and np.all(scattered.atoms == 1)
    assert scattered.weight.sum() / EDGE**2 == pytest.approx(float(law_for(79, "off_axis")(EDGE)), rel=0.03)


def test_a_column_a_little_off_the_axis_stays_one_column_widened_by_its_tilt():
    microscope = Microscope(contrast="crystalline")
    particle = Particle(Cuboid(EDGE), "Au")
    aligned = particle_scatterers(particle, np.eye(3), microscope, rng())
    tilt = 0.008  # rad about x, inside the 10 mrad of the [001] class
    leaning = Particle(Cuboid(EDGE), "Au", (np.cos(tilt / 2), np.sin(tilt / 2), 0, 0))
    tilted = particle_scatterers(leaning, leaning.line_rotations(1)[0], microscope, rng())
    assert tilted.orientation == "001"
    np.testing.assert_array_equal(tilted.atoms, aligned.atoms)
    np.testing.assert_allclose(tilted.weight, aligned.weight)
    # N atoms a apart along z, tilted by θ: their y spread has variance θ² a² (N² - 1) / 12
    spread = np.sin(tilt) ** 2 * AU.a**2 * (aligned.atoms.astype(float) ** 2 - 1) / 12
    np.testing.assert_allclose(tilted.sigma2 - aligned.sigma2, spread / 2, rtol=1e-6, atol=1e-12)


def test_the_gaussian_width_is_probe_and_thermal():
    microscope = Microscope(probe=Probe(fwhm=0.1), contrast="crystalline")
    particle = Particle(Cuboid(EDGE), "Au", random_rotation(rng(4)))
    s = particle_scatterers(particle, particle.line_rotations(1)[0], microscope, rng())
    assert thermal_sigma(79) == pytest.approx(0.0089, abs=0.0002)
    np.testing.assert_allclose(s.sigma2, (0.1 / (2 * np.sqrt(2 * np.log(2)))) ** 2 + thermal_sigma(79) ** 2)


def test_the_tail_adds_the_cauchy_part_without_a_second_gaussian():
    scene = Scene(Particle(Sphere(1.0), "Au"))
    sharp = Microscope(pixel_size=0.1, size=64, probe=Probe(fwhm=0.3), contrast="crystalline")
    tailed = Microscope(pixel_size=0.1, size=64, probe=Probe(fwhm=0.3, tail_weight=0.3, tail_width=0.3),
                        contrast="crystalline")
    weights = particle_scatterers(scene.particles[0], np.eye(3), sharp, rng()).weight.sum()
    tail = tailed.acquire(scene, rng()).signal.astype(np.float64) - 0.7 * sharp.acquire(scene, rng()).signal
    assert tail.min() > -1e-7 and tail[0, 0] > 0  # the tail reaches the frame's corner, the Gaussian doesn't
    inside = tail.sum() * 0.1**2 / (0.3 * weights)  # the Cauchy mass within 3.2 nm of the centre
    assert 1 - 0.3 / 3.2 <= inside <= 1.0


def test_the_splat_follows_the_scan_offsets():
    def splat(x, offset_px):  # one Gaussian (σ = 0.1 nm) on a 16² grid of 0.1 nm pixels
        out = np.zeros((16, 16))
        splat_gaussians(np.array([x]), np.array([0.0]), np.array([1.0]), np.array([0.01]), -0.75, -0.75, 0.1,
                        np.full((16, 16), offset_px), np.zeros((16, 16)), 5.0, out)
        return out

    # the beam half a pixel right sees the atom half a pixel left: exactly, on the offset path
    np.testing.assert_allclose(splat(0.0, 0.5), splat(-0.025, 0.25), rtol=1e-12, atol=1e-15)
    # and the ideal grid's separable path agrees but for its square cut (at 5 σ: < 4e-6 of the peak)
    peak = 1 / (2 * np.pi * 0.01)
    np.testing.assert_allclose(splat(0.0, 0.5), splat(-0.05, 0.0), rtol=0, atol=4e-6 * peak)
    assert abs(splat(-0.05, 0.0).sum() * 0.01 - 1) < 1e-5


@pytest.mark.parametrize("lattice", [None, Lattice.for_element("Au", "amorphous")], ids=["fcc", "amorphous"])
def test_same_generator_same_bytes(lattice):
    microscope = Microscope(size=64, dose=2e3, scan=ScanDistortion(jitter=0.3), contrast="crystalline")
    scene = Scene(Particle(Sphere(2.0), "Au", random_rotation(rng(7)), lattice=lattice), CarbonFilm())
    first, second = microscope.acquire(scene, rng(9)), microscope.acquire(scene, rng(9))
    assert first.image.tobytes() == second.image.tobytes()
    assert first.columns.tobytes() == second.columns.tobytes()


def test_a_turning_particle_is_refused_in_one_line():
    scene = Scene(Particle(Sphere(2.0), "Au", rotation_during_scan=ScanRotation((0, 1, 0), 5.0)))
    with pytest.raises(ValueError, match=r"^contrast: the crystalline model needs a static particle "
                                         r"\(rotation_during_scan is set\)$"):
        Microscope(size=32, contrast="crystalline").acquire(scene, rng())


def test_columns_name_their_particle():
    scene = Scene([Particle(Sphere(1.0), "Au", position=(-2.0, 0.0)),
                   Particle(Cuboid(EDGE), "Pt", random_rotation(rng(1)), position=(2.0, 1.0))])
    columns = Microscope(size=64, contrast="crystalline").acquire(scene, rng()).columns
    assert set(np.unique(columns[:, 3])) == {0.0, 1.0}
    first = columns[columns[:, 3] == 0]
    assert abs(first[:, 0].mean() - (-2.0 / 0.15 + 31.5)) < 0.5 and abs(first[:, 1].mean() - 31.5) < 0.5


def test_a_particle_of_one_atom():  # the lattice point at the shape's centre
    microscope = Microscope(size=32, contrast="crystalline")
    for shape, atoms in ((Sphere(0.1), 1), (Cuboid(0.1).bump(0, 0.01), 1)):
        for orientation in ((1, 0, 0, 0), random_rotation(rng(1))):
            measurement = microscope.acquire(Scene(Particle(shape, "Au", orientation)), rng())
            assert measurement.columns[:, 2].sum() == atoms and measurement.signal.max() > 0
