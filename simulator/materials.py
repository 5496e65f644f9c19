"""Materials: element symbols and atomic numbers Z (ADF contrast goes as Z^n)."""

from __future__ import annotations

_SYMBOLS = (
    "H He Li Be B C N O F Ne Na Mg Al Si P S Cl Ar K Ca Sc Ti V Cr Mn Fe Co Ni Cu Zn Ga Ge As Se "
    "Br Kr Rb Sr Y Zr Nb Mo Tc Ru Rh Pd Ag Cd In Sn Sb Te I Xe Cs Ba La Ce Pr Nd Pm Sm Eu Gd Tb Dy "
    "Ho Er Tm Yb Lu Hf Ta W Re Os Ir Pt Au Hg Tl Pb Bi Po At Rn Fr Ra Ac Th Pa U Np Pu Am Cm Bk Cf "
    "Es Fm Md No Lr"
).split()

ATOMIC_NUMBER: dict[str, int] = {symbol: z for z, symbol in enumerate(_SYMBOLS, start=1)}
CARBON_Z = 6


def atomic_number(material: str | int) -> int:
    """Atomic number of an element symbol or an integer Z.

    Parameters
    ----------
    material : str or int
        Element symbol (``"Au"``; any case, surrounding spaces ignored) or Z.

    Returns
    -------
    int
        Z, in 1..103.

    Raises
    ------
    ValueError
        Naming ``material``, for an unknown symbol or a Z outside 1..103.
    """
    if isinstance(material, bool):
        raise ValueError(f"material: expected an element symbol or Z, got {material!r}")
    if isinstance(material, (int,)) or (hasattr(material, "__index__") and not isinstance(material, str)):
        z = int(material)
        if not 1 <= z <= len(_SYMBOLS):
            raise ValueError(f"material: Z must be in 1..{len(_SYMBOLS)}, got {z}")
        return z
    if isinstance(material, str):
        key = material.strip()
        key = key[:1].upper() + key[1:].lower()
        if key in ATOMIC_NUMBER:
            return ATOMIC_NUMBER[key]
        raise ValueError(f"material: unknown element {material!r}")
    raise ValueError(f"material: expected an element symbol or Z, got {material!r}")


def symbol(z: int) -> str:
    """Element symbol (``"Au"``) of atomic number ``z`` (1..103)."""
    return _SYMBOLS[atomic_number(z) - 1]
