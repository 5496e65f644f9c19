"""Shapes in their own frame (nm), built from convex pieces, with vertex deformations.

Every shape is a union of convex *pieces* minus a union of other pieces; a convex piece
is an intersection of half-spaces ``n·p <= d``, optionally intersected with an
ellipsoid ``(p - c)ᵀ A (p - c) <= 1``.  A straight ray meets a convex piece in one
interval, so projected thickness is computed exactly, without voxels
(:mod:`simulator.kernels`).

Deformations act on *sites*: the vertices of a polyhedron, or eight surface points of a
sphere (the directions of an inscribed cube's corners, so that 0–8 deformations mean
the same on every shape).

- ``truncate``: a plane cuts the corner through the points at ``depth`` × each adjacent
  edge (for a sphere: a flat facet ``depth`` × R deep).
- ``dent``: a sphere of radius ``depth`` × (shortest adjacent edge, or R) centred on the
  site is removed.
- ``bump``: the same sphere is added.

``depth`` lies in (0, 0.5], so deformations of neighbouring sites never overlap on a
polyhedron.  Shapes are immutable: ``truncate``/``dent``/``bump`` return a new shape.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache

import numpy as np
from scipy.spatial import ConvexHull

from simulator.symmetry import ConfigurationClass, ConfigurationSpace

DEFORMATION_KINDS = ("truncate", "dent", "bump")


@dataclass(frozen=True)
class ConvexPiece:
    """A convex solid: ``planes`` rows ``(nx, ny, nz, d)`` mean ``n·p <= d``; ``quadric``
    ``(centre (3,), A (3, 3))`` means ``(p - c)ᵀ A (p - c) <= 1``.  ``sign`` +1 adds the
    piece to the object, -1 removes it."""

    planes: np.ndarray
    quadric: tuple[np.ndarray, np.ndarray] | None = None
    sign: int = 1


@dataclass(frozen=True)
class KernelLayout:
    """A shape's pieces flattened for the kernels (object frame): plane ``normals`` (P, 3)
    and ``offsets`` (P,), ``quadrics`` [(centre, A)], and the piece ``table`` (K, 4)
    ``(first plane, end plane, quadric index or -1, sign)``."""

    normals: np.ndarray
    offsets: np.ndarray
    quadrics: tuple
    table: np.ndarray


@dataclass(frozen=True)
class Deformation:
    """A deformation of ``kind`` at site index ``site``, ``depth`` in (0, 0.5]."""

    kind: str
    site: int
    depth: float


def _positive(name: str, value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number of nm, got {value!r}") from None
    if not math.isfinite(number) or number <= 0:
        raise ValueError(f"{name}: must be a positive number of nm, got {value!r}")
    return number


def _sphere_quadric(centre, radius: float) -> tuple[np.ndarray, np.ndarray]:
    return np.asarray(centre, dtype=float), np.eye(3) / radius**2


@dataclass(frozen=True)
class Shape:
    """Base class: a solid with deformable sites.  Subclasses set the geometry."""

    deformations: tuple[Deformation, ...] = field(default=(), kw_only=True)

    # --- geometry that subclasses provide --------------------------------------------
    @property
    def name(self) -> str:
        return type(self).__name__.lower()

    @property
    def sites(self) -> np.ndarray:
        """Deformable points ``(n_sites, 3)``, nm, object frame (centre of mass at 0)."""
        raise NotImplementedError

    @property
    def vertices(self) -> np.ndarray:
        """Vertices ``(n, 3)`` nm (empty for curved shapes)."""
        return np.zeros((0, 3))

    @property
    def edges(self) -> tuple[tuple[int, int], ...]:
        return ()

    @property
    def faces(self) -> tuple[tuple[int, ...], ...]:
        return ()

    @property
    def base_volume(self) -> float:
        """Analytic volume of the undeformed shape, nm³."""
        raise NotImplementedError

    def _base_piece(self) -> ConvexPiece:
        raise NotImplementedError

    def _site_scale(self, site: int) -> float:
        """Length that ``depth`` multiplies for dents and bumps at ``site`` (nm)."""
        raise NotImplementedError

    def _truncation_plane(self, site: int, depth: float) -> np.ndarray:
        raise NotImplementedError

    def _truncation_planes(self, sites, depths) -> np.ndarray:
        """Planes ``(k, 4)`` cutting ``sites`` at ``depths``."""
        return np.vstack([self._truncation_plane(site, depth) for site, depth in zip(sites, depths)])

    @cached_property
    def hull_spheres(self) -> tuple[np.ndarray, np.ndarray]:
        """Centres ``(m, 3)`` and radii ``(m,)`` of balls whose convex hull holds the object
        (object frame); their projections bound the object's image."""
        if len(self.vertices):
            centres, radii = [self.vertices], [np.zeros(len(self.vertices))]
        else:
            centres, radii = [np.zeros((1, 3))], [np.array([self.bounding_radius])]
        for d in self.deformations:
            if d.kind == "bump":
                centres.append(self.sites[d.site][None, :])
                radii.append(np.array([d.depth * self._site_scale(d.site)]))
        return np.vstack(centres), np.concatenate(radii)

    @property
    def bounding_radius(self) -> float:
        """Radius (nm) of a sphere about the origin that holds the whole object."""
        radius = float(np.linalg.norm(self.sites, axis=1).max()) if len(self.sites) else 0.0
        for d in self.deformations:
            if d.kind == "bump":
                radius = max(radius, float(np.linalg.norm(self.sites[d.site])) + d.depth * self._site_scale(d.site))
        return radius

    # --- deformations ----------------------------------------------------------------
    @property
    def n_sites(self) -> int:
        return len(self.sites)

    def _deformed(self, kind: str, sites, depth: float) -> Shape:
        if kind not in DEFORMATION_KINDS:
            raise ValueError(f"deformation.kind: expected one of {DEFORMATION_KINDS}, got {kind!r}")
        sites = [sites] if isinstance(sites, (int, np.integer)) else list(sites)
        try:
            depth = float(depth)
        except (TypeError, ValueError):
            raise ValueError(f"depth: expected a number in (0, 0.5], got {depth!r}") from None
        if not (0.0 < depth <= 0.5):
            raise ValueError(f"depth: must be in (0, 0.5] (a fraction of the adjacent edges), got {depth}")
        taken = {d.site for d in self.deformations}
        if len(taken) + len(sites) > self.n_sites:
            raise ValueError(
                f"vertices: {len(taken) + len(sites)} deformations asked, but a {self.name} has {self.n_sites} vertices"
            )
        new = []
        for site in sites:
            if not isinstance(site, (int, np.integer)) or not 0 <= site < self.n_sites:
                raise ValueError(f"vertices: index {site!r} is not a vertex of a {self.name} (0..{self.n_sites - 1})")
            if int(site) in taken:
                raise ValueError(f"vertices: vertex {site} is deformed twice")
            taken.add(int(site))
            new.append(Deformation(kind, int(site), depth))
        return replace(self, deformations=self.deformations + tuple(new))

    def truncate(self, vertices, depth: float) -> Shape:
        """Cut ``vertices`` (index or indices) off with a plane at ``depth`` × adjacent edges."""
        return self._deformed("truncate", vertices, depth)

    def dent(self, vertices, depth: float) -> Shape:
        """Remove a sphere of radius ``depth`` × shortest adjacent edge at each vertex."""
        return self._deformed("dent", vertices, depth)

    def bump(self, vertices, depth: float) -> Shape:
        """Add a sphere of radius ``depth`` × shortest adjacent edge at each vertex."""
        return self._deformed("bump", vertices, depth)

    def deform(self, kind: str, vertices, depth: float) -> Shape:
        """``truncate``, ``dent`` or ``bump`` by name."""
        return self._deformed(kind, vertices, depth)

    @property
    def deformed_sites(self) -> tuple[int, ...]:
        return tuple(sorted(d.site for d in self.deformations))

    # --- symmetry ----------------------------------------------------------------------
    def configuration_space(self, group: str = "projection") -> ConfigurationSpace:
        """Configuration classes of deformed-site sets (see :mod:`simulator.symmetry`)."""
        return _configuration_space(self._symmetry_key(), group)

    def _symmetry_key(self):
        return (type(self).__name__, tuple(np.round(self.sites, 9).ravel()), self.edges, self.faces)

    def configuration(self, group: str = "projection") -> ConfigurationClass:
        """The configuration class of this shape's deformed sites."""
        return self.configuration_space(group).classify(self.deformed_sites)

    # --- the solid ----------------------------------------------------------------------
    def pieces(self) -> list[ConvexPiece]:
        """Convex pieces in the object frame; the base piece first."""
        return list(self._pieces)

    @cached_property
    def kernel_layout(self) -> KernelLayout:
        """The pieces flattened for :mod:`simulator.kernels` (computed once per shape)."""
        pieces = self._pieces
        planes = np.vstack([p.planes for p in pieces])
        quadrics = tuple(p.quadric for p in pieces if p.quadric is not None)
        table = np.zeros((len(pieces), 4), dtype=np.int64)
        first = q = 0
        for k, piece in enumerate(pieces):
            table[k] = (first, first + len(piece.planes), q if piece.quadric is not None else -1, piece.sign)
            first += len(piece.planes)
            q += piece.quadric is not None
        return KernelLayout(np.ascontiguousarray(planes[:, :3]), planes[:, 3].copy(), quadrics, table)

    @cached_property
    def _pieces(self) -> tuple[ConvexPiece, ...]:
        base = self._base_piece()
        cuts = [(d.site, d.depth) for d in self.deformations if d.kind == "truncate"]
        if cuts:
            sites, depths = zip(*cuts)
            base = replace(base, planes=np.vstack([base.planes, self._truncation_planes(sites, depths)]))
        pieces = [base]
        for d in self.deformations:
            if d.kind in ("dent", "bump"):
                quadric = _sphere_quadric(self.sites[d.site], d.depth * self._site_scale(d.site))
                pieces.append(ConvexPiece(np.zeros((0, 4)), quadric, -1 if d.kind == "dent" else 1))
        return tuple(pieces)


_SPACES: dict = {}


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


def _configuration_space(key, group: str) -> ConfigurationSpace:
    # Group orbits are costly to enumerate and identical for every shape with the same
    # geometry, so they are shared.
    if (key, group) not in _SPACES:
        name, flat, edges, faces = key
        _SPACES[(key, group)] = ConfigurationSpace(np.reshape(flat, (-1, 3)), edges, faces, group)
    return _SPACES[(key, group)]


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


SHAPES = {"cuboid": Cuboid, "pyramid": Pyramid, "tetrahedron": Pyramid, "octahedron": Octahedron,
          "sphere": Sphere, "ellipsoid": Ellipsoid}
