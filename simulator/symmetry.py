"""Symmetry groups of vertex sets, and configuration classes of deformed vertices.

A *configuration* is the set of deformed vertices.  Two configurations that a
symmetry of the shape maps onto each other give the same images, so they form one
*configuration class* (an orbit of the group acting on vertex subsets).

Which group?  A single projection cannot tell an object from its mirror image:
if ``M = diag(1, 1, -1)`` flips the beam axis, the mirrored object seen in orientation
``M R M`` (a proper rotation) projects exactly as the object seen in ``R``.  So by
default the classes are orbits of the *full* point group (rotations and improper
operations, ``group="projection"``).  ``group="rotation"`` gives orbits of the proper
rotations alone (Burnside counts 1, 1, 3, 3, 7, 3, 3, 1, 1 for the cube, against
1, 1, 3, 3, 6, 3, 3, 1, 1 with mirrors).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from itertools import combinations

import numpy as np

GROUPS = ("projection", "rotation")


def _frame(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    e1 = a / np.linalg.norm(a)
    e2 = b - (b @ e1) * e1
    e2 /= np.linalg.norm(e2)
    return np.stack([e1, e2, np.cross(e1, e2)], axis=1)


def point_group(points: np.ndarray, proper_only: bool = False, tol: float = 1e-6) -> np.ndarray:
    """All orthogonal maps of the centred point set onto itself, as permutations.

    Parameters
    ----------
    points : (n, 3) array
        Vertex (or site) positions; the group fixes their centroid.
    proper_only : bool
        Keep only rotations (determinant +1).

    Returns
    -------
    (G, n) int array; row ``g`` sends vertex ``i`` to vertex ``perm[g, i]``.
    The identity is row 0.
    """
    points = np.asarray(points, dtype=float)
    centred = points - points.mean(axis=0)
    scale = np.abs(centred).max()
    centred = centred / scale
    norms = np.linalg.norm(centred, axis=1)
    first = int(np.argmax(norms > tol))
    a = centred[first]
    second = None
    for j in range(len(centred)):
        if norms[j] > tol and np.linalg.norm(np.cross(a, centred[j])) > 1e-3 * norms[j] * norms[first]:
            second = j
            break
    if second is None:
        raise ValueError("point_group: the points are collinear")
    b = centred[second]
    source = _frame(a, b)
    perms = {tuple(range(len(points)))}
    ordered = [tuple(range(len(points)))]
    for i in range(len(centred)):
        if abs(norms[i] - norms[first]) > tol:
            continue
        for j in range(len(centred)):
            if j == i or abs(norms[j] - norms[second]) > tol or abs(centred[i] @ centred[j] - a @ b) > tol:
                continue
            target = _frame(centred[i], centred[j])
            for handedness in ((1.0,) if proper_only else (1.0, -1.0)):
                matrix = target @ np.diag([1.0, 1.0, handedness]) @ source.T
                image = centred @ matrix.T
                distances = np.linalg.norm(image[:, None, :] - centred[None, :, :], axis=2)
                perm = distances.argmin(axis=1)
                if distances[np.arange(len(perm)), perm].max() < 1e-5 and len(set(perm.tolist())) == len(perm):
                    key = tuple(int(p) for p in perm)
                    if key not in perms:
                        perms.add(key)
                        ordered.append(key)
    return np.array(ordered, dtype=np.int64)


@dataclass(frozen=True)
class ConfigurationClass:
    """One orbit of deformed-vertex sets.

    ``n_deformed`` vertices are deformed; ``index`` numbers the classes with that count
    (ordered by their smallest member); ``representative`` is that smallest member.
    """

    n_deformed: int
    index: int
    representative: tuple[int, ...]
    name: str
    size: int  # number of vertex sets in the orbit


class ConfigurationSpace:
    """Configuration classes of the vertex subsets of one shape.

    Parameters
    ----------
    points : (n, 3) array of vertex positions (object frame).
    edges : pairs of vertex indices joined by an edge.
    faces : vertex-index tuples of each face (for naming pairs).
    group : ``"projection"`` (default; rotations and mirrors) or ``"rotation"``.
    """

    def __init__(self, points, edges=(), faces=(), group: str = "projection"):
        if group not in GROUPS:
            raise ValueError(f"group: expected one of {GROUPS}, got {group!r}")
        self.n = len(points)
        self.group = group
        self.permutations = point_group(points, proper_only=(group == "rotation"))
        self._edges = {frozenset(e) for e in edges}
        self._faces = [frozenset(f) for f in faces]

    def canonical(self, vertices) -> tuple[int, ...]:
        """The smallest sorted image of ``vertices`` under the group."""
        vertices = np.asarray(sorted(set(int(v) for v in vertices)), dtype=np.int64)
        if len(vertices) == 0:
            return ()
        images = np.sort(self.permutations[:, vertices], axis=1)
        return tuple(int(v) for v in min(map(tuple, images)))

    @cached_property
    def _classes(self) -> dict[int, list[ConfigurationClass]]:
        result: dict[int, list[ConfigurationClass]] = {}
        for k in range(self.n + 1):
            sizes: dict[tuple[int, ...], int] = {}
            for subset in combinations(range(self.n), k):
                key = self.canonical(subset)
                sizes[key] = sizes.get(key, 0) + 1
            reps = sorted(sizes)
            names = [self._describe(rep) for rep in reps]
            unique = [name if names.count(name) == 1 else f"{name}-{i}" for i, name in enumerate(names)]
            result[k] = [ConfigurationClass(k, i, rep, unique[i], sizes[rep]) for i, rep in enumerate(reps)]
        return result

    def _describe(self, rep: tuple[int, ...]) -> str:
        k = len(rep)
        if k == 0:
            return "none"
        if k == self.n:
            return "all"
        if k == 1:
            return "single"
        if k == 2:
            pair = frozenset(rep)
            if pair in self._edges:
                return "edge"
            if any(pair <= face for face in self._faces):
                return "face-diagonal"
            return "opposite"
        return f"k{k}"

    def classes(self, n_deformed: int) -> list[ConfigurationClass]:
        """All classes with ``n_deformed`` deformed vertices."""
        if not 0 <= n_deformed <= self.n:
            raise ValueError(f"n_deformed: must be in 0..{self.n}, got {n_deformed}")
        return self._classes[n_deformed]

    def classify(self, vertices) -> ConfigurationClass:
        """The class of a set of deformed vertex indices."""
        vertices = sorted(set(int(v) for v in vertices))
        if any(not 0 <= v < self.n for v in vertices):
            raise ValueError(f"vertices: indices must be in 0..{self.n - 1}, got {vertices}")
        key = self.canonical(vertices)
        for cls in self._classes[len(vertices)]:
            if cls.representative == key:
                return cls
        raise AssertionError("unreachable: every canonical set is a class representative")

    def sample(self, cls: ConfigurationClass, rng: np.random.Generator) -> tuple[int, ...]:
        """A vertex set drawn uniformly from the members of class ``cls``."""
        g = int(rng.integers(len(self.permutations)))
        # Uniform over the group gives uniform over the orbit (each member has the
        # same number of group elements sending the representative onto it).
        return tuple(sorted(int(v) for v in self.permutations[g, list(cls.representative)]))
