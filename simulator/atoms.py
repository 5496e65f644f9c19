"""Atoms of a particle: its lattice cut by its solid, the atomic columns along a zone axis, and
their thermal vibration.

The lattice (:mod:`stemsim.simulator.lattice`) is fixed to the shape's frame: a lattice point at
the shape's origin, cell axes along the shape's axes. A lattice site is an atom of the particle
when it lies in the solid by the membership the thickness kernel uses (in some added piece, in
no removed one; boundaries inside: :func:`stemsim.simulator.atoms_kernels.inside_solid`), so
the atoms and the projected thickness describe the same solid.

Crystals are cut once per (shape, lattice) and cached (object frame). An ``amorphous`` lattice
is a jittered simple-cubic grid: one atom drawn uniformly inside each cube of edge ``a`` (the
volume one atom occupies), so the number density is the element's exactly on average and the
arrangement has no Bragg peaks (the mean of exp(iG·r) over a cell vanishes for every G ≠ 0);
there is no minimum distance between atoms. It is drawn anew from the generator for every
image.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

from stemsim.simulator.atoms_kernels import inside_solid
from stemsim.simulator.lattice import Lattice
from stemsim.simulator.materials import atomic_number

SITE_SCALE = 12
"""Fractional coordinates times this are integers for every basis (quarters and thirds): the
integer site labels that group atoms into columns exactly."""

TEMPERATURE_K = 293.0
"""The specimen temperature of the thermal vibration, K."""

DEBYE_TEMPERATURE_K = {
    "Au": 165.0, "Ag": 225.0, "Cu": 343.0, "Pt": 240.0, "Pd": 274.0, "Ni": 450.0, "Fe": 470.0, "Co": 445.0,
    "Al": 428.0, "Pb": 105.0, "Rh": 480.0, "Ir": 420.0, "Ru": 600.0, "Os": 500.0, "W": 400.0, "Mo": 450.0,
    "Ti": 420.0, "Zn": 327.0, "Mg": 400.0, "Si": 645.0, "Ge": 374.0, "C": 2230.0, "Cr": 630.0, "Ta": 240.0,
    "Nb": 275.0, "V": 380.0,
}
"""Debye temperatures, K (Kittel, *Introduction to Solid State Physics*, table of Debye
temperatures); elements not listed take ``DEFAULT_DEBYE_K``."""

DEFAULT_DEBYE_K = 300.0

ZONE_DIRECTIONS = {
    "001": ((1, 0, 0), (0, 1, 0), (0, 0, 1)),
    "011": ((0, 1, 1), (0, 1, -1), (1, 0, 1), (1, 0, -1), (1, 1, 0), (1, -1, 0)),
}
"""The directions (cubic cell indices, sign free) of each zone-axis class."""


def _readonly(*arrays):
    for array in arrays:
        array.flags.writeable = False
    return arrays


@lru_cache(maxsize=128)
def thermal_sigma(z: int, temperature: float = TEMPERATURE_K) -> float:
    """RMS displacement of an atom along one axis, nm, in the Debye model.

    ``<u_x²> = 3ħ² / (m k_B Θ) · (φ(x)/x + 1/4)``, ``x = Θ/T``, ``φ(x) = (1/x)∫₀ˣ ξ/(e^ξ − 1) dξ``
    (zero-point motion included): Au (Θ = 165 K) at 293 K gives 0.0089 nm, Pt (240 K) 0.0062 nm
    (the multislice reference's frozen phonons: 0.0090 and 0.0062 nm).

    Parameters
    ----------
    z : int
        Atomic number (mass from ASE, Debye temperature from :data:`DEBYE_TEMPERATURE_K`).
    temperature : float
        K (> 0).

    Returns
    -------
    float
        nm.
    """
    from ase.data import atomic_masses, chemical_symbols
    from scipy.integrate import quad

    z = atomic_number(z)
    theta = DEBYE_TEMPERATURE_K.get(chemical_symbols[z], DEFAULT_DEBYE_K)
    hbar, k_b, amu = 1.054571817e-34, 1.380649e-23, 1.66053906660e-27
    x = theta / temperature
    phi = quad(lambda s: s / math.expm1(s) if s > 0 else 1.0, 0.0, x)[0] / x
    u2 = 3 * hbar**2 / (atomic_masses[z] * amu * k_b * theta) * (phi / x + 0.25)  # m²
    return math.sqrt(u2) * 1e9


def _candidates(shape, lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """Integer cell indices (n, 3) covering the shape's bounding box, and the (3, 3) cell."""
    centres, radii = shape.hull_spheres
    low = (centres - radii[:, None]).min(axis=0)
    high = (centres + radii[:, None]).max(axis=0)
    cell = lattice.cell
    corners = np.array([[(low, high)[(k >> axis) & 1][axis] for axis in range(3)] for k in range(8)])
    fractional = corners @ np.linalg.inv(cell)
    start = np.floor(fractional.min(axis=0)).astype(int) - 1
    stop = np.ceil(fractional.max(axis=0)).astype(int) + 1
    axes = [np.arange(a, b + 1) for a, b in zip(start, stop)]
    return np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3), cell


