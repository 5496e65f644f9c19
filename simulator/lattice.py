"""Crystal lattices of the particles: the element's structure and lattice constant (ASE's data).

The lattice is fixed to the shape's own frame: its cell axes are the shape's x, y, z axes and
a lattice point sits at the shape's origin (its centre). A cube of an fcc metal therefore has
{100} facets, and the particle's orientation (shape → microscope frame) says which crystal
direction lies along the beam.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from stemsim.simulator.materials import atomic_number, symbol

STRUCTURES = ("fcc", "bcc", "hcp", "diamond", "sc", "amorphous")
"""Lattice structures a particle can be filled with (``amorphous``: random close packing at the
element's atomic density)."""


@lru_cache(maxsize=None)
def _reference_state(z: int) -> dict:
    from ase.data import reference_states

    state = reference_states[z]
    return dict(state) if state else {}


def reference_structure(material: str | int) -> str | None:
    """The element's crystal structure in ASE's reference states (``fcc``, ``bcc``, ``hcp``,
    ``diamond``, ... or another of ASE's names), or None where ASE has none."""
    return _reference_state(atomic_number(material)).get("symmetry")


@dataclass(frozen=True)
class Lattice:
    """A crystal structure with its lattice constants.

    Parameters
    ----------
    structure : str
        One of :data:`STRUCTURES`.
    a : float
        Lattice constant, nm (> 0); for ``amorphous`` the edge of the cube one atom occupies
        (``Lattice.for_element`` sets it so that the atomic density is the crystal's).
    c : float or None
        The second constant of ``hcp``, nm; None for the others.
    """

    structure: str
    a: float
    c: float | None = None

    def __post_init__(self):
        if self.structure not in STRUCTURES:
            raise ValueError(f"lattice: expected one of {', '.join(STRUCTURES)}, got {self.structure!r}")
        if not (np.isfinite(self.a) and self.a > 0):
            raise ValueError(f"lattice_constant: expected a positive number of nm, got {self.a!r}")
        if self.structure == "hcp" and not (self.c is not None and np.isfinite(self.c) and self.c > 0):
            raise ValueError(f"lattice: hcp needs c > 0 nm, got {self.c!r}")

    @classmethod
    def for_element(cls, material: str | int, structure: str = "auto", a: float | None = None) -> "Lattice":
        """The element's lattice from ASE's reference states (``ase.data.reference_states``).

        Parameters
        ----------
        material : str or int
            Element symbol or Z.
        structure : str
            ``auto`` (the element's reference structure) or one of :data:`STRUCTURES`; a
            structure other than the reference one keeps the reference atomic density.
        a : float, optional
            Lattice constant, nm, instead of ASE's.

        Raises
        ------
        ValueError
            Naming ``lattice`` when the element has no crystalline reference state in ASE
            and no structure and constant are given.
        """
        return _for_element(atomic_number(material), structure, None if a is None else float(a))

    @property
    def cell(self) -> np.ndarray:
        """(3, 3) cell vectors (rows), nm, in the shape's frame."""
        if self.structure == "hcp":
            return np.array([[self.a, 0, 0], [-self.a / 2, self.a * np.sqrt(3) / 2, 0], [0, 0, self.c]])
        return np.eye(3) * self.a

    @property
    def basis(self) -> np.ndarray:
        """(m, 3) fractional positions of the atoms in one cell (ASE's conventional cells)."""
        return _basis(self.structure)

    @property
    def volume_per_atom(self) -> float:
        """nm³ per atom."""
        return float(abs(np.linalg.det(self.cell))) / len(self.basis)

    @property
    def number_density(self) -> float:
        """Atoms per nm³."""
        return 1.0 / self.volume_per_atom

    @property
    def is_cubic(self) -> bool:
        """Whether the cell is cubic (zone axes [u v w] are then directions in the shape's frame)."""
        return self.structure in ("fcc", "bcc", "diamond", "sc")


@lru_cache(maxsize=256)
def _for_element(z: int, structure: str, a: float | None) -> "Lattice":
    """``Lattice.for_element``, built once per element, structure and constant (a particle asks
    for its lattice on every image)."""
    state = _reference_state(z)
    reference = state.get("symmetry")
    if reference not in STRUCTURES and a is None:
        raise ValueError(f"lattice: ASE has no crystal structure for {symbol(z)} ({reference or 'none'}); "
                         f"give lattice and lattice_constant")
    if structure == "auto":
        if reference not in STRUCTURES:
            raise ValueError(f"lattice: ASE has no crystal structure for {symbol(z)}; name one")
        structure = reference
    if a is not None:
        c = a * state.get("c/a", np.sqrt(8 / 3)) if structure == "hcp" else None
        return Lattice(structure, float(a), c)
    a_ref = state["a"] / 10.0  # Å → nm
    c_ref = a_ref * state["c/a"] if reference == "hcp" else None
    if structure == reference:
        return Lattice(structure, a_ref, c_ref)
    # another structure at the reference atomic density
    volume = Lattice(reference, a_ref, c_ref).volume_per_atom
    if structure == "hcp":
        ratio = np.sqrt(8 / 3)
        a_new = (volume * 2 / (np.sqrt(3) / 2 * ratio)) ** (1 / 3)
        return Lattice(structure, a_new, a_new * ratio)
    per_cell = {"fcc": 4, "bcc": 2, "diamond": 8, "sc": 1, "amorphous": 1}[structure]
    return Lattice(structure, (volume * per_cell) ** (1 / 3))


@lru_cache(maxsize=None)
def _basis(structure: str) -> np.ndarray:
    if structure == "amorphous":
        basis = np.zeros((1, 3))
    else:
        from ase.build import bulk

        kwargs = {"cubic": True} if structure != "hcp" else {}
        # the positions of ASE's conventional cell (the element only names the prototype)
        prototype = {"fcc": ("Cu", 3.6), "bcc": ("Fe", 2.87), "diamond": ("Si", 5.43), "sc": ("Po", 3.35),
                     "hcp": ("Mg", 3.21)}[structure]
        atoms = bulk(prototype[0], structure, a=prototype[1], **kwargs)
        basis = np.mod(atoms.get_scaled_positions(), 1.0)
    basis.flags.writeable = False
    return basis
