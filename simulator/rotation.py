"""Orientations as unit quaternions (numpy-quaternion), and rotation during the scan.

Convention: a quaternion ``q`` maps object-frame vectors to the microscope frame,
``p_world = R(q) @ p_object``.  The beam runs along the microscope's z axis; rows of an
image are scan lines along y (slow axis), columns run along x (fast axis).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import quaternion

IDENTITY = quaternion.one


def as_quaternion(value) -> np.quaternion:
    """A unit quaternion from a quaternion or a sequence ``(w, x, y, z)``.

    Parameters
    ----------
    value : quaternion or sequence of float
        A quaternion, or its 4 components (w, x, y, z); need not be normalised.

    Returns
    -------
    quaternion
        The unit quaternion (object → microscope frame).

    Raises
    ------
    ValueError
        Naming ``orientation``, for NaN, infinite or zero-norm input.
    """
    if isinstance(value, np.quaternion):
        components = quaternion.as_float_array(value)
    else:
        components = np.asarray(value, dtype=float)
        if components.shape != (4,):
            raise ValueError(f"orientation: expected a quaternion (w, x, y, z), got shape {components.shape}")
    if not np.all(np.isfinite(components)):
        raise ValueError("orientation: quaternion has NaN or infinite components")
    norm = float(np.linalg.norm(components))
    if norm < 1e-12:
        raise ValueError("orientation: quaternion has zero norm")
    return quaternion.from_float_array(components / norm)


def random_rotation(rng: np.random.Generator) -> np.quaternion:
    """A rotation drawn uniformly over SO(3) (Haar measure).

    A normalised 4-D standard normal vector is uniform on the 3-sphere, whose
    image in SO(3) is Haar-uniform.

    Parameters
    ----------
    rng : numpy.random.Generator
        Draws 4 standard normals (rarely more).

    Returns
    -------
    quaternion
        A unit quaternion.
    """
    while True:
        components = rng.standard_normal(4)
        norm = np.linalg.norm(components)
        if norm > 1e-9:
            return quaternion.from_float_array(components / norm)


def axis_angle(axis, angle_deg: float) -> np.quaternion:
    """Rotation by ``angle_deg`` about ``axis``.

    Parameters
    ----------
    axis : sequence of float
        (x, y, z), non-zero; need not be normalised.
    angle_deg : float
        Degrees, right-handed about ``axis``.

    Returns
    -------
    quaternion
        A unit quaternion.
    """
    axis = np.asarray(axis, dtype=float)
    norm = np.linalg.norm(axis)
    if axis.shape != (3,) or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"axis: expected a non-zero 3-vector, got {axis.tolist()}")
    return quaternion.from_rotation_vector(axis / norm * np.deg2rad(angle_deg))


@dataclass(frozen=True)
class ScanRotation:
    """The object turns by ``angle`` degrees about ``axis`` (microscope frame) over one frame.

    Applied per scan line: line ``i`` of ``n`` sees the rotation ``i/(n-1) * angle``
    composed before the object's own orientation.  Composing axis-angle rotations is
    slerp from the first to the last line's orientation, and stays right beyond 180°.

    Parameters
    ----------
    axis : tuple of float
        (x, y, z) in the microscope frame, non-zero.
    angle : float
        Degrees over the whole frame (finite; may exceed 360).
    """

    axis: tuple[float, float, float] = (0.0, 0.0, 1.0)
    angle: float = 0.0

    def __post_init__(self):
        axis_angle(self.axis, self.angle)  # validates
        if not np.isfinite(self.angle):
            raise ValueError(f"rotation_during_scan.angle: must be finite, got {self.angle}")

    def per_line(self, orientation: np.quaternion, n_lines: int) -> np.ndarray:
        """Orientation of each scan line.

        Parameters
        ----------
        orientation : quaternion
            The object's orientation at the first line.
        n_lines : int
            Scan lines of the frame (pixels).

        Returns
        -------
        numpy.ndarray
            (n_lines,) quaternions.
        """
        fractions = np.linspace(0.0, 1.0, n_lines) if n_lines > 1 else np.zeros(1)
        axis = np.asarray(self.axis, dtype=float)
        axis = axis / np.linalg.norm(axis)
        turns = quaternion.from_rotation_vector(fractions[:, None] * np.deg2rad(self.angle) * axis)
        return turns * orientation


def rotation_matrices(quaternions) -> np.ndarray:
    """Rotation matrices ``(..., 3, 3)`` (float64) of a quaternion or a ``(...)`` quaternion array.

    (``quaternion.rotate_vectors`` pairs every quaternion with every vector; matrices
    keep the pairing one-to-one.)
    """
    return quaternion.as_rotation_matrix(np.asarray(quaternions))


BEAM = np.array([0.0, 0.0, 1.0])
"""The beam direction, the microscope's +z."""


