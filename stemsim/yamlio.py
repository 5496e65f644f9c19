"""YAML files of the project (specs, experiments, benches), read one way."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from stemsim.errors import InputError


class _Loader(yaml.SafeLoader):
    """YAML 1.1 reads ``5.0e3`` as a string; users mean the number, so floats take
    exponents without a sign or a dot too."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
                  |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
                  |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
                  |[-+]?\.(?:inf|Inf|INF)
                  |\.(?:nan|NaN|NAN))$""", re.X),
    list("-+0123456789."),
)


def read_yaml(path: str | Path, what: str = "spec"):
    """Parse a YAML file; a missing file or a syntax error becomes one InputError line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file")
    try:
        return yaml.load(path.read_text(), Loader=_Loader)
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise InputError(f"{path}: not valid YAML{where}: {getattr(error, 'problem', error)}") from None


def merge(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra``, nested mappings merged key by key (neither is changed)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
