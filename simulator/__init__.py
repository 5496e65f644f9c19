"""Exact, fast ADF-STEM simulation of deformed nano-objects.

Shapes (nm, own frame) → particles (material, orientation, position) → scene (with a
carbon support) → microscope (pixel size, probe, dose, scan) → measurement (image and
ground truth).

>>> import numpy as np
>>> from simulator import Cuboid, Particle, Scene, CarbonFilm, Microscope, Probe, random_rotation
>>> rng = np.random.default_rng(2018)
>>> cube = Cuboid(8.0).truncate([0, 7], depth=0.25)
>>> scene = Scene([Particle(cube, "Au", random_rotation(rng))], support=CarbonFilm(3.0, 0.5))
>>> microscope = Microscope(pixel_size=0.15, size=128, z_exponent=1.7, probe=Probe(0.12), dose=5e3)
>>> measurement = microscope.acquire(scene, rng)
>>> measurement.image.shape, measurement.thickness.max() > 8
((128, 128), True)
"""

from stemsim.simulator.materials import atomic_number
from stemsim.simulator.microscope import IMAGE_MODEL_VERSION, Measurement, Microscope, ScanDistortion
from stemsim.simulator.probe import Probe
from stemsim.simulator.rotation import ScanRotation, as_quaternion, axis_angle, random_rotation
from stemsim.simulator.scene import CarbonFilm, Particle, Scene
from stemsim.simulator.shapes import (REGISTRY, SHAPES, Cuboid, Deformation, Ellipsoid, Octahedron, Pyramid, Shape, ShapeKind,
                              Sphere, build_shape)
from stemsim.simulator.symmetry import ConfigurationClass, ConfigurationSpace

__all__ = [
    "IMAGE_MODEL_VERSION", "REGISTRY", "SHAPES", "CarbonFilm", "ConfigurationClass", "ConfigurationSpace", "Cuboid",
    "Deformation", "Ellipsoid", "Measurement", "Microscope", "Octahedron", "Particle", "Probe", "Pyramid", "ScanDistortion", "ScanRotation",
    "Scene", "Shape", "ShapeKind", "Sphere", "as_quaternion", "atomic_number", "axis_angle", "build_shape",
    "random_rotation",
]