def _onto_beam(direction: np.ndarray) -> np.quaternion:
    """The rotation taking unit vector ``direction`` onto +z: the shortest one,
    ``q = (1 + d·z, d × z)`` normalised, which is exact while d·z >= 0; below, a half turn
    about x first (d → (dx, -dy, -dz)), so that 1 + d·z never cancels."""
    if direction[2] < 0:
        flipped = np.array([direction[0], -direction[1], -direction[2]])
        return _onto_beam(flipped) * np.quaternion(0.0, 1.0, 0.0, 0.0)
    x, y, z = np.cross(direction, BEAM)
    return np.quaternion(1.0 + float(direction[2]), x, y, z).normalized()


def zone_axis_rotation(direction, rng: np.random.Generator, tilt_mrad: float = 0.0) -> np.quaternion:
    """An orientation that images the object along ``direction``, turned at random about the beam,
    then mistilted.

    Three rotations, composed in this order: the shortest rotation that maps the unit vector
    along ``direction`` (object frame) onto the beam (+z); a turn about the beam by an angle
    uniform in [0, 2π); a mistilt, the rotation whose rotation vector is ``(θx, θy, 0)`` with
    θx, θy each drawn from N(0, ``tilt_mrad``): a tilt about an in-plane axis of uniformly random
    azimuth by the angle |θ| (so the rms tilt per in-plane axis is ``tilt_mrad`` and
    E[|θ|²] = 2 σ²). The generator always gives three draws (one uniform, two normals), whatever
    the tilt, so that what follows in its stream does not depend on it.

    Parameters
    ----------
    direction : sequence of float
        (3,) a direction in the object (shape) frame, non-zero, finite; need not be normalised
        (for a crystal, its cell vectors combined: ``[u, v, w] @ Lattice.cell``).
    rng : numpy.random.Generator
        Draws the turn about the beam and the mistilt.
    tilt_mrad : float
        rms mistilt per in-plane axis, mrad (>= 0; 0: exactly on the axis).

    Returns
    -------
    quaternion
        A unit quaternion (object → microscope frame); with ``R`` its matrix, the beam in
        the object frame ``R.T @ [0, 0, 1]`` is ``direction / |direction|`` at zero tilt.

    Raises
    ------
    ValueError
        Naming ``zone_axis`` for a zero, NaN or infinite direction, ``zone_axis_tilt`` for
        a negative or non-finite tilt.
    """
    d = np.asarray(direction, dtype=float)
    norm = float(np.linalg.norm(d)) if d.shape == (3,) else 0.0
    if d.shape != (3,) or not np.isfinite(norm) or norm == 0:
        raise ValueError(f"zone_axis: expected a non-zero finite 3-vector, got {np.asarray(direction).tolist()}")
    if not (np.isfinite(tilt_mrad) and tilt_mrad >= 0):
        raise ValueError(f"zone_axis_tilt: expected an rms angle >= 0 mrad, got {tilt_mrad!r}")
    align = _onto_beam(d / norm)
    turn = quaternion.from_rotation_vector(BEAM * rng.uniform(0.0, 2 * np.pi))
    theta = rng.standard_normal(2) * (tilt_mrad * 1e-3)  # rad
    tilt = quaternion.from_rotation_vector([theta[0], theta[1], 0.0])
    return (tilt * turn * align).normalized()
