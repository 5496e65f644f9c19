"""Dataset specs: YAML → a validated, fully resolved dict (every default filled in).

Every numeric parameter takes a constant or a distribution, written as a one-key map:
``{uniform: [low, high]}``, ``{normal: [mean, std]}`` (redrawn until inside the
parameter's range), ``{loguniform: [low, high]}``, ``{choice: [v1, v2, ...]}``.
Integer parameters (deformation counts) draw integers; ``uniform`` is then inclusive.

Errors are :class:`stemsim.errors.InputError` with one line: ``key.path: problem``.

Plausible ranges (:data:`RANGES`), for a constant and every value a distribution can draw (a
normal's mean, and its std at most the range's width: draws are redrawn into the range; its
reach, mean ± 4 std within the range, counts for the limits relative to the pixel and field):

===============================  ================  =============================================
key                              range             also
===============================  ================  =============================================
image.pixel_size                 [0.01, 100] nm    (10 pm: finer than any STEM samples)
image.size                       16..4096 px
object.size                      (0, 1000] nm      × aspect at least one pixel; turned any way,
                                                   with its offset, within the field of view
object.aspect                    [0.05, 20]
object.offset                    [-1000, 1000] nm
object.deformation.depth         [0.01, 0.5]       of the edge (less: no visible cut)
object.deformation.count         0..8              (the most vertices of any shape)
microscope.z_exponent            [1, 2]            (Rutherford's Z² the top; ADF: 1.3-1.8)
microscope.probe_fwhm            [0, 10] nm        at most a quarter of the field (else a blur)
microscope.probe_tail_weight     [0, 1]
microscope.probe_tail_width      (0, 100] nm
microscope.dose                  (0, 1e8] e/Å²     1 to 1e9 electrons per pixel (fewer: an empty
                                                   image; more: int32 counts overflow)
microscope.scan_noise            [0, 10] px
microscope.line_amplitude        [0, 10] px
microscope.line_frequency        [0, 2048] /frame
microscope.drift                 [-4096, 4096] px  per frame; at most the image side
microscope.rotation_during_scan  [-360, 360] °     over the frame
microscope.scattering            [1e-7, 1e-3]      per nm per Z^n (default 1e-5: 10 nm of gold
                                                   scatters ~17 %; 1e-7 still leaves counts)
support.thickness                [0, 100] nm
support.roughness                [0, 20] nm
support.correlation_length       (0, 100] nm
views.count                      1..64
views.tilt.range                 [-360, 360] °     (a step at most 720°)
classes.per_class                >= 1              at most 10⁷ images in all, views counted
seed                             0..2^63-1
name                             1-100 chars       printable, no / or \\ (it names folders)
splits                           1..16 names       fractions in [0, 1] summing to 1
===============================  ================  =============================================
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from simulator.materials import atomic_number
from stemsim.errors import InputError, one_line, shown
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
MAX_TILT = 360  # degrees, either way, of a tilt series' first and last views

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

# (low, high, low inclusive) for each numeric parameter; None = unbounded. The bounds are
# physical plausibility, wide enough for any microscope (aberration-corrected or not, atomic
# resolution to overview fields), so that an absurd value is refused rather than giving an
# empty, black or saturated image; limits relative to the pixel and the field follow in
# _validate_scales.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {
    "image.pixel_size": (0.01, 100.0, True),                # nm per pixel
    "object.size": (0.0, 1000.0, False),                    # nm
    "object.aspect": (0.05, 20.0, True),
    "object.offset": (-1000.0, 1000.0, True),               # nm
    "object.deformation.depth": (0.01, 0.5, True),          # fraction of the edge
    "microscope.z_exponent": (1.0, 2.0, True),
    "microscope.probe_fwhm": (0.0, 10.0, True),             # nm
    "microscope.probe_tail_weight": (0.0, 1.0, True),
    "microscope.probe_tail_width": (0.0, 100.0, False),     # nm
    "microscope.dose": (0.0, 1.0e8, False),                 # e/Å²
    "microscope.scan_noise": (0.0, 10.0, True),             # pixels
    "microscope.line_amplitude": (0.0, 10.0, True),         # pixels
    "microscope.line_frequency": (0.0, 2048.0, True),       # cycles per frame
    "microscope.drift": (-4096.0, 4096.0, True),            # pixels per frame
    "microscope.rotation_during_scan": (-360.0, 360.0, True),  # degrees over the frame
    "microscope.scattering": (1.0e-7, 1.0e-3, True),        # detected fraction per nm per Z^n
    "support.thickness": (0.0, 100.0, True),                # nm
    "support.roughness": (0.0, 20.0, True),                 # nm
    "support.correlation_length": (0.0, 100.0, False),      # nm
}
MAX_IMAGES = 10_000_000  # images (views counted) in one dataset: planning holds one entry each
MAX_COUNTS = 1.0e9  # electrons per pixel: counts are int32, and no detector sees more
MIN_COUNTS = 1.0  # electrons per pixel: fewer, and the image is empty
MAX_SEED = 2**63  # seeds are int64 wherever they are stored
MAX_DEFORMATIONS = max(SITES.values())  # the most vertices of any shape
MAX_SPLITS = 16  # splits of one dataset (each is a folder of class folders)
MAX_NAME = 100  # characters of a dataset name (it names folders: no path separators)
STAMP = ("stemsim_version", "spec_hash")  # what dump_spec adds to a resolved spec


def _fail(key: str, problem: str):
    key = one_line(key)
    raise InputError(f"{key if len(key) <= 80 else key[:79] + '…'}: {problem}")


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_finite(value) -> bool:
    """A number that is neither NaN nor infinite (YAML's .nan / .inf); an int always is."""
    return _is_number(value) and (isinstance(value, int) or math.isfinite(value))


def _shown(value) -> str:
    """A user's value in a message, spelt as in the YAML file (true, null), at most 80 characters."""
    return shown(value, yaml=True)


def _num(value) -> str:
    """A number in a message: ``%g`` (an int too large for a float: its first digits)."""
    try:
        return f"{value:g}"
    except (OverflowError, ValueError):
        return _shown(value)


def _is_vector(value, length: int) -> bool:
    """A list of ``length`` finite numbers, not all zero."""
    return isinstance(value, list) and len(value) == length and all(_is_finite(v) for v in value) and any(value)


def _check_keys(section: dict, allowed: dict, key: str) -> None:
    if not isinstance(section, dict):
        _fail(key, f"expected a mapping, got {type(section).__name__}")
    for name in section:
        if name not in allowed:
            where = f"{key}.{name}" if key else str(name)
            _fail(where, f"unknown key (allowed: {', '.join(allowed)})")


def _in_range(key: str, value) -> None:
    low, high, inclusive = RANGES[key]
    if not _is_finite(value):
        _fail(key, f"must be finite, got {value}")
    if low is not None and (value < low or (value == low and not inclusive)):
        _fail(key, f"must be {'>=' if inclusive else '>'} {low:g}, got {_num(value)}")
    if high is not None and value > high:
        _fail(key, f"must be <= {high:g}, got {_num(value)}")


def _finite_args(where: str, args: list) -> None:
    for a in args:
        if not _is_finite(a):
            _fail(where, f"parameters must be finite, got {_shown(args)}")


def check_numeric(key: str, value, integer: bool = False) -> None:
    """A constant or a distribution for the parameter at ``key``."""
    if isinstance(value, bool):
        _fail(key, f"expected {'an integer' if integer else 'a number'}, got {str(value).lower()}")
    if _is_number(value):
        if integer and not isinstance(value, int):
            _fail(key, f"expected an integer, got {_shown(value)}")
        if not _is_finite(value):
            _fail(key, f"must be finite, got {value}")
        if key in RANGES:
            _in_range(key, value)
        return
    if not isinstance(value, dict) or len(value) != 1:
        _fail(key, f"expected a number or one of {{{', '.join(DISTRIBUTIONS)}: ...}}, got {_shown(value)}")
    (kind, args), = value.items()
    if kind not in DISTRIBUTIONS:
        _fail(key, f"unknown distribution {_shown(kind)} (allowed: {', '.join(DISTRIBUTIONS)})")
    where = f"{key}.{kind}"
    if not isinstance(args, list) or not args or not all(_is_number(a) for a in args):
        _fail(where, f"expected a list of numbers, got {_shown(args)}")
    _finite_args(where, args)
    if integer and not all(isinstance(a, int) for a in args) and kind in ("uniform", "choice"):
        _fail(where, f"expected integers, got {_shown(args)}")
    if kind == "choice":
        for a in args:
            if key in RANGES:
                _in_range(key, a)
        return
    if len(args) != 2:
        _fail(where, f"expected [{'mean, std' if kind == 'normal' else 'low, high'}], got {_shown(args)}")
    if integer and kind in ("normal", "loguniform"):
        _fail(where, "integer parameters take a constant, uniform or choice")
    if kind == "normal":
        mean, std = args
        if std < 0:
            _fail(where, f"std must be >= 0, got {_num(std)}")
        if key in RANGES:
            _in_range(key, mean)
            low, high, _ = RANGES[key]
            if std > high - low:  # draws are redrawn into the range: a wider normal would rarely land in it
                _fail(where, f"std must be <= {high - low:g}, the width of the range [{low:g}, {high:g}] "
                      f"that draws are redrawn into, got {_num(std)}")
        return
    low, high = args
    if low > high:
        _fail(where, f"low must be <= high, got [{_num(low)}, {_num(high)}]")
    if kind == "loguniform" and low <= 0:
        _fail(where, f"low must be > 0, got {_num(low)}")
    if key in RANGES:
        _in_range(key, low)
        _in_range(key, high)


def upper_bound(value, key: str | None = None) -> float:
    """The largest value a constant or distribution can take (normal: mean + 4 std, and no
    more than the top of the range of parameter ``key``, as draws are redrawn into it)."""
    if _is_number(value):
        return float(value)
    (kind, args), = value.items()
    if kind == "normal":
        top = float(args[0] + 4 * args[1])
        return min(top, RANGES[key][1]) if key in RANGES else top
    return float(max(args))


def _lower_bound(value, key: str | None = None) -> float:
    """The smallest value a constant or distribution can take (see :func:`upper_bound`)."""
    if _is_number(value):
        return float(value)
    (kind, args), = value.items()
    if kind == "normal":
        bottom = float(args[0] - 4 * args[1])
        return max(bottom, RANGES[key][0]) if key in RANGES else bottom
    return float(min(args))


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
        return (f"{one_line(path)}: spec_hash {one_line(made)[:40]} is not its spec's ({spec_hash(spec)}): "
                f"edited since stemsim wrote it, it makes another dataset")
    return None


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
        if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < MAX_SEED:
            _fail("--seed", f"expected an integer in 0..2^63-1, got {_shown(seed)}")
        spec["seed"] = seed
    _validate(spec)
    if limit is not None:
        if limit < 1:
            _fail("--limit", f"must be >= 1, got {limit}")
        spec["classes"]["per_class"] = min(spec["classes"]["per_class"], limit)
    images = spec["classes"]["per_class"] * len(spec["classes"]["values"]) * spec["views"]["count"]
    if images > MAX_IMAGES:
        _fail("classes.per_class", f"{_count(spec['classes']['per_class'])} images per class make {_count(images)} "
              f"images (views counted), more than the {MAX_IMAGES:,} of one dataset: split it into several")
    return spec


def _count(n: int) -> str:
    """A count in a message: ``1,000,000``, or ``1e+30`` when that is too long to read."""
    return f"{n:,}" if n < 10**15 else _num(n)


def _validate(spec: dict) -> None:
    name = spec["name"]
    if not isinstance(name, str) or not name.strip():
        _fail("name", "a dataset needs a name (a non-empty string)")
    if len(name) > MAX_NAME or not name.isprintable() or "/" in name or "\\" in name or name.strip() in (".", ".."):
        _fail("name", f"expected at most {MAX_NAME} printable characters, no / or \\ (it names folders), "
              f"got {_shown(name)}")
    if not isinstance(spec["seed"], int) or isinstance(spec["seed"], bool) or spec["seed"] < 0:
        _fail("seed", f"expected a non-negative integer, got {_shown(spec['seed'])}")
    if spec["seed"] >= MAX_SEED:
        _fail("seed", f"must be below 2^63, got {_shown(spec['seed'])}")

    image = spec["image"]
    if not isinstance(image["size"], int) or isinstance(image["size"], bool) or not 16 <= image["size"] <= 4096:
        _fail("image.size", f"expected an integer number of pixels in 16..4096, got {_shown(image['size'])}")
    if not _is_number(image["pixel_size"]) or not image["pixel_size"] > 0:
        _fail("image.pixel_size", f"must be a positive number of nm, got {_shown(image['pixel_size'])}")
    _in_range("image.pixel_size", image["pixel_size"])
    supersampling = image["supersampling"]
    if not isinstance(supersampling, int) or isinstance(supersampling, bool) or not 1 <= supersampling <= 8:
        _fail("image.supersampling", f"expected an integer in 1..8, got {_shown(image['supersampling'])}")

    obj = spec["object"]
    shapes = _choices("object.shape", obj["shape"])
    for shape in shapes:
        if shape not in SHAPE_NAMES:
            _fail("object.shape", f"unknown shape {_shown(shape)} (allowed: {', '.join(SHAPE_NAMES)})")
    for key in ("size", "aspect", "offset"):
        check_numeric(f"object.{key}", obj[key])
    for material in _choices("object.material", obj["material"]):
        try:
            atomic_number(material)
        except ValueError as error:
            problem = str(error).split(": ", 1)[1]  # the simulator's words; the value echoed here, cut
            _fail("object.material", f"unknown element {_shown(material)}" if isinstance(material, str)
                  else problem if len(problem) <= 100 else problem[:99] + "…")
    _validate_orientation(obj["orientation"])
    deformation = obj["deformation"]
    for kind in _choices("object.deformation.kind", deformation["kind"]):
        if kind not in DEFORMATION_KINDS:
            _fail("object.deformation.kind", f"unknown kind {_shown(kind)} (allowed: {', '.join(DEFORMATION_KINDS)})")
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
    _validate_scales(spec)


def _validate_orientation(value) -> None:
    if value == "random":
        return
    if _is_vector(value, 4):
        return
    _fail("object.orientation", f"expected 'random' or a quaternion [w, x, y, z], got {_shown(value)}")


def _validate_axis(value) -> None:
    if value == "random":
        return
    if _is_vector(value, 3):
        return
    _fail("microscope.rotation_axis", f"expected 'random' or a non-zero vector [x, y, z], got {_shown(value)}")


def _validate_views(views: dict) -> None:
    count = views["count"]
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= MAX_VIEWS:
        _fail("views.count", f"expected an integer number of views in 1..{MAX_VIEWS}, got {_shown(count)}")
    if views["mode"] not in VIEW_MODES:
        _fail("views.mode", f"expected one of {', '.join(VIEW_MODES)}, got {_shown(views['mode'])}")
    if views["microscope"] not in VIEW_MICROSCOPE:
        _fail("views.microscope", f"expected object (one draw per object) or view (one per view), "
              f"got {_shown(views['microscope'])}")
    jitter = views["jitter"]
    if not _is_finite(jitter) or not 0 <= jitter <= 180:
        _fail("views.jitter", f"expected an rms angle in degrees in [0, 180], got {_shown(jitter)}")
    tilt = views["tilt"]
    axis = tilt["axis"]
    if not _is_vector(axis, 3):
        _fail("views.tilt.axis", f"expected a non-zero vector [x, y, z], got {_shown(axis)}")
    span = tilt["range"]
    if not (isinstance(span, list) and len(span) == 2 and all(_is_finite(v) for v in span)):
        _fail("views.tilt.range", f"expected [first, last] angles in degrees, got {_shown(span)}")
    if span[0] > span[1]:
        _fail("views.tilt.range", f"first must be <= last, got {_shown(span)}")
    if not all(-MAX_TILT <= v <= MAX_TILT for v in span):
        _fail("views.tilt.range", f"angles must be in [-{MAX_TILT}, {MAX_TILT}] degrees, got {_shown(span)}")
    step = tilt["step"]
    if step is not None:
        if not _is_finite(step) or not step > 0:
            _fail("views.tilt.step", f"expected a positive angle in degrees (or null), got {_shown(step)}")
        if step > 2 * MAX_TILT:
            _fail("views.tilt.step", f"must be <= {2 * MAX_TILT} degrees, got {_num(step)}")
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
    if len(splits) > MAX_SPLITS:
        _fail("splits", f"at most {MAX_SPLITS} splits, got {len(splits):,}")
    for name, fraction in splits.items():
        if not isinstance(name, str) or not name.isidentifier():
            _fail("splits", f"split names must be simple words, got {_shown(name)}")
        if not _is_finite(fraction) or not 0 <= fraction <= 1:
            _fail(f"splits.{name}", f"must be a fraction in [0, 1], got {_shown(fraction)}")
    total = sum(splits.values())
    if abs(total - 1) > 1e-9:
        _fail("splits", f"fractions must sum to 1, got {total:g}")


def _validate_output(output: dict) -> None:
    formats = output["formats"]
    if not isinstance(formats, list) or not formats:
        _fail("output.formats", f"expected a non-empty list from {', '.join(FORMATS)}, got {_shown(formats)}")
    for fmt in formats:
        if fmt not in FORMATS:
            _fail("output.formats", f"unknown format {_shown(fmt)} (allowed: {', '.join(FORMATS)})")
    if len(set(formats)) != len(formats):
        _fail("output.formats", f"a format is listed twice: {_shown(formats)}")
    if output["dtype"] not in DTYPES:
        _fail("output.dtype", f"expected one of {', '.join(DTYPES)}, got {_shown(output['dtype'])}")
    if "png" in formats and output["dtype"] == "float32":
        _fail("output.dtype", "PNG holds integers: use uint8/uint16, or the tiff format for float32")
    if not isinstance(output["ground_truth"], bool):
        _fail("output.ground_truth", f"expected true or false, got {_shown(output['ground_truth'])}")
    if not isinstance(output["shard_size"], int) or isinstance(output["shard_size"], bool) or output["shard_size"] < 1:
        _fail("output.shard_size", f"expected a positive integer, got {_shown(output['shard_size'])}")
    if output["shard_size"] > MAX_IMAGES:
        _fail("output.shard_size", f"must be <= {MAX_IMAGES:,} (the most images of a dataset), "
              f"got {_count(output['shard_size'])}")


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
        _fail("label", f"expected one of {', '.join(LABELS)}, got {_shown(label)}")
    classes = spec["classes"]
    if classes["values"] is not None and (not isinstance(classes["values"], list) or not classes["values"]):
        _fail("classes.values", f"expected a non-empty list, got {_shown(classes['values'])}")
    per_class = classes["per_class"]
    if not isinstance(per_class, int) or isinstance(per_class, bool) or per_class < 1:
        _fail("classes.per_class", f"expected a positive integer, got {_shown(per_class)}")
    shapes = values_of(spec["object"]["shape"])
    counts = _count_range(spec)
    if counts is not None and counts[0] < 0:
        _fail("object.deformation.count", f"must be >= 0, got {_num(counts[0])}")
    if counts is not None and counts[1] > MAX_DEFORMATIONS:
        _fail("object.deformation.count", f"must be <= {MAX_DEFORMATIONS} (the most vertices of any shape), "
              f"got {_num(counts[1])}")
    values = classes["values"]
    if label == "shape":
        if values is None:
            _fail("classes.values", "label 'shape' needs the list of shapes")
        for shape in values:
            if shape not in SHAPE_NAMES:
                _fail("classes.values", f"unknown shape {_shown(shape)} (allowed: {', '.join(SHAPE_NAMES)})")
        shapes = values
    elif len(shapes) > 1 and label == "configuration":
        _fail("object.shape", "configuration labels need one shape (classes differ between shapes)")
    fewest = min(SITES[s] for s in shapes)
    smallest = min(shapes, key=lambda s: SITES[s])
    if label == "n_deformations":
        values = list(range(fewest + 1)) if values is None else values
        for v in values:
            if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                _fail("classes.values", f"deformation counts are integers >= 0, got {_shown(v)}")
            if v > fewest:
                _fail("classes.values", f"{_num(v)} deformations asked, but a {smallest.replace('_', ' ')} has {fewest} vertices")
    elif label == "deformed":
        values = list(DEFORMED_VALUES) if values is None else values
        for v in values:
            if v not in DEFORMED_VALUES:
                _fail("classes.values", f"expected values from {list(DEFORMED_VALUES)}, got {_shown(v)}")
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
                _fail("classes.values", f"unknown configuration {_shown(v)} for {counts[0]} deformed vertices of a "
                      f"{shapes[0].replace('_', ' ')} (classes: {', '.join(names)})")
    elif counts is not None and counts[1] > fewest:  # label == shape
        _fail("object.deformation.count", f"{counts[1]} deformations asked, but a {smallest.replace('_', ' ')} has {fewest} vertices")
    if not isinstance(values, list) or not values:
        _fail("classes.values", "expected a non-empty list")
    if len(set(map(str, values))) != len(values):
        _fail("classes.values", f"values repeat: {_shown(values)}")
    classes["values"] = values


def _validate_fit(spec: dict) -> None:
    """The largest object, turned any way, must fit the field of view."""
    from stemsim.dataset.sampling import build_shape

    obj = spec["object"]
    field = spec["image"]["size"] * spec["image"]["pixel_size"]
    shapes = spec["classes"]["values"] if spec["label"] == "shape" else values_of(obj["shape"])
    size = upper_bound(obj["size"], "object.size")
    aspect = upper_bound(obj["aspect"], "object.aspect")
    depth = upper_bound(obj["deformation"]["depth"], "object.deformation.depth")
    offset = max(abs(upper_bound(obj["offset"], "object.offset")), abs(_lower_bound(obj["offset"], "object.offset")))
    for name in shapes:
        shape = build_shape(name, size, aspect, aspect)
        kinds = values_of(obj["deformation"]["kind"])
        if "bump" in kinds and shape.n_sites:
            shape = shape.bump(range(shape.n_sites), min(depth, 0.5))
        diameter = 2 * (shape.bounding_radius + math.sqrt(2) * offset)
        if diameter > field:
            _fail("object.size", f"a {name.replace('_', ' ')} of up to {size:g} nm spans up to {diameter:.1f} nm, "
                  f"more than the {field:g} nm field of view (image.size × image.pixel_size)")


def _validate_scales(spec: dict) -> None:
    """Limits relative to the pixel and the field of view (:data:`RANGES` has the absolute ones)."""
    image, obj, microscope = spec["image"], spec["object"], spec["microscope"]
    pixel, side = image["pixel_size"], image["size"]
    field = side * pixel
    smallest = _lower_bound(obj["size"], "object.size") * min(1.0, _lower_bound(obj["aspect"], "object.aspect"))
    if smallest < pixel:
        _fail("object.size", f"down to {smallest:g} nm (× object.aspect) is less than one "
              f"{pixel:g} nm pixel (image.pixel_size): the object would not be seen")
    drift = max(abs(upper_bound(microscope["drift"], "microscope.drift")),
                abs(_lower_bound(microscope["drift"], "microscope.drift")))
    if drift > side:
        _fail("microscope.drift", f"up to {drift:g} pixels per frame is more than the {side}-pixel field")
    probe = upper_bound(microscope["probe_fwhm"], "microscope.probe_fwhm")
    if probe > field / 4:
        _fail("microscope.probe_fwhm", f"up to {probe:g} nm is more than a quarter of the {field:g} nm field of view "
              f"(image.size × image.pixel_size): the image would be a blur")
    if microscope["dose"] is not None:
        area = (10.0 * pixel) ** 2  # Å² per pixel
        most = upper_bound(microscope["dose"], "microscope.dose")
        least = _lower_bound(microscope["dose"], "microscope.dose")
        if most * area > MAX_COUNTS:
            _fail("microscope.dose", f"up to {most:g} e/Å² on {10 * pixel:g} Å pixels is "
                  f"{most * area:.3g} electrons per pixel, more than the {MAX_COUNTS:.0e} a pixel counts")
        if least * area < MIN_COUNTS:
            _fail("microscope.dose", f"down to {least:g} e/Å² on {10 * pixel:g} Å pixels is "
                  f"{least * area:.3g} electrons per pixel, fewer than one: the image would be empty")


SHARD_BYTES = 256 * 2**20  # in-memory arrays of one shard (images + ground truth), at most


def image_bytes(spec: dict) -> int:
    """Bytes one object (all its views) takes in a shard's arrays: the stored image, and with
    ground truth its float32 thickness map and bool mask."""
    side = spec["image"]["size"]
    per_pixel = np.dtype(spec["output"]["dtype"]).itemsize + (5 if spec["output"]["ground_truth"] else 0)
    return side * side * per_pixel * spec["views"]["count"]


def shard_objects(spec: dict) -> int:
    """Objects per shard: ``output.shard_size`` images rounded down to whole objects, and no
    more than fit :data:`SHARD_BYTES` (so a worker's memory stays bounded at any image size;
    at the shipped sizes the byte budget never binds). At least one."""
    nominal = max(1, spec["output"]["shard_size"] // spec["views"]["count"])
    return max(1, min(nominal, SHARD_BYTES // image_bytes(spec)))


def spec_hash(spec: dict) -> str:
    """Identity of a resolved spec (with the stemsim version), to refuse mixing datasets. A
    spec whose shards the byte budget cuts (:func:`shard_objects`) hashes that layout too: a
    dataset begun with other shards is never resumed into."""
    from stemsim import __version__

    identity = {"spec": spec, "version": __version__}
    if shard_objects(spec) != max(1, spec["output"]["shard_size"] // spec["views"]["count"]):
        identity["shard_objects"] = shard_objects(spec)
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def dump_spec(spec: dict) -> str:
    """The resolved spec as YAML, with the version and hash that made it."""
    from stemsim import __version__

    document = dict(spec)
    document["stemsim_version"] = __version__
    document["spec_hash"] = spec_hash(spec)
    return yaml.safe_dump(document, sort_keys=False)
