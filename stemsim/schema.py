"""One schema mechanism for the project's YAML files: dataset specs, experiments, bench files.

A *section* is a ``dict`` mapping key name → :class:`Key`; a nested section is a key whose
check is :func:`section` of another dict. Declare one :class:`Key` per key, with its default
(or :data:`REQUIRED`), its check, a one-line doc and, for the reference pages, its range and
units::

    from stemsim.schema import Key, check_section, integer, number, section

    PROBE = {
        "fwhm": Key(0.12, number(0.0, 10.0), "probe diameter at half maximum", range="[0, 10]", units="nm"),
    }
    SCHEMA = {
        "epochs": Key(20, integer(1, 100000), "training epochs"),
        "probe": Key({}, section(PROBE), "the probe"),
    }
    resolved = check_section("", raw_mapping, SCHEMA)   # every key filled, values checked

A check is ``check(path, value) -> value``: it returns the (normalised) value or raises the
one-line :class:`~stemsim.errors.InputError` ``path: problem`` through :func:`fail` — the one
error format of every file. :func:`describe` lists a section's keys (dotted name, default,
range, units, doc) for the generated references (``python -m stemsim.schema_docs``).

The number predicates (:func:`is_number`, :func:`is_finite`, :func:`is_integer`) and the
range wording (:func:`range_problem`) are the one set of number checks: a bool is never a
number, NaN and infinities are never in range. Callers whose historical messages differ
(the dataset spec's) build their checks from these same pieces, so every message stays as
the tests pin it.

This module is the base layer: it imports nothing but :mod:`stemsim.errors` (no Keras, no
classifiers), so a file is checked before anything heavy loads.
"""

from __future__ import annotations

import contextlib
import contextvars
import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from stemsim.errors import InputError

REQUIRED = object()
"""Default marker of a key that has no default and must be given."""

Check = Callable[[str, Any], Any]


@dataclass(frozen=True)
class Key:
    """One key of a section.

    Attributes
    ----------
    default : Any
        Its value when not given, or :data:`REQUIRED`; a ``dict`` default of a nested
        section is filled through the section's own defaults.
    check : Check
        ``check(path, value) -> value``; raises through :func:`fail`.
    doc : str
        One line for the key reference.
    range : str
        The accepted values as a reader writes them (``"[0, 10]"``, ``"16..4096"``), or ``""``.
    units : str
        Physical units of the value (``"nm"``, ``"e/Å²"``), or ``""``.
    """

    default: Any
    check: Check
    doc: str = ""
    range: str = ""
    units: str = ""


@dataclass(frozen=True)
class KeyDoc:
    """One row of a key reference: the dotted ``key`` and what :class:`Key` says of it."""

    key: str
    default: Any
    range: str
    units: str
    doc: str


def fail(path: str, problem: str) -> None:
    """Raise the one-line :class:`InputError` ``path: problem`` for the key at ``path``."""
    raise InputError(f"{path}: {problem}")


def check_section(path: str, given: Any, schema: dict[str, Key]) -> dict[str, Any]:
    """Validate mapping ``given`` against ``schema``; return a new dict with every key filled.

    ``path`` is the dotted prefix used in error messages ("" for the top level).
    """
    if given is None:
        given = {}
    if not isinstance(given, dict):
        fail(path or "experiment", f"expected a mapping of keys, got {type(given).__name__}")
    prefix = f"{path}." if path else ""
    for key in given:
        if key not in schema:
            known = ", ".join(sorted(schema))
            fail(f"{prefix}{key}", f"unknown key (known here: {known})")
    out: dict[str, Any] = {}
    for key, spec in schema.items():
        if key in given:
            out[key] = spec.check(f"{prefix}{key}", given[key])
        elif spec.default is REQUIRED:
            fail(f"{prefix}{key}", "required key is missing")
        elif isinstance(spec.default, dict):  # a nested section: fill its defaults too
            out[key] = spec.check(f"{prefix}{key}", copy.deepcopy(spec.default))
        else:
            out[key] = copy.deepcopy(spec.default)
    return out


def defaults(schema: dict[str, Key]) -> dict[str, Any]:
    """Every key's default, nested sections as nested dicts (:data:`REQUIRED` kept as is)."""
    out: dict[str, Any] = {}
    for name, key in schema.items():
        inner = subschema(key)
        out[name] = defaults(inner) if inner is not None and key.default is not None else copy.deepcopy(key.default)
    return out


def subschema(key: Key) -> dict[str, Key] | None:
    """The nested section of ``key`` (made with :func:`section`), or None."""
    return getattr(key.check, "schema", None)


def describe(schema: dict[str, Key], prefix: str = "") -> list[KeyDoc]:
    """Every key of ``schema``, nested sections flattened to dotted names, in declaration order."""
    rows: list[KeyDoc] = []
    for name, key in schema.items():
        dotted = f"{prefix}{name}"
        inner = subschema(key)
        if inner is not None:
            rows.extend(describe(inner, f"{dotted}."))
        else:
            rows.append(KeyDoc(dotted, key.default, key.range or getattr(key.check, "range", ""), key.units, key.doc))
    return rows


# ---- the one set of number checks --------------------------------------------------------


