"""The one list of shapes: name → how to build it from a spec's sizes, its sites, its symmetry.

The dataset spec (``object.shape``, ``classes.values``), the sampler and the generator read
:data:`REGISTRY`, so every shape listed here can be simulated *and* generated. A new shape is
one class (in :mod:`stemsim.simulator.shapes.polyhedra` or :mod:`stemsim.simulator.shapes.curved`) and one
:class:`ShapeKind` entry below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

from stemsim.simulator.shapes.base import Shape
from stemsim.simulator.shapes.curved import Ellipsoid, Sphere
from stemsim.simulator.shapes.polyhedra import Cuboid, Octahedron, Pyramid
from stemsim.simulator.symmetry import ConfigurationSpace


@dataclass(frozen=True)
class ShapeKind:
    """One shape a spec can name.

    Attributes
    ----------
    name : str
        The spec's name (``object.shape``), e.g. ``"square_pyramid"``.
    cls : type[Shape]
        The class that simulates it.
    build : Callable[[float, float, float], Shape]
        ``build(size, aspect_b, aspect_c)``: the undeformed shape of characteristic length
        ``size`` nm (see ``size``), aspects dimensionless.
    sites : int
        Deformable sites (vertices a deformation can act on); 0: it takes no deformation.
    symmetry : str
        Point group of the regular (aspect 1) shape, whose classes label configurations.
    size : str
        What ``object.size`` is for this shape.
    takes_aspect : bool
        Whether ``object.aspect`` is drawn for it (twice: the y and the z scale); otherwise
        both aspects are 1.
    article : str
        ``a`` or ``an``, as messages name it (the octahedron keeps the ``a`` that its pinned
        messages have always had).
    """

    name: str
    cls: type
    build: Callable[[float, float, float], Shape]
    sites: int
    symmetry: str
    size: str
    takes_aspect: bool = False
    article: str = "a"

    @property
    def noun(self) -> str:
        """The name as a message writes it (``square pyramid``)."""
        return self.name.replace("_", " ")

    @property
    def called(self) -> str:
        """The name with its article (``a square pyramid``, ``an ellipsoid``)."""
        return f"{self.article} {self.noun}"


REGISTRY: dict[str, ShapeKind] = {kind.name: kind for kind in (
    ShapeKind("cuboid", Cuboid, lambda size, b, c: Cuboid(size, size * b, size * c), 8,
              "Oh (a cube; the classes of the regular shape label every aspect)",
              "edge a (nm); b = aspect·a, c = aspect·a, each aspect drawn apart", takes_aspect=True),
    ShapeKind("tetrahedron", Pyramid, lambda size, b, c: Pyramid(size, sides=3), 4, "Td", "edge (nm)"),
    ShapeKind("square_pyramid", Pyramid, lambda size, b, c: Pyramid(size, sides=4), 5, "C4v",
              "base edge (nm); every edge equal"),
    ShapeKind("octahedron", Octahedron, lambda size, b, c: Octahedron(size), 6, "Oh", "edge (nm)"),
    ShapeKind("sphere", Sphere, lambda size, b, c: Sphere(size / 2), 8,
              "Oh (its eight sites: an inscribed cube's corners)", "diameter (nm)"),
    ShapeKind("ellipsoid", Ellipsoid, lambda size, b, c: Ellipsoid(size / 2, size * b / 2, size * c / 2), 0,
              "D2h (no sites: it takes no deformation)",
              "diameter along x (nm); along y aspect·size, along z aspect·size, each aspect drawn apart "
              "(a rod: one long axis)", takes_aspect=True, article="an"),
)}
"""Every shape a spec can name, in the order the spec's messages list them."""

SHAPE_NAMES: tuple[str, ...] = tuple(REGISTRY)


def shape_kind(name: str) -> ShapeKind:
    """The registry entry of ``name``; ValueError naming ``object.shape`` when unknown."""
    try:
        return REGISTRY[name]
    except (KeyError, TypeError):
        raise ValueError(f"object.shape: unknown shape {name!r}") from None


def build_shape(name: str, size: float, aspect_b: float = 1.0, aspect_c: float = 1.0) -> Shape:
    """The undeformed shape ``name`` whose characteristic length is ``size`` nm: the cuboid's
    edge ``a`` (``b = aspect_b·a``, ``c = aspect_c·a``), the pyramids' base edge, the
    octahedron's edge, the sphere's diameter, the ellipsoid's diameter along x (its other
    diameters ``aspect_b·size`` and ``aspect_c·size``)."""
    return shape_kind(name).build(size, aspect_b, aspect_c)


@lru_cache(maxsize=None)
def reference_space(name: str) -> ConfigurationSpace:
    """The configuration space (:class:`stemsim.simulator.symmetry.ConfigurationSpace`) whose classes
    label the deformed vertices of shape ``name``."""
    # Classes come from the regular shape: an elongated cuboid's images could tell more
    # apart, never less, so these labels stay honest.
    return build_shape(name, 1.0).configuration_space("projection")


def configuration_names(shape: str, n_deformed: int) -> list[str]:
    """Names of the configuration classes of ``n_deformed`` deformed vertices of ``shape``."""
    return [c.name for c in reference_space(shape).classes(n_deformed)]
