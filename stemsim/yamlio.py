"""YAML files of the project (specs, experiments, benches), read one way."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import yaml

from stemsim.errors import InputError, shown


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


MAX_BYTES = 10 * 1024 * 1024  # a spec, experiment or bench file is kilobytes
MAX_DEPTH = 50  # levels of nested mappings and lists
MAX_NODES = 1_000_000  # values once every alias is expanded (a "billion laughs" file has 10⁹)


class _Loader(_Loader):  # noqa: F811  (the same loader, refusing duplicate keys)
    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`: its keys may be overridden
                continue
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"duplicate key {shown(key)}", key_node.start_mark)
                seen.add(key)
        return super().construct_mapping(node, deep)

    def construct_yaml_int(self, node):
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # more digits than Python converts (4300): no number of a spec is that long
            raise yaml.constructor.ConstructorError(
                None, None, f"an integer of {len(node.value)} characters is too long", node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


def _check_tree(path: Path, root) -> None:
    """Refuse a document nested deeper than :data:`MAX_DEPTH` or expanding to more than
    :data:`MAX_NODES` values (aliases counted each time they are used), without expanding it."""
    sizes: dict[int, int] = {}
    stack = [(root, 1, False)]
    while stack:  # iterative post-order walk: no recursion, each node's size computed once
        node, depth, done = stack.pop()
        if depth > MAX_DEPTH:
            raise InputError(f"{path}: nested more than {MAX_DEPTH} levels deep")
        children = [] if isinstance(node, yaml.ScalarNode) else \
            [n for pair in node.value for n in pair] if isinstance(node, yaml.MappingNode) else list(node.value)
        if done:
            sizes[id(node)] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[id(node)] > MAX_NODES:
                raise InputError(f"{path}: holds more than {MAX_NODES:,} values once its aliases are expanded")
        elif id(node) not in sizes:
            stack.append((node, depth, True))
            stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def read_yaml(path: str | Path, what: str = "spec"):
    """Parse a YAML file; a missing file, a syntax error, a duplicate key, or a file too large,
    too deeply nested or expanding too far (:data:`MAX_BYTES`, :data:`MAX_DEPTH`,
    :data:`MAX_NODES`) becomes one InputError line."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such {what} file" + (" (it is a folder)" if path.is_dir() else ""))
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise InputError(f"{path}: {size / 2**20:.0f} MB is too large for a {what} file "
                         f"(the limit is {MAX_BYTES // 2**20} MB)")
    try:
        loader = _Loader(path.read_text())
        try:
            root = loader.get_single_node()
            if root is None:
                return None
            _check_tree(path, root)
            return loader.construct_document(root)
        finally:
            loader.dispose()
    except UnicodeDecodeError:
        raise InputError(f"{path}: not a text file") from None
    except RecursionError:
        raise InputError(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        problem = str(getattr(error, "problem", None) or error).strip().splitlines()[0]
        raise InputError(f"{path}: not valid YAML{where}: {problem}") from None


def merge(base: dict, extra: dict) -> dict:
    """``base`` updated by ``extra``, nested mappings merged key by key (neither is changed)."""
    merged = copy.deepcopy(base)
    for key, value in extra.items():
        if isinstance(merged.get(key), dict) and isinstance(value, dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged
