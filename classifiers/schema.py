"""A tiny schema checker for the nested YAML/dict configurations of the classifier suite.

A schema is a ``dict`` mapping key → :class:`Key`. :func:`check_section` fills defaults,
normalises values and turns every problem into one :class:`~stemsim.errors.InputError`
line that names the full key path (``training.optimizer.momentum: ...``).
No Keras import here: configurations are checked before anything heavy is loaded.
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
    """One configuration key: its default (or :data:`REQUIRED`), its check and a one-line doc."""

    default: Any
    check: Check
    doc: str = ""


def fail(path: str, problem: str) -> None:
    """Raise the one-line :class:`InputError` for key ``path``."""
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


# ---- value checks (each returns a Check) ---------------------------------------------


def integer(low: int | None = None, high: int | None = None) -> Check:
    def check(path: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            fail(path, f"expected an integer, got {value!r}")
        if low is not None and value < low:
            fail(path, f"must be >= {low}, got {value}")
        if high is not None and value > high:
            fail(path, f"must be <= {high}, got {value}")
        return int(value)

    return check


def number(low: float | None = None, high: float | None = None, *, low_open: bool = False,
           high_open: bool = False) -> Check:
    def check(path: str, value: Any) -> float:
        if isinstance(value, str):
            try:  # YAML 1.1 reads 1e-4 as a string
                value = float(value)
            except ValueError:
                fail(path, f"expected a number, got {value!r}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            fail(path, f"expected a finite number, got {value!r}")
        value = float(value)
        if low is not None and (value < low or (low_open and value == low)):
            fail(path, f"must be {'>' if low_open else '>='} {low}, got {value}")
        if high is not None and (value > high or (high_open and value == high)):
            fail(path, f"must be {'<' if high_open else '<='} {high}, got {value}")
        return value

    return check


def boolean(path: str, value: Any) -> bool:
    if not isinstance(value, bool):
        fail(path, f"expected true or false, got {value!r}")
    return value


def choice(*options: str) -> Check:
    def check(path: str, value: Any) -> str:
        if not isinstance(value, str) or value.lower() not in options:
            fail(path, f"expected one of {', '.join(options)}, got {value!r}")
        return value.lower()

    return check


def string(path: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        fail(path, f"expected a non-empty string, got {value!r}")
    return value


def optional(inner: Check) -> Check:
    """``null`` stays ``None``; anything else goes through ``inner``."""

    def check(path: str, value: Any) -> Any:
        return None if value is None else inner(path, value)

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
    """A nested mapping checked against ``schema``."""

    def check(path: str, value: Any) -> dict[str, Any]:
        return check_section(path, value, schema)

    return check


def string_list(options: tuple[str, ...] | None = None, *, min_len: int = 1) -> Check:
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
