"""The base of every shape: convex pieces, vertex deformations, symmetry classes.

See :mod:`stemsim.simulator.shapes` for the model (pieces, sites, deformation kinds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np

from stemsim.simulator.symmetry import ConfigurationClass, ConfigurationSpace

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
        """Configuration classes of deformed-site sets (see :mod:`stemsim.simulator.symmetry`)."""
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
        """The pieces flattened for :mod:`stemsim.simulator.kernels` (computed once per shape)."""
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

def _configuration_space(key, group: str) -> ConfigurationSpace:
    # Group orbits are costly to enumerate and identical for every shape with the same
    # geometry, so they are shared.
    if (key, group) not in _SPACES:
        name, flat, edges, faces = key
        _SPACES[(key, group)] = ConfigurationSpace(np.reshape(flat, (-1, 3)), edges, faces, group)
    return _SPACES[(key, group)]
