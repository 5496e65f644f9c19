"""Curved shapes: the sphere (eight sites, an inscribed cube's corners) and the ellipsoid (none)."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np

from stemsim.simulator.shapes.base import ConvexPiece, Shape, _positive, _sphere_quadric


_CUBE_DIRECTIONS = np.array(list(itertools.product((-1.0, 1.0), repeat=3))) / math.sqrt(3)
_CUBE_EDGES = tuple((i, j) for i, j in itertools.combinations(range(8), 2) if bin(i ^ j).count("1") == 1)
_CUBE_FACES = tuple(
    tuple(i for i in range(8) if (i >> bit) & 1 == value) for bit in range(3) for value in (0, 1)
)


@dataclass(frozen=True)
class Sphere(Shape):
    """Sphere of ``radius`` nm.  Its eight sites point to an inscribed cube's corners
    (cube site order and symmetry), so a deformed sphere has the cube's configurations."""

    radius: float = 5.0

    def __post_init__(self):
        object.__setattr__(self, "radius", _positive("radius", self.radius))

    @property
    def sites(self) -> np.ndarray:
        return _CUBE_DIRECTIONS * self.radius

    @property
    def edges(self):
        return _CUBE_EDGES

    @property
    def faces(self):
        return _CUBE_FACES

    @property
    def base_volume(self) -> float:
        return 4 / 3 * math.pi * self.radius**3

    def _base_piece(self) -> ConvexPiece:
        return ConvexPiece(np.zeros((0, 4)), _sphere_quadric(np.zeros(3), self.radius))

    def _site_scale(self, site: int) -> float:
        return self.radius

    def _truncation_plane(self, site: int, depth: float) -> np.ndarray:
        direction = _CUBE_DIRECTIONS[site]
        return np.append(direction, self.radius * (1 - depth))[None, :]


@dataclass(frozen=True)
class Ellipsoid(Shape):
    """Ellipsoid with semi-axes ``a``, ``b``, ``c`` nm along x, y, z (a rod when one is
    long).  It has no deformable sites."""

    a: float = 5.0
    b: float = 5.0
    c: float = 10.0

    def __post_init__(self):
        for name in ("a", "b", "c"):
            object.__setattr__(self, name, _positive(name, getattr(self, name)))

    @property
    def sites(self) -> np.ndarray:
        return np.zeros((0, 3))

    @property
    def bounding_radius(self) -> float:
        return max(self.a, self.b, self.c)

    @property
    def base_volume(self) -> float:
        return 4 / 3 * math.pi * self.a * self.b * self.c

    def _base_piece(self) -> ConvexPiece:
        return ConvexPiece(np.zeros((0, 4)), (np.zeros(3), np.diag(np.array([self.a, self.b, self.c]) ** -2.0)))

    def configuration_space(self, group: str = "projection"):
        raise ValueError("shape: an ellipsoid has no vertices to deform")

