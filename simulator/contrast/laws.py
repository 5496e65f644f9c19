"""The multislice thickness laws I(t) shipped with the package, and the orientation classes.

A law gives the HAADF fraction I(t) of the incident beam (70–200 mrad detector, 200 kV, 20 mrad
probe, frozen phonons at 293 K) that a slab of thickness t (nm) scatters, averaged over the probe
position: the multislice reference of issue #26 (``python -m stemsim.benchmarks.fidelity_reference``,
``results/fidelity/thickness_law.json``).  The package ships a copy of its ``laws`` block,
``thickness_laws.json``, next to this module; :func:`write_law_table` (or ``python -m
stemsim.simulator.contrast.laws``) regenerates it from the results file.

Tabulated: Au and Pt, each ``off_axis`` (no zone axis or low-index plane near the beam),
``001`` and ``011`` (cubic zone axes along the beam), and amorphous carbon (the support).
Every other element gets the Au off-axis law scaled by ``(Z/79)^n · (n_element/n_Au)``
(:func:`law_for`): an approximation (the mass-thickness scaling of the linear model, applied to
gold's measured non-linearity), not a measurement.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np

from stemsim.simulator.lattice import Lattice
from stemsim.simulator.materials import CARBON_Z, atomic_number, symbol

LAW_TABLE = "thickness_laws.json"
"""The shipped table, package data of ``stemsim.simulator.contrast``."""

ORIENTATION_CLASSES = ("off_axis", "001", "011")
"""What :func:`orientation_class` returns; the carbon support's class is ``amorphous``."""
_CLASS_NAMES = np.array(ORIENTATION_CLASSES)
SQRT2 = math.sqrt(2.0)

GOLD_Z = 79
SETTINGS_SUMMARY = {  # the reference's conditions the laws hold for (provenance of the table)
    "energy_kV": 200.0, "semiangle_mrad": 20.0, "detector_mrad": [70.0, 200.0],
    "thermal": "frozen phonons, 293 K", "probe": "aberration-free, averaged over its position",
}


# I/t (1/nm) of each form, t > 0 (nm); the parameter names are those of the ``laws`` entries.
def _power(t, a, b):
    return a * np.exp((b - 1.0) * np.log(t))  # t**(b-1), twice as fast as numpy's pow


def _saturating(t, a, lambda_nm):
    return a * lambda_nm * -np.expm1(-t / lambda_nm) / t


def _relaxing(t, c0, c_inf, tau_nm):
    return c_inf + (c0 - c_inf) * np.exp(-t / tau_nm)


def _channelling(t, c0, c_inf, g, tau_nm):
    return c_inf + (c0 - c_inf + g * t) * np.exp(-t / tau_nm)


FORMS = {  # form -> (I/t as a function of t and the parameters, parameter names)
    "power": (_power, ("a", "b")),
    "saturating": (_saturating, ("a", "lambda_nm")),
    "relaxing": (_relaxing, ("c0", "c_inf", "tau_nm")),
    "channelling": (_channelling, ("c0", "c_inf", "g", "tau_nm")),
    "table": (lambda t, t_nm, i_per_nm: np.interp(t, t_nm, i_per_nm), ("t_nm", "i_per_nm")),
}
"""The registry of law forms (``laws_doc`` of the results file gives the same formulas for I)."""


