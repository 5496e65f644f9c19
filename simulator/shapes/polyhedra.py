"""Convex polyhedra: faces and edges from the hull; the cuboid, the pyramids, the octahedron."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np
from scipy.spatial import ConvexHull

from stemsim.simulator.shapes.base import ConvexPiece, Shape, _positive


@lru_cache(maxsize=None)
def _neighbours(key, edges, site: int) -> list[int]:
    return [j if i == site else i for i, j in edges if site in (i, j)]


_TOPOLOGIES: dict = {}


def _polyhedron_topology(key, vertices: np.ndarray):
    """Faces (vertex-index tuples) and edges (index pairs) of a convex polyhedron."""
    if key not in _TOPOLOGIES:
        hull = ConvexHull(vertices)
        scale = np.abs(vertices).max()
        faces: list[tuple[int, ...]] = []
        for equation in hull.equations:  # triangles: coplanar ones make one face
            on_face = np.abs(vertices @ equation[:3] + equation[3]) < 1e-9 * scale
            face = tuple(int(i) for i in np.flatnonzero(on_face))
            if face not in faces:
                faces.append(face)
        edges = tuple(
            (i, j)
            for i, j in itertools.combinations(range(len(vertices)), 2)
            if sum(1 for f in faces if i in f and j in f) >= 2
        )
        _TOPOLOGIES[key] = (tuple(faces), edges)
    return _TOPOLOGIES[key]


@dataclass(frozen=True)
class ConvexPolyhedron(Shape):
    """A convex polyhedron given by its vertices; faces and edges follow from the hull."""

    @property
    def vertices(self) -> np.ndarray:
        raise NotImplementedError

    @property
    def sites(self) -> np.ndarray:
        return self.vertices

    @property
    def faces(self):
        return _polyhedron_topology(self._topology_key(), self.vertices)[0]

    @property
    def edges(self):
        return _polyhedron_topology(self._topology_key(), self.vertices)[1]

    def _topology_key(self):
        """Instances with equal keys share faces and edges (sizes do not change them)."""
        return type(self).__name__, len(self.vertices)

    @cached_property
    def _planes(self) -> np.ndarray:
        vertices = self.vertices
        # No three corners of a convex face are collinear, so any three give the normal.
        corners = np.array([vertices[list(face[:3])] for face in self.faces])  # (F, 3, 3)
        normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        offsets = np.einsum("fi,fi->f", normals, corners[:, 0])
        outward = np.where(offsets - normals @ vertices.mean(axis=0) < 0, -1.0, 1.0)
        return np.column_stack([normals * outward[:, None], offsets * outward])

    def neighbours(self, site: int) -> list[int]:
        """Indices of the vertices joined to ``site`` by an edge."""
        return _neighbours(self._topology_key(), self.edges, site)

    def _base_piece(self) -> ConvexPiece:
        return ConvexPiece(self._planes.copy())

    def _site_scale(self, site: int) -> float:
        vertex = self.vertices[site]
        return float(min(np.linalg.norm(self.vertices[j] - vertex) for j in self.neighbours(site)))

    def _truncation_plane(self, site: int, depth: float) -> np.ndarray:
        vertex = self.vertices[site]
        points = vertex + depth * (self.vertices[self.neighbours(site)] - vertex)
        centre = points.mean(axis=0)
        if len(points) == 3:
            (ax, ay, az), (bx, by, bz) = (points[1] - points[0]).tolist(), (points[2] - points[0]).tolist()
            normal = np.array([ay * bz - az * by, az * bx - ax * bz, ax * by - ay * bx])  # np.cross is slow here
            normal /= math.sqrt(normal @ normal)
        else:  # exactly coplanar for the regular shapes; the best plane otherwise
            normal = np.linalg.svd(points - centre)[2][-1]
        if normal @ (vertex - centre) < 0:
            normal = -normal
        return np.append(normal, normal @ centre)[None, :]


@dataclass(frozen=True)
class Cuboid(ConvexPolyhedron):
    """Rectangular box with edges ``a`` × ``b`` × ``c`` nm (a cube when only ``a`` is given).

    Vertex ``i`` sits at ``(±a/2, ±b/2, ±c/2)`` with the signs of ``itertools.product``.
    """

    a: float = 10.0
    b: float | None = None
    c: float | None = None

    def __post_init__(self):
        a = _positive("a", self.a)
        object.__setattr__(self, "a", a)
        object.__setattr__(self, "b", a if self.b is None else _positive("b", self.b))
        object.__setattr__(self, "c", a if self.c is None else _positive("c", self.c))

    @cached_property
    def vertices(self) -> np.ndarray:
        half = np.array([self.a, self.b, self.c]) / 2
        return np.array(list(itertools.product((-1.0, 1.0), repeat=3))) * half

    @property
    def base_volume(self) -> float:
        return self.a * self.b * self.c

    @cached_property
    def _planes(self) -> np.ndarray:
        half = np.array([self.a, self.b, self.c]) / 2
        return np.hstack([np.vstack([-np.eye(3), np.eye(3)]), np.concatenate([half, half])[:, None]])

    def _truncation_planes(self, sites, depths) -> np.ndarray:
        # In corner coordinates t_i ≥ 0 (inward from the vertex along each edge) the cut
        # keeps Σ t_i / e_i ≥ depth, i.e. Σ (s_i / e_i) x_i ≤ 3/2 − depth for vertex signs s.
        signs = np.sign(self.vertices[list(sites)])
        normals = signs / np.array([self.a, self.b, self.c])
        norms = np.sqrt((normals * normals).sum(axis=1, keepdims=True))
        return np.hstack([normals, (1.5 - np.asarray(depths, dtype=float))[:, None]]) / norms


@dataclass(frozen=True)
class Pyramid(ConvexPolyhedron):
    """Pyramid on a regular ``sides``-gon (3 or 4) with edge ``base`` and ``height`` (nm).

    Default heights make every edge equal: the regular tetrahedron (3 sides) and the
    half-octahedron (4 sides).  The centre of mass (height/4 above the base) is the
    origin; the apex is the last vertex.
    """

    base: float = 10.0
    height: float | None = None
    sides: int = 3

    def __post_init__(self):
        if self.sides not in (3, 4):
            raise ValueError(f"sides: a pyramid base has 3 or 4 sides, got {self.sides!r}")
        base = _positive("base", self.base)
        object.__setattr__(self, "base", base)
        default = base * math.sqrt(2 / 3) if self.sides == 3 else base / math.sqrt(2)
        object.__setattr__(self, "height", default if self.height is None else _positive("height", self.height))

    @property
    def name(self) -> str:
        return "tetrahedron" if self.sides == 3 else "square pyramid"

    def _topology_key(self):
        return type(self).__name__, self.sides

    @cached_property
    def vertices(self) -> np.ndarray:
        circumradius = self.base / (2 * math.sin(math.pi / self.sides))
        angles = math.pi / 2 + 2 * math.pi * np.arange(self.sides) / self.sides
        if self.sides == 4:
            angles = angles + math.pi / 4
        base = np.stack([circumradius * np.cos(angles), circumradius * np.sin(angles),
                         np.full(self.sides, -self.height / 4)], axis=1)
        return np.vstack([base, [[0.0, 0.0, 0.75 * self.height]]])

    @property
    def base_volume(self) -> float:
        area = self.sides * self.base**2 / (4 * math.tan(math.pi / self.sides))
        return area * self.height / 3


@dataclass(frozen=True)
class Octahedron(ConvexPolyhedron):
    """Regular octahedron with edge ``edge`` nm."""

    edge: float = 10.0

    def __post_init__(self):
        object.__setattr__(self, "edge", _positive("edge", self.edge))

    @cached_property
    def vertices(self) -> np.ndarray:
        r = self.edge / math.sqrt(2)
        return np.vstack([np.eye(3) * r, -np.eye(3) * r])

    @property
    def base_volume(self) -> float:
        return math.sqrt(2) / 3 * self.edge**3
