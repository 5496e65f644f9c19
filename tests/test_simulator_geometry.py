"""Exact projected thickness: volumes, chord lengths, deformations."""

import math

import numpy as np
import pytest

from stemsim.simulator import (Cuboid, Ellipsoid, Microscope, Octahedron, Particle, Pyramid, Scene, Sphere, axis_angle,
                       random_rotation)

# 32 nm field of view at 0.1 nm pixels with 2×2 rays per pixel.
MICROSCOPE = Microscope(pixel_size=0.1, size=320, supersampling=2)
TETRAHEDRON_SOLID_ANGLE = math.acos(23 / 27)  # steradians at a regular tetrahedron's vertex


def projected_volume(shape, seed=0):
    orientation = random_rotation(np.random.default_rng(seed))
    thickness = MICROSCOPE.thickness(Scene([Particle(shape, "Au", orientation)]))
    return thickness.sum() * MICROSCOPE.pixel_size**2


def ball(radius):
    return 4 / 3 * math.pi * radius**3


@pytest.mark.parametrize(
    "shape, volume",
    [
        (Sphere(8.0), ball(8.0)),
        (Cuboid(10.0, 12.0, 14.0), 10 * 12 * 14),
        (Pyramid(14.0), 14.0**3 / (6 * math.sqrt(2))),
        (Pyramid(12.0, sides=4), 12.0**3 / (3 * math.sqrt(2))),
        (Pyramid(12.0, height=5.0, sides=3), math.sqrt(3) / 4 * 12.0**2 * 5.0 / 3),
        (Octahedron(12.0), math.sqrt(2) / 3 * 12.0**3),
        (Ellipsoid(4.0, 6.0, 9.0), 4 / 3 * math.pi * 4 * 6 * 9),
    ],
    ids=["sphere", "cuboid", "tetrahedron", "square-pyramid", "flat-tetrahedron", "octahedron", "ellipsoid"],
)
def test_volume_of_rotated_shapes(shape, volume):
    assert shape.base_volume == pytest.approx(volume, rel=1e-12)
    assert projected_volume(shape) == pytest.approx(volume, rel=0.005)


A, DEPTH = 12.0, 0.3
R = DEPTH * A  # sphere radius of dents and bumps on the cube


@pytest.mark.parametrize(
    "shape, volume",
    [
        (Cuboid(A).truncate([0, 3, 5], DEPTH), A**3 - 3 * (DEPTH * A) ** 3 / 6),
        (Cuboid(A).dent([0, 3, 5], DEPTH), A**3 - 3 * ball(R) / 8),
        (Cuboid(A).bump([0, 3, 5], DEPTH), A**3 + 3 * ball(R) * 7 / 8),
        (Cuboid(A).truncate(range(8), 0.5), A**3 * (1 - 8 / 48)),  # cuboctahedron
        (Cuboid(A).truncate([0], DEPTH).dent([7], DEPTH).bump([3], DEPTH),
         A**3 - (DEPTH * A) ** 3 / 6 - ball(R) / 8 + ball(R) * 7 / 8),
        (Pyramid(14.0).truncate([0, 2], DEPTH), 14.0**3 / (6 * math.sqrt(2)) * (1 - 2 * DEPTH**3)),
        (Pyramid(14.0).dent(range(4), DEPTH),
         14.0**3 / (6 * math.sqrt(2)) - 4 * ball(DEPTH * 14) * TETRAHEDRON_SOLID_ANGLE / (4 * math.pi)),
        (Pyramid(14.0).bump([0, 1], DEPTH),
         14.0**3 / (6 * math.sqrt(2)) + 2 * ball(DEPTH * 14) * (1 - TETRAHEDRON_SOLID_ANGLE / (4 * math.pi))),
        (Sphere(8.0).truncate([0, 7], 0.15), ball(8.0) - 2 * math.pi * 1.2**2 * (3 * 8.0 - 1.2) / 3),
    ],
    ids=["cube-truncate", "cube-dent", "cube-bump", "cuboctahedron", "cube-mixed", "tetra-truncate",
         "tetra-dent", "tetra-bump", "sphere-facets"],
)
def test_volume_of_deformed_shapes(shape, volume):
    assert projected_volume(shape, seed=1) == pytest.approx(volume, rel=0.005)


