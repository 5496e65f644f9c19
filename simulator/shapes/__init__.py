"""Shapes in their own frame (nm), built from convex pieces, with vertex deformations.

Every shape is a union of convex *pieces* minus a union of other pieces; a convex piece
is an intersection of half-spaces ``n·p <= d``, optionally intersected with an
ellipsoid ``(p - c)ᵀ A (p - c) <= 1``.  A straight ray meets a convex piece in one
interval, so projected thickness is computed exactly, without voxels
(:mod:`stemsim.simulator.kernels`).

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

Modules: :mod:`~stemsim.simulator.shapes.base` (pieces, deformations, the :class:`Shape` base),
:mod:`~stemsim.simulator.shapes.polyhedra` (cuboid, pyramids, octahedron),
:mod:`~stemsim.simulator.shapes.curved` (sphere, ellipsoid) and :mod:`~stemsim.simulator.shapes.registry`
(the one list of shapes a spec can name: :data:`REGISTRY`).
"""

from __future__ import annotations

from stemsim.simulator.shapes.base import DEFORMATION_KINDS, ConvexPiece, Deformation, KernelLayout, Shape
from stemsim.simulator.shapes.curved import Ellipsoid, Sphere
from stemsim.simulator.shapes.polyhedra import ConvexPolyhedron, Cuboid, Octahedron, Pyramid
from stemsim.simulator.shapes.registry import (REGISTRY, SHAPE_NAMES, ShapeKind, build_shape, configuration_names,
                                       reference_space, shape_kind)

SHAPES = {"pyramid": Pyramid, **{name: kind.cls for name, kind in REGISTRY.items()}}
"""Shape classes by name (``pyramid``: either pyramid); what a spec can name is :data:`REGISTRY`."""

__all__ = [
    "DEFORMATION_KINDS", "REGISTRY", "SHAPES", "SHAPE_NAMES", "ConvexPiece", "ConvexPolyhedron", "Cuboid",
    "Deformation", "Ellipsoid", "KernelLayout", "Octahedron", "Pyramid", "Shape", "ShapeKind", "Sphere",
    "build_shape", "configuration_names", "reference_space", "shape_kind",
]
