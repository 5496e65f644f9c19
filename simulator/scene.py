"""Particles (a shape made of a material, placed and oriented) and scenes of them."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from stemsim.simulator.kernels import bound_coefficients
from stemsim.simulator.lattice import Lattice
from stemsim.simulator.materials import atomic_number
from stemsim.simulator.rotation import IDENTITY, ScanRotation, as_quaternion, rotation_matrices
from stemsim.simulator.shapes import Shape


@dataclass(frozen=True)
class CarbonFilm:
    """Amorphous carbon support (Z = 6): a smooth random thickness field.

    Parameters
    ----------
    thickness : float
        Mean thickness, nm (>= 0).
    roughness : float
        Standard deviation of the thickness field, nm (>= 0).
    correlation_length : float
        Gaussian correlation length of the field, nm (> 0).
    """

    thickness: float = 3.0
    roughness: float = 0.5
    correlation_length: float = 1.0

    def __post_init__(self):
        for name in ("thickness", "roughness", "correlation_length"):
            value = getattr(self, name)
            if not np.isfinite(value) or value < 0 or (name == "correlation_length" and value == 0):
                raise ValueError(f"support.{name}: must be a {'positive' if name == 'correlation_length' else 'non-negative'} number of nm, got {value!r}")


@dataclass(frozen=True)
class Particle:
    """A shape made of a material, placed and oriented in the microscope frame.

    Parameters
    ----------
    shape : Shape
        The solid, in its own frame (nm).
    material : str or int
        Element symbol (``"Au"``) or atomic number Z.
    orientation : quaternion
        Object → microscope frame (anything ``stemsim.simulator.rotation.as_quaternion`` takes).
    position : tuple of float
        (x, y) of the centre from the image centre, nm.
    rotation_during_scan : ScanRotation or None
        The turn of the particle over one frame, or None for a static one.
    lattice : Lattice or None
        Its crystal structure, axes along the shape's (``stemsim.simulator.lattice``), for the
        contrast models that see it (``calibrated``, ``crystalline``); None: the element's
        reference structure (``Lattice.for_element``).

    Attributes
    ----------
    z : int
        The material's atomic number.
    """

    shape: Shape
    material: str | int = "Au"
    orientation: np.quaternion = IDENTITY
    position: tuple[float, float] = (0.0, 0.0)
    rotation_during_scan: ScanRotation | None = None
    lattice: Lattice | None = None
    z: int = field(init=False)

    def __post_init__(self):
        if not isinstance(self.shape, Shape):
            raise ValueError(f"shape: expected a simulator shape, got {type(self.shape).__name__}")
        object.__setattr__(self, "z", atomic_number(self.material))
        object.__setattr__(self, "orientation", as_quaternion(self.orientation))
        position = np.asarray(self.position, dtype=float)
        if position.shape != (2,) or not np.all(np.isfinite(position)):
            raise ValueError(f"position: expected finite (x, y) in nm, got {self.position!r}")
        object.__setattr__(self, "position", (float(position[0]), float(position[1])))
        if self.lattice is not None and not isinstance(self.lattice, Lattice):
            raise ValueError(f"lattice: expected a simulator Lattice, got {type(self.lattice).__name__}")

    @property
    def crystal(self) -> Lattice:
        """The lattice: ``lattice``, or the element's reference one (ValueError naming
        ``lattice`` if ASE has none)."""
        return self.lattice if self.lattice is not None else Lattice.for_element(self.z)

    def line_orientations(self, n_lines: int) -> np.ndarray:
        """Orientation of each scan line.

        Parameters
        ----------
        n_lines : int
            Scan lines of the frame (the image height, pixels).

        Returns
        -------
        numpy.ndarray
            (1,) quaternions if static, (n_lines,) if turning.
        """
        if self.rotation_during_scan is None or self.rotation_during_scan.angle == 0:
            return np.array([self.orientation])
        return self.rotation_during_scan.per_line(self.orientation, n_lines)

    def line_rotations(self, n_lines: int) -> np.ndarray:
        """Rotation matrices of the scan lines.

        Parameters
        ----------
        n_lines : int
            Scan lines of the frame (pixels).

        Returns
        -------
        numpy.ndarray
            (L, 3, 3) float64, L = 1 for a static particle, else ``n_lines``.
        """
        return rotation_matrices(self.line_orientations(n_lines))

    def kernel_arrays(self, rotations: np.ndarray):
        """The particle's solids in the microscope frame, as the thickness kernel reads them.

        Parameters
        ----------
        rotations : numpy.ndarray
            (L, 3, 3) scan-line rotation matrices (``line_rotations``).

        Returns
        -------
        planes, quadrics, pieces, bounds : numpy.ndarray
            (L, P, 4), (L, Q, 9), (K, 4) int and (L, 4) arrays for
            ``stemsim.simulator.kernels.project_thickness`` (nm; layout in ``stemsim.simulator.kernels``).
        """
        layout = self.shape.kernel_layout
        shift = np.array([self.position[0], self.position[1], 0.0])
        n_lines = len(rotations)
        normals = layout.normals @ rotations.transpose(0, 2, 1)  # (L, P, 3)
        planes = np.empty((n_lines, len(layout.normals), 4))
        planes[..., :3] = normals
        planes[..., 3] = layout.offsets + normals @ shift
        planes = bound_coefficients(planes)
        quadrics = np.zeros((n_lines, max(len(layout.quadrics), 1), 9))
        for q, (centre, matrix) in enumerate(layout.quadrics):
            quadrics[:, q, :3] = rotations @ centre + shift
            world = rotations @ matrix @ rotations.transpose(0, 2, 1)
            quadrics[:, q, 3:] = world[:, [0, 0, 0, 1, 1, 2], [0, 1, 2, 1, 2, 2]]
        centres, radii = self.shape.hull_spheres
        xy = (centres @ rotations.transpose(0, 2, 1))[..., :2] + shift[:2]  # (L, m, 2)
        bounds = np.stack([(xy[..., 0] - radii).min(axis=1), (xy[..., 0] + radii).max(axis=1),
                           (xy[..., 1] - radii).min(axis=1), (xy[..., 1] + radii).max(axis=1)], axis=1)
        return planes, quadrics, layout.table, bounds

    def projected_sites(self, rotations: np.ndarray, pixel_size: float, shape_hw: tuple[int, int]) -> np.ndarray:
        """Pixel coordinates of every site, where the scan meets it.

        With rotation during the scan, the row picks the line's orientation.

        Parameters
        ----------
        rotations : numpy.ndarray
            (L, 3, 3) scan-line rotation matrices (``line_rotations``).
        pixel_size : float
            nm per pixel.
        shape_hw : tuple of int
            (H, W) of the image, pixels.

        Returns
        -------
        numpy.ndarray
            (n_sites, 2) float64 (column, row), pixels, pixel centres at integers.
        """
        sites = self.shape.sites
        height, width = shape_hw
        shift = np.array(self.position)
        world = sites @ rotations[0, :2].T + shift
        rows = world[:, 1] / pixel_size + height / 2 - 0.5
        for _ in range(4 if len(rotations) > 1 else 0):  # fixed point: row ↔ that line's orientation
            line = np.clip(np.rint(rows), 0, len(rotations) - 1).astype(int)
            world = np.einsum("nij,nj->ni", rotations[line, :2], sites) + shift
            rows = world[:, 1] / pixel_size + height / 2 - 0.5
        columns = world[:, 0] / pixel_size + width / 2 - 0.5
        return np.stack([columns, rows], axis=1)


@dataclass(frozen=True)
class Scene:
    """Particles on an optional carbon support.  Overlapping particles add thickness.

    Parameters
    ----------
    particles : sequence of Particle
        The particles (one ``Particle`` alone is taken as a sequence of one).
    support : CarbonFilm or None
        The carbon film under them, or None for none.
    """

    particles: tuple[Particle, ...]
    support: CarbonFilm | None = None

    def __post_init__(self):
        particles = (self.particles,) if isinstance(self.particles, Particle) else tuple(self.particles)
        if not all(isinstance(p, Particle) for p in particles):
            raise ValueError("particles: expected simulator.Particle objects")
        object.__setattr__(self, "particles", particles)