def test_sphere_dent_and_bump_volumes_use_lens_formula():
    radius, depth = 8.0, 0.25
    r = depth * radius  # small sphere centred on the surface

    def lens(big, small, distance):
        return (math.pi * (big + small - distance) ** 2
                * (distance**2 + 2 * distance * small - 3 * small**2 + 2 * distance * big + 6 * small * big
                   - 3 * big**2) / (12 * distance))

    overlap = lens(radius, r, radius)
    assert projected_volume(Sphere(radius).dent([1], depth)) == pytest.approx(ball(radius) - overlap, rel=0.005)
    assert projected_volume(Sphere(radius).bump([1], depth)) == pytest.approx(
        ball(radius) + ball(r) - overlap, rel=0.005)


def test_sphere_central_thickness_is_diameter():
    microscope = Microscope(pixel_size=0.1, size=64)
    # An odd offset puts a pixel centre exactly on the sphere centre.
    particle = Particle(Sphere(2.5), "Au", position=(0.05, 0.05))
    thickness = microscope.thickness(Scene([particle]))
    assert thickness.max() == pytest.approx(5.0, abs=1e-9)
    assert thickness[32, 32] == pytest.approx(5.0, abs=1e-9)
    # Chord length at distance d from the centre: 2 sqrt(R² - d²).
    d = 1.0  # ten pixels to the right of the centre pixel
    assert thickness[32, 42] == pytest.approx(2 * math.sqrt(2.5**2 - d**2), abs=1e-9)


def test_cube_face_on_is_edge_length_inside_and_zero_outside():
    microscope = Microscope(pixel_size=0.1, size=64)
    thickness = microscope.thickness(Scene([Particle(Cuboid(3.0), "Au")]))
    x = (np.arange(64) + 0.5 - 32) * 0.1
    inside = (np.abs(x)[:, None] < 1.5) & (np.abs(x)[None, :] < 1.5)
    np.testing.assert_allclose(thickness[inside], 3.0, atol=1e-12)
    np.testing.assert_array_equal(thickness[~inside], 0.0)
    assert inside.sum() == 30 * 30


def test_face_on_truncated_corner_removes_the_expected_prism():
    # Viewed along z, a truncated cube corner at (-,-,-) removes thickness where x+y is small.
    microscope = Microscope(pixel_size=0.1, size=64)
    cube = Cuboid(3.0).truncate([0], 0.5)
    thickness = microscope.thickness(Scene([Particle(cube, "Au")]))
    x = (np.arange(64) + 0.5 - 32) * 0.1 + 1.5  # distance from the cube's x = -1.5 face
    u = x[None, :] / 1.5 + x[:, None] / 1.5  # plane x/1.5 + y/1.5 + z/1.5 = 1 in corner coordinates
    corner = (u < 1) & (x[None, :] > 0) & (x[:, None] > 0)
    expected = 3.0 - 1.5 * (1 - u[corner])
    np.testing.assert_allclose(thickness[corner], expected, atol=1e-9)


def test_orientation_moves_vertices_and_keeps_volume():
    microscope = Microscope(pixel_size=0.1, size=200)
    cube = Cuboid(6.0, 8.0, 10.0)
    q = axis_angle((0, 0, 1), 90)
    still = microscope.thickness(Scene([Particle(cube, "Au")]))
    turned = microscope.thickness(Scene([Particle(cube, "Au", q)]))
    # A quarter turn about the beam swaps the x and y extents.
    assert (still.sum(axis=0) > 0).sum() == 60 and (still.sum(axis=1) > 0).sum() == 80
    assert (turned.sum(axis=0) > 0).sum() == 80 and (turned.sum(axis=1) > 0).sum() == 60
    assert still.sum() == pytest.approx(turned.sum(), rel=1e-9)


def test_two_particles_add_and_position_in_nm():
    microscope = Microscope(pixel_size=0.1, size=128)
    left = Particle(Sphere(1.0), "Au", position=(-3.0, 0.0))
    right = Particle(Sphere(1.0), "Pt", position=(3.0, 0.0))
    thickness = microscope.thickness(Scene([left, right]))
    columns = np.flatnonzero(thickness.sum(axis=0))
    x = (columns + 0.5 - 64) * 0.1
    assert x.min() == pytest.approx(-4.0, abs=0.1) and x.max() == pytest.approx(4.0, abs=0.1)
    assert not np.any(thickness[:, 64 - 15:64 + 15])
