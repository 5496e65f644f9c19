"""Dataset specs: YAML → a validated, fully resolved dict (every default filled in).

Every numeric parameter takes a constant or a distribution, written as a one-key map:
``{uniform: [low, high]}``, ``{normal: [mean, std]}`` (redrawn until inside the
parameter's range), ``{loguniform: [low, high]}``, ``{choice: [v1, v2, ...]}``.
Integer parameters (deformation counts) draw integers; ``uniform`` is then inclusive.

Errors are :class:`stemsim.errors.InputError` with one line: ``key.path: problem``.

The keys are declared once, with their defaults, ranges, units and docs, in
:mod:`stemsim.dataset.spec_schema` (:data:`SPEC`; docs/reference/spec-keys.md is generated
from it); a value's own checks are in :mod:`stemsim.dataset.spec_values`, those that involve
several keys in :mod:`stemsim.dataset.spec_checks`. This module reads, resolves and
identifies a spec (:func:`load_spec`, :func:`resolve`, :func:`spec_hash`, :func:`dump_spec`).

Plausible ranges (:data:`RANGES`) hold for a constant and every value a distribution can draw
(a normal's mean, and its std at most the range's width: draws are redrawn into the range; its
reach, mean ± 4 std within the range, counts for the limits relative to the pixel and field).
Each key's range, units and doc are declared once in :data:`SPEC`; the table is
docs/reference/spec-keys.md, generated from it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import yaml

from stemsim.simulator import IMAGE_MODEL_VERSION
from stemsim.simulator.shapes import REGISTRY, SHAPE_NAMES
from stemsim.dataset.spec_checks import (MAX_COUNTS, MAX_DEFORMATIONS, MIN_COUNTS, check_keys, check_values,  # noqa: F401
                                         lower_bound, most_atoms, upper_bound)
from stemsim.dataset.spec_schema import (ADDED_KEYS, DEFAULTS, DEFORMATION_KINDS, DEFORMED_VALUES, DTYPES, FORMATS,  # noqa: F401
                                         LABELS, MAX_IMAGES, MAX_NAME, MAX_SEED, MAX_SPLITS, MAX_TILT, MAX_VIEWS,
                                         RANGES, SPEC, VIEW_MICROSCOPE, VIEW_MODES, tilt_angles)
from stemsim.dataset.spec_values import DISTRIBUTIONS, _count, _fail, _shown, values_of  # noqa: F401
from stemsim.dataset.spec_values import check_numeric as _check_numeric
from stemsim.errors import InputError, one_line
from stemsim.yamlio import merge, read_yaml

SITES = {name: kind.sites for name, kind in REGISTRY.items()}  # deformable vertices per shape (the registry's)
STAMP = ("stemsim_version", "spec_hash")  # what dump_spec adds to a resolved spec


def check_numeric(key: str, value, integer: bool = False) -> None:
    """A constant or a distribution for the parameter at ``key`` (within its :data:`RANGES`)."""
    _check_numeric(key, value, integer, RANGES.get(key))



def load_spec(path: str | Path, seed: int | None = None, limit: int | None = None, warn=None) -> dict:
    """Read, validate and resolve a spec file; ``seed``/``limit`` override the file.

    A dataset's ``spec.yaml`` is a spec too: when the file carries the stamp of
    :func:`dump_spec` that no longer matches (written by another stemsim version, or edited
    since), ``warn(message)`` is called (default: :func:`warnings.warn`), and the spec is used
    as it now reads."""
    path = Path(path)
    raw = read_yaml(path)
    if raw is not None and not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of spec keys, got {type(raw).__name__}")
    raw = raw if raw is not None else {}
    spec = resolve(without_stamp(raw), seed=seed, limit=limit)
    if any(key in raw for key in STAMP):
        as_written = spec if seed is None and limit is None else resolve(without_stamp(raw))
        note = stamp_mismatch(path, raw, as_written)
        if note:
            if warn is None:
                import warnings

                warnings.warn(note, stacklevel=2)
            else:
                warn(note)
    return spec


def stamp_mismatch(path: Path, raw: dict, spec: dict) -> str | None:
    """Why the stamp (``stemsim_version``, ``spec_hash``) of the spec file ``path`` (read as
    ``raw``, resolved as ``spec``) does not describe it, or None when it does."""
    from stemsim import __version__

    version, made = raw.get("stemsim_version"), raw.get("spec_hash")
    if version is not None and version != __version__:
        return (f"{one_line(path)}: written by stemsim {one_line(version)[:40]}, this is {__version__}: "
                f"what it makes may differ from the dataset it describes")
    if made is not None and made != spec_hash(spec):
        older = older_image_model(made, spec)
        if older:
            return (f"{one_line(path)}: made by an older version of the image model ({older}; this stemsim makes "
                    f"{IMAGE_MODEL_VERSION}): what it makes now differs from the dataset it describes")
        return (f"{one_line(path)}: spec_hash {one_line(made)[:40]} is not its spec's ({spec_hash(spec)}): "
                f"edited since stemsim wrote it, it makes another dataset")
    return None


def older_image_model(made: str, spec: dict) -> int | None:
    """The older image model whose hash of ``spec`` is ``made`` (a dataset of this very spec,
    made before the image formation changed), or None."""
    return next((v for v in range(IMAGE_MODEL_VERSION - 1, 0, -1) if spec_hash(spec, v) == made), None)


def without_stamp(raw: dict) -> dict:
    """A spec mapping without the ``stemsim_version`` / ``spec_hash`` that :func:`dump_spec`
    adds, so that a dataset's ``spec.yaml`` is itself a spec (it regenerates the same
    dataset); both are recomputed for what is made from it, so an edited copy is fine
    (:func:`load_spec` warns that it is one)."""
    for key in STAMP:
        if key in raw and not isinstance(raw[key], str):
            _fail(key, f"expected the string that stemsim wrote, got {_shown(raw[key])}")
    return {k: v for k, v in raw.items() if k not in STAMP}


def resolve(raw: dict, seed: int | None = None, limit: int | None = None) -> dict:
    """Validate a spec mapping and fill in every default (see :data:`DEFAULTS`)."""
    check_keys(raw)
    spec = merge(DEFAULTS, raw)
    if isinstance(raw.get("splits"), dict):  # the split names are the user's: no default ones mixed in
        spec["splits"] = dict(raw["splits"])
    if "support" in raw and raw["support"] is None:
        spec["support"] = None
    if seed is not None:
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < MAX_SEED:
            _fail("--seed", f"expected an integer in 0..2^63-1, got {_shown(seed)}")
        spec["seed"] = seed
    check_values(spec)
    if limit is not None:
        if limit < 1:
            _fail("--limit", f"must be >= 1, got {limit}")
        spec["classes"]["per_class"] = min(spec["classes"]["per_class"], limit)
    images = spec["classes"]["per_class"] * len(spec["classes"]["values"]) * spec["views"]["count"]
    if images > MAX_IMAGES:
        _fail("classes.per_class", f"{_count(spec['classes']['per_class'])} images per class make {_count(images)} "
              f"images (views counted), more than the {MAX_IMAGES:,} of one dataset: split it into several")
    return spec


SHARD_BYTES = 256 * 2**20  # in-memory arrays of one shard (images + ground truth), at most


COLUMN_BYTES = 16  # one row of the crystalline model's columns ground truth: 4 float32


def stores_columns(spec: dict) -> bool:
    """Whether ``spec``'s shards hold the atomic columns (``columns``, ``column_counts``): ground
    truth of the crystalline contrast model."""
    return spec["output"]["ground_truth"] and spec["microscope"]["contrast"] == "crystalline"


def image_bytes(spec: dict) -> int:
    """Bytes one object (all its views) takes in a shard's arrays: the stored image, and with
    ground truth its float32 thickness map and bool mask, and with the crystalline contrast
    its atomic columns, at most one per atom (:func:`~stemsim.dataset.spec_checks.most_atoms`)."""
    side = spec["image"]["size"]
    truth = spec["output"]["ground_truth"]
    per_pixel = np.dtype(spec["output"]["dtype"]).itemsize + (5 if truth else 0)
    columns = COLUMN_BYTES * most_atoms(spec) if stores_columns(spec) else 0
    return (side * side * per_pixel + columns) * spec["views"]["count"]


def shard_objects(spec: dict) -> int:
    """Objects per shard: ``output.shard_size`` images rounded down to whole objects, and no
    more than fit :data:`SHARD_BYTES` (so a worker's memory stays bounded at any image size;
    at the shipped sizes the byte budget never binds). At least one."""
    nominal = max(1, spec["output"]["shard_size"] // spec["views"]["count"])
    return max(1, min(nominal, SHARD_BYTES // image_bytes(spec)))


def spec_hash(spec: dict, image_model: int = IMAGE_MODEL_VERSION) -> str:
    """Identity of a resolved spec (with the stemsim version and the image model,
    :data:`~stemsim.simulator.IMAGE_MODEL_VERSION`), to refuse mixing datasets: a dataset made
    by an older image model no longer matches, so it is regenerated rather than reused. A
    spec whose shards the byte budget cuts (:func:`shard_objects`) hashes that layout too: a
    dataset begun with other shards is never resumed into. ``image_model`` gives the hash an
    older image model gave (version 1 hashed without it). The keys of
    :data:`~stemsim.dataset.spec_schema.ADDED_KEYS` enter it only when not at their default."""
    from stemsim import __version__

    identity = {"spec": hashed_spec(spec), "version": __version__}
    if image_model > 1:
        identity["image_model"] = image_model
    if shard_objects(spec) != max(1, spec["output"]["shard_size"] // spec["views"]["count"]):
        identity["shard_objects"] = shard_objects(spec)
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def hashed_spec(spec: dict) -> dict:
    """The spec as :func:`spec_hash` sees it: without the keys of
    :data:`~stemsim.dataset.spec_schema.ADDED_KEYS` that are at their defaults (the sections
    touched are copied; ``spec`` itself is left alone)."""
    out = dict(spec)
    for dotted, default in ADDED_KEYS.items():
        section, key = dotted.split(".")
        block = out.get(section)
        if isinstance(block, dict) and key in block and block[key] == default:
            out[section] = {k: v for k, v in block.items() if k != key}
    return out


def dump_spec(spec: dict) -> str:
    """The resolved spec as YAML, with the version and hash that made it."""
    from stemsim import __version__

    document = dict(spec)
    document["stemsim_version"] = __version__
    document["spec_hash"] = spec_hash(spec)
    return yaml.safe_dump(document, sort_keys=False)
