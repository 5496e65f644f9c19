"""The checks of one spec value: constants and distributions, in the spec's own words.

Every check here is a :data:`stemsim.schema.Check` (``check(path, value)``) built on the
shared number predicates of :mod:`stemsim.schema` (a bool is no number, NaN and infinities
are never finite); the wording of each message is the spec's, pinned by
tests/test_bad_specs.py and tests/test_bad_input.py. The declarations that use them are in
:mod:`stemsim.dataset.spec_schema`.
"""

from __future__ import annotations

from typing import Any

from stemsim.errors import one_line, shown
from stemsim.schema import fail, is_finite, is_integer, is_number

DISTRIBUTIONS = ("uniform", "normal", "loguniform", "choice")

Bounds = tuple[float | None, float | None, bool]
"""(low, high, low inclusive) of a numeric parameter; None: unbounded."""


def _fail(key: str, problem: str):
    """The one-line error for ``key`` (a user's key cut to 80 characters, on one line)."""
    key = one_line(key)
    fail(key if len(key) <= 80 else key[:79] + "…", problem)


def _shown(value) -> str:
    """A user's value in a message, spelt as in the YAML file (true, null), at most 80 characters."""
    return shown(value, yaml=True)


def _num(value) -> str:
    """A number in a message: ``%g`` (an int too large for a float: its first digits)."""
    try:
        return f"{value:g}"
    except (OverflowError, ValueError):
        return _shown(value)


def _count(n: int) -> str:
    """A count in a message: ``1,000,000``, or ``1e+30`` when that is too long to read."""
    return f"{n:,}" if n < 10**15 else _num(n)


def _is_vector(value, length: int) -> bool:
    """A list of ``length`` finite numbers, not all zero."""
    return isinstance(value, list) and len(value) == length and all(is_finite(v) for v in value) and any(value)


def _in_range(key: str, value, bounds: Bounds) -> None:
    low, high, inclusive = bounds
    if not is_finite(value):
        _fail(key, f"must be finite, got {value}")
    if low is not None and (value < low or (value == low and not inclusive)):
        _fail(key, f"must be {'>=' if inclusive else '>'} {low:g}, got {_num(value)}")
    if high is not None and value > high:
        _fail(key, f"must be <= {high:g}, got {_num(value)}")


def _finite_args(where: str, args: list) -> None:
    for a in args:
        if not is_finite(a):
            _fail(where, f"parameters must be finite, got {_shown(args)}")


def check_numeric(key: str, value, integer: bool = False, bounds: Bounds | None = None) -> None:
    """A constant or a distribution for the parameter at ``key``, every value it can take
    within ``bounds`` (a normal's mean, and its std at most the range's width)."""
    if isinstance(value, bool):
        _fail(key, f"expected {'an integer' if integer else 'a number'}, got {str(value).lower()}")
    if is_number(value):
        if integer and not isinstance(value, int):
            _fail(key, f"expected an integer, got {_shown(value)}")
        if not is_finite(value):
            _fail(key, f"must be finite, got {value}")
        if bounds is not None:
            _in_range(key, value, bounds)
        return
    if not isinstance(value, dict) or len(value) != 1:
        _fail(key, f"expected a number or one of {{{', '.join(DISTRIBUTIONS)}: ...}}, got {_shown(value)}")
    (kind, args), = value.items()
    if kind not in DISTRIBUTIONS:
        _fail(key, f"unknown distribution {_shown(kind)} (allowed: {', '.join(DISTRIBUTIONS)})")
    where = f"{key}.{kind}"
    if not isinstance(args, list) or not args or not all(is_number(a) for a in args):
        _fail(where, f"expected a list of numbers, got {_shown(args)}")
    _finite_args(where, args)
    if integer and not all(isinstance(a, int) for a in args) and kind in ("uniform", "choice"):
        _fail(where, f"expected integers, got {_shown(args)}")
    if kind == "choice":
        for a in args:
            if bounds is not None:
                _in_range(key, a, bounds)
        return
    if len(args) != 2:
        _fail(where, f"expected [{'mean, std' if kind == 'normal' else 'low, high'}], got {_shown(args)}")
    if integer and kind in ("normal", "loguniform"):
        _fail(where, "integer parameters take a constant, uniform or choice")
    if kind == "normal":
        mean, std = args
        if std < 0:
            _fail(where, f"std must be >= 0, got {_num(std)}")
        if bounds is not None:
            _in_range(key, mean, bounds)
            low, high, _ = bounds
            if std > high - low:  # draws are redrawn into the range: a wider normal would rarely land in it
                _fail(where, f"std must be <= {high - low:g}, the width of the range [{low:g}, {high:g}] "
                      f"that draws are redrawn into, got {_num(std)}")
        return
    low, high = args
    if low > high:
        _fail(where, f"low must be <= high, got [{_num(low)}, {_num(high)}]")
    if kind == "loguniform" and low <= 0:
        _fail(where, f"low must be > 0, got {_num(low)}")
    if bounds is not None:
        _in_range(key, low, bounds)
        _in_range(key, high, bounds)