@dataclass(frozen=True)
class ThicknessLaw:
    """A HAADF thickness law, I(t) = t · per_nm(t).

    Inside ``valid_nm`` it is the form's formula (``table``: I/t interpolated linearly between
    the points).  Outside it:

    - below ``valid_nm[0]`` I/t is held at its value there (the thin, single-scattering limit:
      I is linear in t), so I(0) = 0, I is continuous and ``per_nm(0)`` is finite (a power law
      with b < 1 would otherwise diverge there);
    - above ``valid_nm[1]`` a formula continues itself; a table holds I/t at its last point
      (I continues linearly with that slope through the origin).

    Parameters
    ----------
    form : str
        A key of :data:`FORMS`.
    parameters : tuple
        ``(name, value)`` pairs of the form's parameters (a table's are tuples of floats).
    valid_nm : tuple of float
        (lowest, highest) thickness the reference measured, nm.
    scale : float
        Multiplies I (the Z and density scaling of an untabulated element; 1 for measured laws).
    label : str
        Where it comes from, e.g. ``"Au off_axis"``.
    """

    form: str
    parameters: tuple
    valid_nm: tuple[float, float]
    scale: float = 1.0
    label: str = ""

    def __post_init__(self):
        if self.form not in FORMS:
            raise ValueError(f"form: expected one of {', '.join(FORMS)}, got {self.form!r}")
        names = tuple(name for name, _ in self.parameters)
        if names != FORMS[self.form][1]:
            raise ValueError(f"parameters: form {self.form} takes {FORMS[self.form][1]}, got {names}")
        low, high = map(float, self.valid_nm)
        if not 0 < low <= high:
            raise ValueError(f"valid_nm: expected 0 < low <= high nm, got {self.valid_nm!r}")
        object.__setattr__(self, "valid_nm", (low, high))
        if self.form == "table":  # the interpolation's ends are the measured range
            object.__setattr__(self, "valid_nm", (float(self.parameters[0][1][0]), float(self.parameters[0][1][-1])))

    @classmethod
    def from_entry(cls, entry: dict, scale: float = 1.0, label: str = "") -> "ThicknessLaw":
        """The law of one ``laws`` entry of the table (``{"form": ..., <parameters>, "valid_nm"}``)."""
        names = FORMS[entry["form"]][1] if entry.get("form") in FORMS else ()
        parameters = tuple((name, tuple(map(float, entry[name])) if isinstance(entry[name], list)
                            else float(entry[name])) for name in names)
        return cls(entry.get("form"), parameters, tuple(entry["valid_nm"]), float(scale), label)

    def per_nm(self, t) -> np.ndarray:
        """I/t, 1/nm (fraction of the beam per nm), at thickness ``t``.

        Parameters
        ----------
        t : array_like
            Thickness, nm, any shape, >= 0.

        Returns
        -------
        numpy.ndarray
            float64, the shape of ``t``.
        """
        return self._per_nm(_checked(t))

    def __call__(self, t) -> np.ndarray:
        """I(t), the HAADF fraction of the beam, at thickness ``t`` (nm, array_like >= 0); the
        shape of ``t``, float64."""
        t = _checked(t)
        return t * self._per_nm(t)

    def accumulate(self, t: np.ndarray, out: np.ndarray) -> None:
        """``out += I(t)`` in place, for float64 ``t`` already known to be >= 0 (a thickness
        map: no check, the contrast model's inner loop)."""
        per_nm = self._per_nm(t)
        per_nm *= t
        out += per_nm

    def _per_nm(self, t: np.ndarray) -> np.ndarray:
        function, _ = FORMS[self.form]
        values = [np.asarray(value) if isinstance(value, tuple) else value for _, value in self.parameters]
        per_nm = np.asarray(function(np.maximum(t, self.valid_nm[0]), *values), dtype=np.float64)  # thin limit below
        if self.scale != 1.0:
            per_nm *= self.scale
        return per_nm


def _checked(t) -> np.ndarray:
    t = np.asarray(t, dtype=np.float64)
    if t.size and not t.min() >= 0:  # also catches NaN
        raise ValueError("thickness: expected finite values >= 0 nm")
    return t


@lru_cache(maxsize=None)
def load_law_table() -> dict:
    """The shipped table (``thickness_laws.json``): ``laws``, ``laws_doc`` and provenance."""
    return json.loads(resources.files("stemsim.simulator.contrast").joinpath(LAW_TABLE).read_text())


def law_table_from_results(results: dict) -> dict:
    """What ships as ``thickness_laws.json``, from the parsed ``results/fidelity/thickness_law.json``:
    its ``laws`` and ``laws_doc`` blocks, the command and versions that made them, a summary of the
    settings and the thicknesses measured."""
    settings = results.get("settings", {})
    return {
        "source": "results/fidelity/thickness_law.json",
        "command": results.get("command"),
        "versions": results.get("versions"),
        "settings": {**SETTINGS_SUMMARY, "configurations": settings.get("configurations"),
                     "parametrization": settings.get("parametrization"),
                     "thicknesses_nm": settings.get("thicknesses_nm")},
        "laws_doc": results["laws_doc"],
        "laws": results["laws"],
    }


def write_law_table(results: str | Path = "results/fidelity/thickness_law.json", out: str | Path | None = None) -> Path:
    """Regenerate the shipped table from the multislice results file.

    Parameters
    ----------
    results : str or Path
        ``results/fidelity/thickness_law.json`` (made by ``python -m
        stemsim.benchmarks.fidelity_reference``).
    out : str or Path, optional
        Where to write; default: the package's own ``thickness_laws.json`` (in the source tree
        of an editable install).

    Returns
    -------
    Path
        The file written.
    """
    table = law_table_from_results(json.loads(Path(results).read_text()))
    path = Path(out) if out is not None else Path(__file__).with_name(LAW_TABLE)
    path.write_text(json.dumps(table, indent=1) + "\n")
    for cached in (load_law_table, law_for, _carbon_per_nm):
        cached.cache_clear()
    return path