def _inside(shape, points: np.ndarray) -> np.ndarray:
    layout = shape.kernel_layout
    n_quadrics = max(len(layout.quadrics), 1)
    centres = np.zeros((n_quadrics, 3))
    matrices = np.zeros((n_quadrics, 3, 3))
    for q, (centre, matrix) in enumerate(layout.quadrics):
        centres[q], matrices[q] = centre, matrix
    keep = np.empty(len(points), dtype=np.bool_)
    inside_solid(np.ascontiguousarray(points, dtype=np.float64), np.ascontiguousarray(layout.normals),
                 np.ascontiguousarray(layout.offsets), centres, matrices, layout.table, keep)
    return keep


@lru_cache(maxsize=16)
def crystal_atoms(shape, lattice: Lattice) -> tuple[np.ndarray, np.ndarray]:
    """The lattice sites inside the solid, object frame (cached per shape and lattice).

    Parameters
    ----------
    shape : Shape
        The solid (nm, its own frame).
    lattice : Lattice
        A crystalline lattice (not ``amorphous``).

    Returns
    -------
    positions : numpy.ndarray
        (N, 3) float64, nm, read-only.
    sites : numpy.ndarray
        (N, 3) int64, read-only: ``SITE_SCALE`` × the fractional coordinates (integers).
    """
    cells, cell = _candidates(shape, lattice)
    scaled_basis = np.rint(lattice.basis * SITE_SCALE).astype(np.int64)
    sites = (cells[:, None, :] * SITE_SCALE + scaled_basis[None]).reshape(-1, 3)
    positions = (sites / SITE_SCALE) @ cell
    keep = _inside(shape, positions)
    return _readonly(np.ascontiguousarray(positions[keep]), np.ascontiguousarray(sites[keep]))


def amorphous_atoms(shape, lattice: Lattice, rng: np.random.Generator) -> np.ndarray:
    """Random atoms at the lattice's number density inside the solid: a jittered simple-cubic
    grid of edge ``lattice.a``, one atom uniform in each cube (module docstring).

    Parameters
    ----------
    shape : Shape
        The solid.
    lattice : Lattice
        Its ``a`` (nm) sets the density, ``1 / a³`` atoms per nm³.
    rng : numpy.random.Generator
        Draws 3 uniforms per candidate cube.

    Returns
    -------
    numpy.ndarray
        (N, 3) float64, nm, object frame.
    """
    cells, _ = _candidates(shape, Lattice("sc", lattice.a))
    points = (cells + rng.random(cells.shape)) * lattice.a
    return points[_inside(shape, points)]


def object_atoms(shape, lattice: Lattice, rng: np.random.Generator) -> np.ndarray:
    """The atoms of a solid, object frame, nm: (N, 3) float64 (``crystal_atoms`` or, for an
    ``amorphous`` lattice, ``amorphous_atoms`` drawn from ``rng``)."""
    if lattice.structure == "amorphous":
        return amorphous_atoms(shape, lattice, rng)
    return crystal_atoms(shape, lattice)[0]