def numeric(low: float | None, high: float | None, low_inclusive: bool = True, *, integer: bool = False,
            nullable: bool = False):
    """The check of a numeric parameter: a constant or a distribution within
    ``[low, high]`` (``(low, high]`` when not ``low_inclusive``); ``nullable``: null allowed.
    The bounds are kept as ``check.bounds`` (they make :data:`~stemsim.dataset.spec_schema.RANGES`)."""
    bounds = (low, high, low_inclusive) if (low, high) != (None, None) else None

    def check(path: str, value: Any) -> Any:
        if not (nullable and value is None):
            check_numeric(path, value, integer, bounds)
        return value

    check.bounds = bounds
    return check


def values_of(value) -> list:
    """The values a constant or ``choice`` can take."""
    if isinstance(value, dict) and "choice" in value:
        return list(value["choice"])
    return [value]


def _choices(key: str, value) -> list:
    """The values of a non-numeric parameter: one value, or ``{choice: [v1, v2, ...]}``."""
    if isinstance(value, dict):
        if list(value) != ["choice"]:
            _fail(key, f"expected a value or {{choice: [v1, v2, ...]}}, got {_shown(value)}")
        if not isinstance(value["choice"], list) or not value["choice"]:
            _fail(f"{key}.choice", f"expected a non-empty list, got {_shown(value['choice'])}")
        return list(value["choice"])
    return [value]


def one_of(options: tuple[str, ...], what: str):
    """A value or ``{choice: [...]}`` of names from ``options`` (``unknown WHAT 'x' (allowed: ...)``)."""
    def check(path: str, value: Any) -> Any:
        for item in _choices(path, value):
            if item not in options:
                _fail(path, f"unknown {what} {_shown(item)} (allowed: {', '.join(options)})")
        return value

    return check


def integer_in(low: int, high: int, what: str = "an integer"):
    """A plain integer in ``low..high`` (``expected WHAT in low..high, got x``)."""
    def check(path: str, value: Any) -> Any:
        if not is_integer(value) or not low <= value <= high:
            _fail(path, f"expected {what} in {low}..{high}, got {_shown(value)}")
        return value

    return check


def keyword(options: tuple[str, ...], expected: str | None = None):
    """One of the words ``options`` (``expected one of a, b, got x``, or ``expected EXPECTED, got x``)."""
    def check(path: str, value: Any) -> Any:
        if value not in options:
            _fail(path, f"expected {expected or 'one of ' + ', '.join(options)}, got {_shown(value)}")
        return value

    return check


def random_or_vector(length: int, expected: str):
    """``'random'`` or a non-zero vector of ``length`` finite numbers."""
    def check(path: str, value: Any) -> Any:
        if value != "random" and not _is_vector(value, length):
            _fail(path, f"expected 'random' or {expected}, got {_shown(value)}")
        return value

    return check


def boolean(path: str, value: Any) -> Any:
    """``true`` or ``false``."""
    if not isinstance(value, bool):
        _fail(path, f"expected true or false, got {_shown(value)}")
    return value


def unchecked(path: str, value: Any) -> Any:
    """A key checked with the others it depends on (:mod:`stemsim.dataset.spec_checks`)."""
    return value
