"""Dataset specs: YAML → a validated, fully resolved dict (every default filled in).

Every numeric parameter takes a constant or a distribution, written as a one-key map:
``{uniform: [low, high]}``, ``{normal: [mean, std]}`` (redrawn until inside the
parameter's range), ``{loguniform: [low, high]}``, ``{choice: [v1, v2, ...]}``.
Integer parameters (deformation counts) draw integers; ``uniform`` is then inclusive.

Errors are :class:`stemsim.errors.InputError` with one line: ``key.path: problem``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import yaml

from simulator.materials import atomic_number
from stemsim.errors import InputError
from stemsim.yamlio import merge, read_yaml

LABELS = ("deformed", "n_deformations", "configuration", "shape")
SHAPE_NAMES = ("cuboid", "tetrahedron", "square_pyramid", "octahedron", "sphere")
SITES = {"cuboid": 8, "tetrahedron": 4, "square_pyramid": 5, "octahedron": 6, "sphere": 8}
DEFORMATION_KINDS = ("truncate", "dent", "bump")
FORMATS = ("png", "npz", "tiff")
DTYPES = ("uint8", "uint16", "float32")
DISTRIBUTIONS = ("uniform", "normal", "loguniform", "choice")
DEFORMED_VALUES = ("undeformed", "deformed")
VIEW_MODES = ("random", "tilt", "jitter")
VIEW_MICROSCOPE = ("object", "view")
MAX_VIEWS = 64

DEFAULTS: dict[str, Any] = {
    "name": None,
    "seed": 0,
    "image": {"size": 128, "pixel_size": 0.15, "supersampling": 1},
    "label": None,
    "classes": {"values": None, "per_class": 100},
    "splits": {"train": 0.8, "val": 0.1, "test": 0.1},
    "object": {
        "shape": "cuboid",
        "size": 8.0,
        "aspect": 1.0,
        "material": "Au",
        "orientation": "random",
        "offset": 0.0,
        "deformation": {"kind": "truncate", "depth": 0.25, "count": None},
    },
    "microscope": {
        "z_exponent": 1.7,
        "probe_fwhm": 0.12,
        "probe_tail_weight": 0.0,
        "probe_tail_width": 0.5,
        "dose": 5.0e3,
        "scan_noise": 0.0,
        "line_amplitude": 0.0,
        "line_frequency": 0.0,
        "drift": 0.0,
        "rotation_during_scan": 0.0,
        "rotation_axis": "random",
        "scattering": 1.0e-5,
    },
    "support": {"thickness": 3.0, "roughness": 0.5, "correlation_length": 1.0},
    "views": {
        "count": 1,
        "mode": "random",
        "tilt": {"axis": [0.0, 1.0, 0.0], "range": [-60.0, 60.0], "step": None},
        "jitter": 5.0,
        "microscope": "object",
    },
    "output": {"formats": ["png", "npz"], "dtype": "uint8", "ground_truth": True, "shard_size": 256},
}

# (low, high, low inclusive) for each numeric parameter; None = unbounded.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "object.size": (0.0, None, False),
    "object.aspect": (0.0, None, False),
    "object.offset": (None, None, True),
    "object.deformation.depth": (0.0, 0.5, False),
    "microscope.z_exponent": (0.0, 2.0, False),
    "microscope.probe_fwhm": (0.0, None, True),
    "microscope.probe_tail_weight": (0.0, 1.0, True),
    "microscope.probe_tail_width": (0.0, None, False),
    "microscope.dose": (0.0, None, False),
    "microscope.scan_noise": (0.0, None, True),
    "microscope.line_amplitude": (0.0, None, True),
    "microscope.line_frequency": (0.0, None, True),
    "microscope.drift": (None, None, True),
    "microscope.rotation_during_scan": (None, None, True),
    "microscope.scattering": (0.0, None, False),
    "support.thickness": (0.0, None, True),
    "support.roughness": (0.0, None, True),
    "support.correlation_length": (0.0, None, False),
}


def _fail(key: str, problem: str):
    raise InputError(f"{key}: {problem}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_keys(section: dict, allowed: dict, key: str) -> None:
    if not isinstance(section, dict):
        _fail(key, f"expected a mapping, got {type(section).__name__}")
    for name in section:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            _fail(where, f"unknown key (allowed: {', '.join(allowed)})")


def _in_range(key: str, value: float) -> None:
    low, high, inclusive = RANGES[key]
    if not math.isfinite(value):
        _fail(key, f"must be finite, got {value}")
    if low is not None and (value < low or (value == low and not inclusive)):
        _fail(key, f"must be {'>=' if inclusive else '>'} {low:g}, got {value:g}")
    if high is not None and value > high:
        _fail(key, f"must be <= {high:g}, got {value:g}")


def check_numeric(key: str, value, integer: bool = False) -> None:
    """A constant or a distribution for the parameter at ``key``."""
    if _is_number(value):
        if integer and not isinstance(value, int):
            _fail(key, f"expected an integer, got {value!r}")
        if key in RANGES:
            _in_range(key, float(value))
        return
    if not isinstance(value, dict) or len(value) != 1:
        _fail(key, f"expected a number or one of {{{', '.join(DISTRIBUTIONS)}: ...}}, got {value!r}")
    (kind, args), = value.items()
    if kind not in DISTRIBUTIONS:
        _fail(key, f"unknown distribution {kind!r} (allowed: {', '.join(DISTRIBUTIONS)})")
    where = f"{key}.{kind}"
    if not isinstance(args, list) or not args or not all(_is_number(a) for a in args):
        _fail(where, f"expected a list of numbers, got {args!r}")
    if integer and not all(isinstance(a, int) for a in args) and kind in ("uniform", "choice"):
        _fail(where, f"expected integers, got {args!r}")
    if kind == "choice":
        for a in args:
            if key in RANGES:
                _in_range(key, float(a))
        return
    if len(args) != 2:
        _fail(where, f"expected [{'mean, std' if kind == 'normal' else 'low, high'}], got {args!r}")
    if integer and kind in ("normal", "loguniform"):
        _fail(where, "integer parameters take a constant, uniform or choice")
    if kind == "normal":
        if args[1] < 0:
            _fail(where, f"std must be >= 0, got {args[1]:g}")
        if key in RANGES:
            _in_range(key, float(args[0]))
        return
    low, high = args
    if low > high:
        _fail(where, f"low must be <= high, got [{low:g}, {high:g}]")
    if kind == "loguniform" and low <= 0:
        _fail(where, f"low must be > 0, got {low:g}")
    if key in RANGES:
        _in_range(key, float(low))
        _in_range(key, float(high))


def upper_bound(value) -> float:
    """The largest value a constant or distribution can take (normal: mean + 4 std)."""
    if _is_number(value):
        return float(value)
    (kind, args), = value.items()
    if kind == "normal":
        return float(args[0] + 4 * args[1])
    return float(max(args))


def values_of(value) -> list:
    """The values a constant or ``choice`` can take."""
    if isinstance(value, dict) and "choice" in value:
        return list(value["choice"])
    return [value]


def load_spec(path: str | Path, seed: int | None = None, limit: int | None = None) -> dict:
    """Read, validate and resolve a spec file; ``seed``/``limit`` override the file."""
    path = Path(path)
    raw = read_yaml(path)
    if raw is not None and not isinstance(raw, dict):
        raise InputError(f"{path}: expected a mapping of spec keys, got {type(raw).__name__}")
    return resolve(raw if raw is not None else {}, seed=seed, limit=limit)


def resolve(raw: dict, seed: int | None = None, limit: int | None = None) -> dict:
    """Validate a spec mapping and fill in every default (see :data:`DEFAULTS`)."""
    _check_keys(raw, DEFAULTS, "")
    for section in ("image", "classes", "splits", "object", "microscope", "output"):
        if section in raw:
            _check_keys(raw[section], DEFAULTS[section] if section != "splits" else raw[section], section)
    if "deformation" in raw.get("object", {}):
        _check_keys(raw["object"]["deformation"], DEFAULTS["object"]["deformation"], "object.deformation")
    if raw.get("support") is not None:
        _check_keys(raw["support"], DEFAULTS["support"], "support")
    if "views" in raw:
        _check_keys(raw["views"], DEFAULTS["views"], "views")
        if "tilt" in raw["views"]:
            _check_keys(raw["views"]["tilt"], DEFAULTS["views"]["tilt"], "views.tilt")
    spec = merge(DEFAULTS, raw)
    if isinstance(raw.get("splits"), dict):  # the split names are the user's: no default ones mixed in
        spec["splits"] = dict(raw["splits"])
    if "support" in raw and raw["support"] is None:
        spec["support"] = None
    if seed is not None:
        spec["seed"] = seed
    _validate(spec)
    if limit is not None:
        if limit < 1:
            _fail("--limit", f"must be >= 1, got {limit}")
        spec["classes"]["per_class"] = min(spec["classes"]["per_class"], limit)
    return spec


def _validate(spec: dict) -> None:
    if not isinstance(spec["name"], str) or not spec["name"].strip():
        _fail("name", "a dataset needs a name (a non-empty string)")
    if not isinstance(spec["seed"], int) or isinstance(spec["seed"], bool) or spec["seed"] < 0:
        _fail("seed", f"expected a non-negative integer, got {spec['seed']!r}")

    image = spec["image"]
    if not isinstance(image["size"], int) or isinstance(image["size"], bool) or not 16 <= image["size"] <= 4096:
        _fail("image.size", f"expected an integer number of pixels in 16..4096, got {image['size']!r}")
    if not _is_number(image["pixel_size"]) or not image["pixel_size"] > 0:
        _fail("image.pixel_size", f"must be a positive number of nm, got {image['pixel_size']!r}")
    if not isinstance(image["supersampling"], int) or not 1 <= image["supersampling"] <= 8:
        _fail("image.supersampling", f"expected an integer in 1..8, got {image['supersampling']!r}")

    obj = spec["object"]
    shapes = values_of(obj["shape"])
    for shape in shapes:
        if shape not in SHAPE_NAMES:
            _fail("object.shape", f"unknown shape {shape!r} (allowed: {', '.join(SHAPE_NAMES)})")
    for key in ("size", "aspect", "offset"):
        check_numeric(f"object.{key}", obj[key])
    for material in values_of(obj["material"]):
        try:
            atomic_number(material)
        except ValueError as error:
            _fail("object.material", str(error).split(": ", 1)[1])
    _validate_orientation(obj["orientation"])
    deformation = obj["deformation"]
    for kind in values_of(deformation["kind"]):
        if kind not in DEFORMATION_KINDS:
            _fail("object.deformation.kind", f"unknown kind {kind!r} (allowed: {', '.join(DEFORMATION_KINDS)})")
    check_numeric("object.deformation.depth", deformation["depth"])
    if deformation["count"] is not None:
        check_numeric("object.deformation.count", deformation["count"], integer=True)

    microscope = spec["microscope"]
    for key, value in microscope.items():
        if key == "dose" and value is None:
            continue
        if key == "rotation_axis":
            _validate_axis(value)
            continue
        check_numeric(f"microscope.{key}", value)
    if spec["support"] is not None:
        for key, value in spec["support"].items():
            check_numeric(f"support.{key}", value)

    _validate_views(spec["views"])
    _validate_splits(spec["splits"])
    _validate_output(spec["output"])
    _validate_classes(spec)
    _validate_fit(spec)


def _validate_orientation(value) -> None:
    if value == "random":
        return
    if (isinstance(value, list) and len(value) == 4 and all(_is_number(v) for v in value)
            and any(v != 0 for v in value)):
        return
    _fail("object.orientation", f"expected 'random' or a quaternion [w, x, y, z], got {value!r}")


def _validate_axis(value) -> None:
    if value == "random":
        return
    if isinstance(value, list) and len(value) == 3 and all(_is_number(v) for v in value) and any(value):
        return
    _fail("microscope.rotation_axis", f"expected 'random' or a non-zero vector [x, y, z], got {value!r}")


def _validate_views(views: dict) -> None:
    count = views["count"]
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_VIEWS:
        _fail("views.count", f"expected an integer number of views in 1..{MAX_VIEWS}, got {count!r}")
    if views["mode"] not in VIEW_MODES:
        _fail("views.mode", f"expected one of {', '.join(VIEW_MODES)}, got {views['mode']!r}")
    if views["microscope"] not in VIEW_MICROSCOPE:
        _fail("views.microscope", f"expected object (one draw per object) or view (one per view), "
              f"got {views['microscope']!r}")
    jitter = views["jitter"]
    if not _is_number(jitter) or not 0 <= jitter <= 180:
        _fail("views.jitter", f"expected an rms angle in degrees in [0, 180], got {jitter!r}")
    tilt = views["tilt"]
    axis = tilt["axis"]
    if not (isinstance(axis, list) and len(axis) == 3 and all(_is_number(v) for v in axis) and any(axis)):
        _fail("views.tilt.axis", f"expected a non-zero vector [x, y, z], got {axis!r}")
    span = tilt["range"]
    if not (isinstance(span, list) and len(span) == 2 and all(_is_number(v) and math.isfinite(v) for v in span)):
        _fail("views.tilt.range", f"expected [first, last] angles in degrees, got {span!r}")
    if span[0] > span[1]:
        _fail("views.tilt.range", f"first must be <= last, got {span!r}")
    step = tilt["step"]
    if step is not None:
        if not _is_number(step) or not step > 0:
            _fail("views.tilt.step", f"expected a positive angle in degrees (or null), got {step!r}")
        last = span[0] + (count - 1) * step
        if last > span[1] + 1e-9:
            _fail("views.tilt.step", f"{count} views {step:g}° apart end at {last:g}°, beyond the range's "
                  f"{span[1]:g}° (lower views.count or the step)")


def tilt_angles(views: dict) -> list[float]:
    """Tilt angles (degrees) of the views of a tilt series: ``range[0] + k·step``, the step
    spreading ``count`` views evenly over the range when not given."""
    first, last = views["tilt"]["range"]
    count = views["count"]
    step = views["tilt"]["step"]
    if step is None:
        step = (last - first) / (count - 1) if count > 1 else 0.0
    return [first + k * step for k in range(count)]


def _validate_splits(splits: dict) -> None:
    if not splits:
        _fail("splits", "needs at least one split")
    for name, fraction in splits.items():
        if not isinstance(name, str) or not name.isidentifier():
            _fail("splits", f"split names must be simple words, got {name!r}")
        if not _is_number(fraction) or not 0 <= fraction <= 1:
            _fail(f"splits.{name}", f"must be a fraction in [0, 1], got {fraction!r}")
    total = sum(splits.values())
    if abs(total - 1) > 1e-9:
        _fail("splits", f"fractions must sum to 1, got {total:g}")


def _validate_output(output: dict) -> None:
    formats = output["formats"]
    if not isinstance(formats, list) or not formats:
        _fail("output.formats", f"expected a non-empty list from {', '.join(FORMATS)}, got {formats!r}")
    for fmt in formats:
        if fmt not in FORMATS:
            _fail("output.formats", f"unknown format {fmt!r} (allowed: {', '.join(FORMATS)})")
    if output["dtype"] not in DTYPES:
        _fail("output.dtype", f"expected one of {', '.join(DTYPES)}, got {output['dtype']!r}")
    if "png" in formats and output["dtype"] == "float32":
        _fail("output.dtype", "PNG holds integers: use uint8/uint16, or the tiff format for float32")
    if not isinstance(output["ground_truth"], bool):
        _fail("output.ground_truth", f"expected true or false, got {output['ground_truth']!r}")
    if not isinstance(output["shard_size"], int) or isinstance(output["shard_size"], bool) or output["shard_size"] < 1:
        _fail("output.shard_size", f"expected a positive integer, got {output['shard_size']!r}")


def _count_range(spec: dict) -> tuple[int, int] | None:
    count = spec["object"]["deformation"]["count"]
    if count is None:
        return None
    if isinstance(count, int):
        return count, count
    (kind, args), = count.items()
    return int(min(args)), int(max(args))


def _validate_classes(spec: dict) -> None:
    label = spec["label"]
    if label not in LABELS:
        _fail("label", f"expected one of {', '.join(LABELS)}, got {label!r}")
    classes = spec["classes"]
    per_class = classes["per_class"]
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        _fail("classes.per_class", f"expected a positive integer, got {per_class!r}")
    shapes = values_of(spec["object"]["shape"])
    counts = _count_range(spec)
    if counts is not None and counts[0] < 0:
        _fail("object.deformation.count", f"must be >= 0, got {counts[0]}")
    values = classes["values"]
    if label == "shape":
        if values is None:
            _fail("classes.values", "label 'shape' needs the list of shapes")
        for shape in values:
            if shape not in SHAPE_NAMES:
                _fail("classes.values", f"unknown shape {shape!r} (allowed: {', '.join(SHAPE_NAMES)})")
        shapes = values
    elif len(shapes) > 1 and label == "configuration":
        _fail("object.shape", "configuration labels need one shape (classes differ between shapes)")
    fewest = min(SITES[s] for s in shapes)
    smallest = min(shapes, key=lambda s: SITES[s])
    if label == "n_deformations":
        values = list(range(fewest + 1)) if values is None else values
        for v in values:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                _fail("classes.values", f"deformation counts are integers >= 0, got {v!r}")
            if v > fewest:
                _fail("classes.values", f"{v} deformations asked, but a {smallest.replace('_', ' ')} has {fewest} vertices")
    elif label == "deformed":
        values = list(DEFORMED_VALUES) if values is None else values
        for v in values:
            if v not in DEFORMED_VALUES:
                _fail("classes.values", f"expected values from {list(DEFORMED_VALUES)}, got {v!r}")
        if counts is not None and (counts[0] < 1 or counts[1] > fewest):
            _fail("object.deformation.count", f"deformed objects need 1..{fewest} deformations, got {counts[0]}..{counts[1]}")
    elif label == "configuration":
        if counts is None or counts[0] != counts[1]:
            _fail("object.deformation.count", "configuration labels need one fixed count of deformed vertices")
        if counts[0] > fewest:
            _fail("object.deformation.count", f"{counts[0]} deformations asked, but a {smallest.replace('_', ' ')} has {fewest} vertices")
        from stemsim.dataset.sampling import configuration_names

        names = configuration_names(shapes[0], counts[0])
        values = names if values is None else values
        for v in values:
            if v not in names:
                _fail("classes.values", f"unknown configuration {v!r} for {counts[0]} deformed vertices of a "
                      f"{shapes[0].replace('_', ' ')} (classes: {', '.join(names)})")
    elif counts is not None and counts[1] > fewest:  # label == shape
        _fail("object.deformation.count", f"{counts[1]} deformations asked, but a {smallest.replace('_', ' ')} has {fewest} vertices")
    if not isinstance(values, list) or not values:
        _fail("classes.values", "expected a non-empty list")
    if len(set(map(str, values))) != len(values):
        _fail("classes.values", f"values repeat: {values}")
    classes["values"] = values


def _validate_fit(spec: dict) -> None:
    """The largest object, turned any way, must fit the field of view."""
    from stemsim.dataset.sampling import build_shape

    obj = spec["object"]
    field = spec["image"]["size"] * spec["image"]["pixel_size"]
    shapes = spec["classes"]["values"] if spec["label"] == "shape" else values_of(obj["shape"])
    size = upper_bound(obj["size"])
    aspect = upper_bound(obj["aspect"])
    depth = upper_bound(obj["deformation"]["depth"])
    offset = max(abs(upper_bound(obj["offset"])), abs(_lower_bound(obj["offset"])))
    for name in shapes:
        shape = build_shape(name, size, aspect, aspect)
        kinds = values_of(obj["deformation"]["kind"])
        if "bump" in kinds and shape.n_sites:
            shape = shape.bump(range(shape.n_sites), min(depth, 0.5))
        diameter = 2 * (shape.bounding_radius + math.sqrt(2) * offset)
        if diameter > field:
            _fail("object.size", f"a {name.replace('_', ' ')} of up to {size:g} nm spans up to {diameter:.1f} nm, "
                  f"more than the {field:g} nm field of view (image.size × image.pixel_size)")


def _lower_bound(value) -> float:
    if _is_number(value):
        return float(value)
    (kind, args), = value.items()
    if kind == "normal":
        return float(args[0] - 4 * args[1])
    return float(min(args))


def spec_hash(spec: dict) -> str:
    """Identity of a resolved spec (with the stemsim version), to refuse mixing datasets."""
    from stemsim import __version__

    canonical = json.dumps({"spec": spec, "version": __version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dump_spec(spec: dict) -> str:
    """The resolved spec as YAML, with the version and hash that made it."""
    from stemsim import __version__

    document = dict(spec)
    document["stemsim_version"] = __version__
    document["spec_hash"] = spec_hash(spec)
    return yaml.safe_dump(document, sort_keys=False)