def is_number(value: Any) -> bool:
    """An int or a float, never a bool (YAML's ``true`` is no number)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_finite(value: Any) -> bool:
    """A number that is neither NaN nor infinite (YAML's .nan / .inf); an int always is."""
    return is_number(value) and (isinstance(value, int) or math.isfinite(value))


def is_integer(value: Any) -> bool:
    """An int, never a bool (nor a float with an integral value)."""
    return isinstance(value, int) and not isinstance(value, bool)


def range_problem(value: float, low: float | None = None, high: float | None = None, *,
                  low_open: bool = False, high_open: bool = False,
                  show: Callable[[Any], str] = str) -> str | None:
    """Why number ``value`` is outside ``[low, high]`` (an open end excluded), or None.

    The problem reads ``must be >= LOW, got VALUE`` (``>``, ``<=``, ``<`` likewise), with
    both numbers written by ``show``.
    """
    if low is not None and (value < low or (low_open and value == low)):
        return f"must be {'>' if low_open else '>='} {show(low)}, got {show(value)}"
    if high is not None and (value > high or (high_open and value == high)):
        return f"must be {'<' if high_open else '<='} {show(high)}, got {show(value)}"
    return None


# ---- value checks (each returns a Check) ---------------------------------------------


def integer(low: int | None = None, high: int | None = None) -> Check:
    """An integer (not a bool) in ``[low, high]``."""
    def check(path: str, value: Any) -> int:
        if not is_integer(value):
            fail(path, f"expected an integer, got {value!r}")
        problem = range_problem(value, low, high)
        if problem:
            fail(path, problem)
        return int(value)

    check.range = _span(low, high, "..", "", "")
    return check


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Check:
    """A finite number (not a bool; a string YAML 1.1 left unread is read) in the range."""
    def check(path: str, value: Any) -> float:
        if isinstance(value, str):
            try:  # YAML 1.1 reads 1e-4 as a string
                value = float(value)
            except ValueError:
                fail(path, f"expected a number, got {value!r}")
        if not is_finite(value):
            fail(path, f"expected a finite number, got {value!r}")
        value = float(value)
        problem = range_problem(value, low, high, low_open=low_open, high_open=high_open)
        if problem:
            fail(path, problem)
        return value

    check.range = _span(low, high, ", ", "(" if low_open else "[", ")" if high_open else "]")
    return check


def _span(low, high, between: str, left: str, right: str) -> str:
    """A range as the reference pages write it: ``1..8``, ``[0, 1)``, ``>= 0``."""
    if low is None and high is None:
        return ""
    if high is None:
        return f"{'>' if left == '(' else '>='} {low}"
    if low is None:
        return f"{'<' if right == ')' else '<='} {high}"
    return f"{left}{low}{between}{high}{right}"


def boolean(path: str, value: Any) -> bool:
    """``true`` or ``false`` (no 0/1)."""
    if not isinstance(value, bool):
        fail(path, f"expected true or false, got {value!r}")
    return value


boolean.range = "true | false"


def choice(*options: str) -> Check:
    """One of ``options`` (any letter case; returned lower-case)."""
    def check(path: str, value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            fail(path, f"expected one of {', '.join(options)}, got {value!r}")
        return value.lower()

    check.range = " | ".join(options)
    return check


def string(path: str, value: Any) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value.strip():
        fail(path, f"expected a non-empty string, got {value!r}")
    return value


def optional(inner: Check) -> Check:
    """``null`` stays ``None``; anything else goes through ``inner``."""

    def check(path: str, value: Any) -> Any:
        return None if value is None else inner(path, value)

    inner_range = getattr(inner, "range", "")
    check.range = f"{inner_range}, or null" if inner_range else "or null"
    return check


_STORED = contextvars.ContextVar("stored_paths", default=False)


@contextlib.contextmanager
def stored_paths():
    """Within: :func:`existing_path` takes a path as it is stored, without requiring it to
    exist, for checking an already resolved configuration (a shared run's ``config.yaml``
    names its author's data and weights files, which need not exist here)."""
    token = _STORED.set(True)
    try:
        yield
    finally:
        _STORED.reset(token)


def existing_path(kind: str = "any") -> Check:
    """A path that must exist (``kind``: any, file or dir); returned absolute, as a string
    (inside :func:`stored_paths`: any non-empty string, as it is)."""

    def check(path: str, value: Any) -> str:
        string(path, value)
        if _STORED.get():
            return value
        p = Path(value).expanduser()
        if not p.exists():
            fail(path, f"no such {'directory' if kind == 'dir' else 'file'}: {value}")
        if kind == "dir" and not p.is_dir():
            fail(path, f"not a directory: {value}")
        if kind == "file" and not p.is_file():
            fail(path, f"not a file: {value}")
        return str(p.resolve())

    return check


def new_path(path: str, value: Any) -> str:
    """A path that may not exist yet (a cache folder); returned absolute."""
    string(path, value)
    return str(Path(value).expanduser().resolve())


def section(schema: dict[str, Key]) -> Check:
    """A nested mapping checked against ``schema`` (kept as ``check.schema`` for :func:`describe`)."""

    def check(path: str, value: Any) -> dict[str, Any]:
        return check_section(path, value, schema)

    check.schema = schema
    return check


def string_list(options: tuple[str, ...] | None = None, *, min_len: int = 1) -> Check:
    """A list of at least ``min_len`` distinct names (from ``options`` when given)."""
    def check(path: str, value: Any) -> list[str]:
        if not isinstance(value, list) or len(value) < min_len:
            fail(path, f"expected a list of at least {min_len} name(s), got {value!r}")
        for item in value:
            if not isinstance(item, str):
                fail(path, f"expected names (strings), got {item!r}")
            if options is not None and item not in options:
                fail(path, f"unknown name {item!r} (known: {', '.join(options)})")
        if len(set(value)) != len(value):
            fail(path, "names must not repeat")
        return list(value)

    return check