@lru_cache(maxsize=256)
def law_for(z: int, orientation_class: str = "off_axis", z_exponent: float = 1.7,
            number_density: float | None = None) -> ThicknessLaw:
    """The thickness law of element ``z`` seen along ``orientation_class``.

    - Tabulated elements (Au, Pt; C): their measured law of that class.  A class the table
      lacks for them falls back to their ``off_axis`` law, or to their only law (carbon's is
      ``amorphous``, whatever the class).
    - Any other element: the Au off-axis law times ``(Z/79)^z_exponent · (n/n_Au)``, with n the
      element's number density (``number_density``, default that of its reference lattice,
      ``Lattice.for_element(z).number_density``) and n_Au the table's.  An approximation: the
      linear model's mass-thickness scaling applied to gold's measured shape of I(t).  No
      channelling is modelled for them: every class gives the off-axis law.

    Parameters
    ----------
    z : int
        Atomic number (or symbol).
    orientation_class : str
        ``off_axis``, ``001``, ``011`` (:func:`orientation_class`) or ``amorphous``.
    z_exponent : float
        n of the Z^n scaling (only for untabulated elements).
    number_density : float, optional
        Atoms per nm³ (only for untabulated elements).

    Returns
    -------
    ThicknessLaw
    """
    z = atomic_number(z)
    if orientation_class not in (*ORIENTATION_CLASSES, "amorphous"):
        raise ValueError(f"orientation_class: expected one of {', '.join(ORIENTATION_CLASSES)}, amorphous; "
                         f"got {orientation_class!r}")
    laws = load_law_table()["laws"]
    name = symbol(z)
    if name in laws:
        entries = {key: value for key, value in laws[name].items() if isinstance(value, dict)}
        key = orientation_class if orientation_class in entries else (
            "off_axis" if "off_axis" in entries else next(iter(entries)))
        return ThicknessLaw.from_entry(entries[key], label=f"{name} {key}")
    gold = laws["Au"]
    density = Lattice.for_element(z).number_density if number_density is None else float(number_density)
    scale = (z / GOLD_Z) ** z_exponent * density / gold["number_density_per_nm3"]
    return ThicknessLaw.from_entry(gold["off_axis"], scale=scale, label=f"{name}: Au off_axis scaled")


def orientation_classes(rotations: np.ndarray, lattice: Lattice, tolerance_mrad: float = 10.0) -> list[str]:
    """:func:`orientation_class` of each of (L, 3, 3) ``rotations``: a list of L str."""
    rotations = np.asarray(rotations, dtype=np.float64)
    if not lattice.is_cubic:
        return ["off_axis"] * len(rotations)
    # |cos| to the nearest <001>: the largest |component| of the unit beam direction; to the
    # nearest <011>: the two largest over sqrt(2).  The classes are 45 degrees apart: at most
    # one is within tolerance.
    limit = math.cos(tolerance_mrad * 1e-3)
    if len(rotations) == 1:  # a static particle: the same rule on three floats (numpy's overhead is 5x)
        low, mid, big = sorted(abs(value) for value in rotations[0, 2].tolist())
        norm = math.sqrt(low * low + mid * mid + big * big)
        return [ORIENTATION_CLASSES[1 if big >= limit * norm else 2 if mid + big >= limit * SQRT2 * norm else 0]]
    beam = np.abs(rotations[:, 2, :])  # |R.T @ (0, 0, 1)|: the beam direction in the crystal frame
    beam /= np.sqrt((beam * beam).sum(axis=1, keepdims=True))
    beam.sort(axis=1)
    codes = np.where(beam[:, 2] >= limit, 1, np.where(beam[:, 1] + beam[:, 2] >= limit * SQRT2, 2, 0))
    return _CLASS_NAMES[codes].tolist()


def orientation_class(rotation: np.ndarray, lattice: Lattice, tolerance_mrad: float = 10.0) -> str:
    """Which thickness law a crystal sees: the zone axis along the beam, if any.

    The beam direction in the shape (crystal) frame is ``R.T @ (0, 0, 1)``.  For a cubic lattice
    (fcc, bcc, diamond, sc) within ``tolerance_mrad`` of a <001> direction it is ``"001"``, of a
    <011> one ``"011"``, else ``"off_axis"``.  Non-cubic lattices (hcp, amorphous) are always
    ``"off_axis"``: the table has no zone-axis laws for them.

    Parameters
    ----------
    rotation : numpy.ndarray
        (3, 3) object → microscope rotation (``Particle.line_rotations``).
    lattice : Lattice
        The particle's crystal (``Particle.crystal``).
    tolerance_mrad : float
        Largest angle between beam and zone axis that counts as on the axis, mrad (inclusive).

    Returns
    -------
    str
        ``"off_axis"``, ``"001"`` or ``"011"``.
    """
    rotation = np.asarray(rotation, dtype=np.float64)
    if rotation.shape != (3, 3):
        raise ValueError(f"rotation: expected a (3, 3) matrix, got shape {rotation.shape}")
    return str(orientation_classes(rotation[None], lattice, tolerance_mrad)[0])


def carbon_per_nm(thickness: float) -> float:
    """The support's signal per nm, I_C(t̄)/t̄ (1/nm), at its mean thickness (nm)."""
    return _carbon_per_nm(float(thickness))


@lru_cache(maxsize=64)
def _carbon_per_nm(thickness: float) -> float:
    return float(carbon_law().per_nm(thickness))


def carbon_law() -> ThicknessLaw:
    """The amorphous carbon law of the support (the table's ``C amorphous``); also the
    module attribute ``CARBON``."""
    return law_for(CARBON_Z, "amorphous")


def __getattr__(name: str):
    # ``CARBON``, the support's law, read on first use: the module imports without the table
    # (``write_law_table`` makes it)
    if name == "CARBON":
        return carbon_law()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    """``python -m stemsim.simulator.contrast.laws [results.json]``: regenerate the shipped table."""
    import sys

    print(write_law_table(*sys.argv[1:2]))


if __name__ == "__main__":
    main()
