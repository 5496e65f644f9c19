"""Configuration classes: orbits of deformed-vertex sets under the shape's symmetry group."""

from itertools import combinations

import numpy as np
import pytest

from stemsim.simulator import Cuboid, Pyramid, Sphere
from stemsim.simulator.symmetry import point_group


def burnside_counts(permutations, n):
    """Number of orbits of k-subsets for k = 0..n: average over the group of the
    number of k-subsets each element fixes (products of (1 + x^len) over its cycles)."""
    totals = np.zeros(n + 1)
    for perm in permutations:
        seen, poly = set(), np.array([1.0])
        for start in range(n):
            if start in seen:
                continue
            length, v = 0, start
            while v not in seen:
                seen.add(v)
                v = perm[v]
                length += 1
            factor = np.zeros(length + 1)
            factor[0] = factor[length] = 1
            poly = np.convolve(poly, factor)
        totals[: len(poly)] += poly
    return (totals / len(permutations)).round(9).tolist()


def test_cube_groups_have_the_right_orders():
    assert len(Cuboid(5).configuration_space("rotation").permutations) == 24
    assert len(Cuboid(5).configuration_space("projection").permutations) == 48
    assert len(Cuboid(4, 5, 6).configuration_space("rotation").permutations) == 4
    assert len(Cuboid(4, 4, 6).configuration_space("rotation").permutations) == 8
    assert len(Pyramid(5).configuration_space("rotation").permutations) == 12
    assert len(Pyramid(5, sides=4).configuration_space("projection").permutations) == 8


def test_cube_class_counts_match_burnside():
    rotation = Cuboid(5).configuration_space("rotation")
    counts = [len(rotation.classes(k)) for k in range(9)]
    assert counts == [1, 1, 3, 3, 7, 3, 3, 1, 1]
    assert counts == burnside_counts(rotation.permutations, 8)
    projection = Cuboid(5).configuration_space("projection")
    counts = [len(projection.classes(k)) for k in range(9)]
    # Mirrors join the two chiral 4-vertex configurations: images cannot tell them apart.
    assert counts == [1, 1, 3, 3, 6, 3, 3, 1, 1]
    assert counts == burnside_counts(projection.permutations, 8)


@pytest.mark.parametrize("shape", [Cuboid(4, 5, 6), Pyramid(5), Pyramid(5, sides=4), Sphere(3)],
                         ids=["box", "tetrahedron", "square-pyramid", "sphere"])
def test_other_shapes_match_burnside(shape):
    for group in ("rotation", "projection"):
        space = shape.configuration_space(group)
        counts = [len(space.classes(k)) for k in range(shape.n_sites + 1)]
        assert counts == burnside_counts(space.permutations, shape.n_sites)
        # The orbits partition all subsets.
        assert sum(c.size for k in range(shape.n_sites + 1) for c in space.classes(k)) == 2**shape.n_sites


def test_two_deformed_cube_corners_give_edge_face_and_body_diagonal():
    cube = Cuboid(5)
    names = [c.name for c in cube.configuration_space().classes(2)]
    assert names == ["edge", "face-diagonal", "opposite"]
    # Vertices 0 and 1 differ in z only: an edge; 0 and 3 differ in y and z: a face diagonal.
    assert cube.truncate([0, 1], 0.2).configuration().name == "edge"
    assert cube.truncate([0, 3], 0.2).configuration().name == "face-diagonal"
    assert cube.truncate([0, 7], 0.2).configuration().name == "opposite"
    assert [c.size for c in cube.configuration_space().classes(2)] == [12, 12, 4]


def test_rotated_vertex_sets_share_a_class():
    space = Cuboid(5).configuration_space("rotation")
    rng = np.random.default_rng(0)
    for k in range(9):
        for subset in combinations(range(8), k):
            perm = space.permutations[rng.integers(len(space.permutations))]
            image = [int(perm[v]) for v in subset]
            assert space.classify(subset) == space.classify(image)


def test_sample_draws_members_of_the_class():
    space = Cuboid(5).configuration_space()
    rng = np.random.default_rng(1)
    for cls in space.classes(3):
        members = {space.sample(cls, rng) for _ in range(200)}
        assert all(space.classify(m) == cls for m in members)
        assert len(members) == cls.size  # 200 draws reach every member of orbits this small


def test_point_group_of_points_without_symmetry_is_trivial():
    points = np.array([[0, 0, 0], [1, 0, 0], [0, 2, 0], [0, 0, 3.5]])
    assert point_group(points).shape == (1, 4)
