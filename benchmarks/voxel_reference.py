"""The voxel method that prior work used, in plain NumPy/SciPy, as a speed and accuracy reference.

Fill an N³ grid with the object in its own frame, rotate the grid, sum along the beam,
add a carbon film, blur with the probe and draw Poisson noise.  Same scene, same
physics as :class:`simulator.Microscope`, but sampled on voxels.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import ndimage

from stemsim.simulator import Microscope, Scene
from stemsim.simulator.materials import CARBON_Z
from stemsim.simulator.probe import FWHM_PER_SIGMA
from stemsim.simulator.rotation import rotation_matrices


@lru_cache(maxsize=4)
def _voxel_centres(depth: int, height: int, width: int, px: float):
    axes = [((np.arange(n) + 0.5 - n / 2) * px).astype(np.float32) for n in (depth, height, width)]
    return np.meshgrid(*axes, indexing="ij")


def voxel_thickness(scene: Scene, microscope: Microscope, order: int = 0) -> np.ndarray:
    """Projected thickness (nm) on an H × W × H voxel grid (voxel = pixel size).

    ``order`` is the interpolation order of the grid rotation: 0 (nearest voxel, the
    fast choice) or 1 (trilinear).
    """
    height, width = microscope.size
    depth = height
    px = microscope.pixel_size
    z, y, x = _voxel_centres(depth, height, width, px)
    total = np.zeros((height, width))
    for particle in scene.particles:
        inside = np.zeros((depth, height, width), dtype=bool)
        for piece in particle.shape.pieces():
            member = np.ones_like(inside)
            for nx, ny, nz, d in piece.planes:
                member &= nx * x + ny * y + nz * z <= d
            if piece.quadric is not None:
                (cx, cy, cz), a = piece.quadric
                u = np.stack([x - cx, y - cy, z - cz])
                member &= np.einsum("i...,ij,j...->...", u, a, u) <= 1
            inside = inside | member if piece.sign > 0 else inside & ~member
        # Rotate the filled grid into the microscope frame (trilinear), as the prior work did.
        rotation = rotation_matrices(particle.orientation)
        to_object = rotation.T[::-1, ::-1]  # (z, y, x) index order
        centre = (np.array([depth, height, width]) - 1) / 2
        shift = np.array([0.0, particle.position[1], particle.position[0]]) / px
        offset = centre - to_object @ (centre + shift)
        rotated = ndimage.affine_transform(inside.astype(np.float32), to_object, offset=offset, order=order)
        total += rotated.sum(axis=0) * px
    return total


def voxel_image(scene: Scene, microscope: Microscope, rng: np.random.Generator) -> np.ndarray:
    """The voxel pipeline's noisy image (detected fraction), like :meth:`Microscope.acquire`."""
    n = microscope.z_exponent
    px = microscope.pixel_size
    contrast = np.zeros(microscope.size)
    for particle in scene.particles:
        contrast += float(particle.z) ** n * voxel_thickness(Scene([particle]), microscope)
    if scene.support is not None:
        film = ndimage.gaussian_filter(rng.standard_normal(microscope.size),
                                       scene.support.correlation_length / px / np.sqrt(2), mode="wrap")
        film *= scene.support.roughness / film.std()
        contrast += float(CARBON_Z) ** n * (scene.support.thickness + film)
    signal = ndimage.gaussian_filter(contrast, microscope.probe.fwhm / FWHM_PER_SIGMA / px, mode="wrap")
    signal = np.maximum(signal * microscope.scattering, 0)
    if microscope.dose is None:
        return signal
    incident = microscope.electrons_per_pixel
    return rng.poisson(signal * incident) / incident
