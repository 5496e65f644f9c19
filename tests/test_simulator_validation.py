"""Bad input to the simulator: a ValueError whose message names the parameter."""

import numpy as np
import pytest

from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, Pyramid, ScanRotation, Sphere


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: Cuboid(-3.0), "a: must be a positive number of nm, got -3.0"),
        (lambda: Cuboid(3.0, 0.0), "b: must be a positive number of nm, got 0.0"),
        (lambda: Sphere(float("nan")), "radius: must be a positive number of nm, got nan"),
        (lambda: Pyramid(5.0, sides=5), "sides: a pyramid base has 3 or 4 sides, got 5"),
        (lambda: Particle(Cuboid(3.0), "Xx"), "material: unknown element 'Xx'"),
        (lambda: Particle(Cuboid(3.0), 130), "material: Z must be in 1..103, got 130"),
        (lambda: Cuboid(3.0).truncate(range(9), 0.2), "vertices: 9 deformations asked, but a cuboid has 8 vertices"),
        (lambda: Pyramid(3.0).dent(range(5), 0.2), "vertices: 5 deformations asked, but a tetrahedron has 4 vertices"),
        (lambda: Cuboid(3.0).truncate([0, 0], 0.2), "vertices: vertex 0 is deformed twice"),
        (lambda: Cuboid(3.0).truncate([8], 0.2), "vertices: index 8 is not a vertex of a cuboid (0..7)"),
        (lambda: Cuboid(3.0).truncate([1], 0.0), "depth: must be in (0, 0.5]"),
        (lambda: Cuboid(3.0).bump([1], 0.51), "depth: must be in (0, 0.5]"),
        (lambda: Cuboid(3.0).deform("squash", [1], 0.2), "deformation.kind: expected one of"),
        (lambda: Particle(Cuboid(3.0), "Au", (np.nan, 0, 0, 1)), "orientation: quaternion has NaN or infinite"),
        (lambda: Particle(Cuboid(3.0), "Au", (0, 0, 0, 0)), "orientation: quaternion has zero norm"),
        (lambda: ScanRotation((0, 0, 0), 10.0), "axis: expected a non-zero 3-vector"),
        (lambda: Microscope(pixel_size=-0.1), "pixel_size: must be > 0.0, got -0.1"),
        (lambda: Microscope(size=4), "size: expected pixels >= 8"),
        (lambda: Microscope(z_exponent=2.5), "z_exponent: must be > 0.0 and <= 2.0, got 2.5"),
        (lambda: Microscope(dose=0), "dose: must be > 0.0, got 0"),
        (lambda: Probe(fwhm=-1), "probe_fwhm: must be >= 0.0, got -1"),
        (lambda: CarbonFilm(thickness=-1.0), "support.thickness: must be a non-negative number of nm"),
    ],
)
def test_bad_input_names_the_parameter(make, message):
    with pytest.raises(ValueError) as error:
        make()
    assert str(error.value).startswith(message)