def particle_atoms(particle, rotation: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A particle's atoms in the microscope frame.

    Parameters
    ----------
    particle : Particle
        Its shape, lattice (``particle.crystal``) and position.
    rotation : numpy.ndarray
        (3, 3) object → microscope rotation (one of ``particle.line_rotations``).
    rng : numpy.random.Generator
        Used by an ``amorphous`` lattice only.

    Returns
    -------
    numpy.ndarray
        (N, 3) float64, nm: ``R @ p + (x, y, 0)``.
    """
    atoms = object_atoms(particle.shape, particle.crystal, rng)
    return atoms @ np.asarray(rotation, dtype=float).T + np.array([particle.position[0], particle.position[1], 0.0])


def zone_direction(rotation: np.ndarray, zone: str) -> tuple[int, int, int]:
    """The direction of the ``zone`` class (``"001"`` or ``"011"``) nearest the beam.

    Parameters
    ----------
    rotation : numpy.ndarray
        (3, 3) object → microscope rotation; the beam in the crystal frame is ``Rᵀ ẑ``.
    zone : str
        A key of :data:`ZONE_DIRECTIONS`.

    Returns
    -------
    tuple of int
        Cell indices [u v w].
    """
    beam = np.asarray(rotation, dtype=float).T @ np.array([0.0, 0.0, 1.0])
    candidates = ZONE_DIRECTIONS[zone]
    cosines = [abs(beam @ np.array(u)) / np.linalg.norm(u) for u in candidates]
    return candidates[int(np.argmax(cosines))]


def _column_labels(sites: np.ndarray, direction) -> tuple[np.ndarray, np.ndarray]:
    """Column labels (N,) and counts (M,) of integer ``sites`` along ``direction``: two sites
    share a column when their difference is parallel to it (same cross product)."""
    u = np.array(direction, dtype=np.int64)
    if not len(sites):  # a solid smaller than the lattice's spacing can hold no site
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    keys = np.stack([sites[:, 1] * u[2] - sites[:, 2] * u[1], sites[:, 2] * u[0] - sites[:, 0] * u[2],
                     sites[:, 0] * u[1] - sites[:, 1] * u[0]], axis=1)
    # one int64 per column (a 1-D unique sorts ~10x faster than rows)
    low = keys.min(axis=0)
    span = keys.max(axis=0) - low + 1
    flat = ((keys[:, 0] - low[0]) * span[1] + (keys[:, 1] - low[1])) * span[2] + (keys[:, 2] - low[2])
    _, labels, counts = np.unique(flat, return_inverse=True, return_counts=True)
    return labels.reshape(-1).astype(np.int64), counts.astype(np.int64)


@lru_cache(maxsize=64)
def column_spacing(lattice: Lattice, direction: tuple[int, int, int]) -> float:
    """nm between neighbouring atoms of a column along ``direction`` (cell indices): the median
    gap along the columns of a ball of the lattice 4 repeats across (cached); for a lattice
    whose columns are all alike, ``1 / (number density · projected area per column)``."""
    from stemsim.simulator.shapes import Sphere

    axis = np.array(direction, dtype=float) @ lattice.cell
    positions, sites = crystal_atoms(Sphere(2.0 * float(np.linalg.norm(axis)) + lattice.a), lattice)
    labels, _ = _column_labels(sites, direction)
    along = positions @ (axis / np.linalg.norm(axis))
    order = np.lexsort((along, labels))
    gaps = np.diff(along[order])[labels[order][1:] == labels[order][:-1]]
    return float(np.median(gaps)) if gaps.size else float(np.linalg.norm(axis))


@lru_cache(maxsize=16)
def zone_columns(shape, lattice: Lattice, direction: tuple[int, int, int]) -> tuple[np.ndarray, np.ndarray, float]:
    """The atomic columns of a crystal along a lattice direction (cached).

    Two atoms share a column when their site difference is parallel to ``direction``
    (integer arithmetic on the site labels: exact, also a little off the axis, where the
    projections of a column's atoms spread).

    Parameters
    ----------
    shape : Shape
        The solid.
    lattice : Lattice
        A cubic lattice (direction in cell indices = in the shape's frame).
    direction : tuple of int
        [u v w].

    Returns
    -------
    labels : numpy.ndarray
        (N,) int64, read-only: the column of each atom of ``crystal_atoms`` (0..M-1).
    counts : numpy.ndarray
        (M,) int64, read-only: atoms per column.
    spacing : float
        nm between neighbouring atoms along a column (:func:`column_spacing`).
    """
    labels, counts = _column_labels(crystal_atoms(shape, lattice)[1], direction)
    return (*_readonly(labels, counts), column_spacing(lattice, tuple(direction)))
