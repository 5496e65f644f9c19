"""The dataset spec's keys: one :class:`~stemsim.schema.Key` each, with its default, range,
units and one-line doc (:data:`SPEC`); :data:`DEFAULTS` and :data:`RANGES` are read from it.

Checks that involve several keys (the classes and the shapes, the object and the field of
view, the dose and the pixel) are in :mod:`stemsim.dataset.spec_checks`; the reference page
docs/reference/spec-keys.md is generated from :data:`SPEC` (``python -m stemsim.schema_docs``).
"""

from __future__ import annotations

from typing import Any

from stemsim.simulator.contrast import CONTRAST_MODELS
from stemsim.simulator.lattice import STRUCTURES
from stemsim.simulator.materials import atomic_number
from stemsim.simulator.shapes import SHAPE_NAMES
from stemsim.dataset.spec_values import (_choices, _count, _fail, _is_vector, _num, _shown, boolean, integer_in,
                                         keyword, numeric, one_of, random_or_vector, unchecked)
from stemsim.schema import Key, defaults, describe, is_finite, is_integer, is_number, section

LABELS = ("deformed", "n_deformations", "configuration", "shape")
DEFORMATION_KINDS = ("truncate", "dent", "bump")
FORMATS = ("png", "npz", "tiff")
DTYPES = ("uint8", "uint16", "float32")
DEFORMED_VALUES = ("undeformed", "deformed")
VIEW_MODES = ("random", "tilt", "jitter")
VIEW_MICROSCOPE = ("object", "view")
MAX_VIEWS = 64
MAX_TILT = 360  # degrees, either way, of a tilt series' first and last views
MAX_IMAGES = 10_000_000  # images (views counted) in one dataset: planning holds one entry each
MAX_SEED = 2**63  # seeds are int64 wherever they are stored
MAX_NAME = 100  # characters of a dataset name (it names folders: no path separators)

CONTRASTS = tuple(CONTRAST_MODELS)  # the simulator's registry: linear (the default), calibrated, crystalline
LATTICES = ("auto",) + STRUCTURES
LATTICE_CONSTANT = (0.1, 2.0)  # nm: every element's cell (Be's a 0.229, Cs's 0.614) and then some
MAX_ZONE_TILT = 200.0  # mrad rms: beyond, the particle is off axis, not mistilted

ADDED_KEYS = {"microscope.contrast": "linear", "object.lattice": "auto", "object.lattice_constant": None,
              "object.zone_axis": None, "object.zone_axis_tilt": 0.0}
"""Keys added after datasets were made, with their defaults: a key at its default is left out of
the spec hash (:func:`stemsim.dataset.spec.spec_hash`), so a spec written before them keeps
its identity (and its dataset, byte for byte, what it was)."""

FREE_SECTIONS = ("splits",)
"""Sections whose key names are the user's (split names)."""
NULLABLE_SECTIONS = ("support",)
"""Sections that may be ``null`` (no carbon support)."""


def _name(path: str, name: Any) -> Any:
    if not isinstance(name, str) or not name.strip():
        _fail(path, "a dataset needs a name (a non-empty string)")
    if len(name) > MAX_NAME or not name.isprintable() or "/" in name or "\\" in name or name.strip() in (".", ".."):
        _fail(path, f"expected at most {MAX_NAME} printable characters, no / or \\ (it names folders), "
              f"got {_shown(name)}")
    return name


def _seed(path: str, seed: Any) -> Any:
    if not is_integer(seed) or seed < 0:
        _fail(path, f"expected a non-negative integer, got {_shown(seed)}")
    if seed >= MAX_SEED:
        _fail(path, f"must be below 2^63, got {_shown(seed)}")
    return seed


_PIXEL = numeric(0.01, 100.0)


def _pixel_size(path: str, value: Any) -> Any:
    if not is_number(value) or not value > 0:
        _fail(path, f"must be a positive number of nm, got {_shown(value)}")
    return _PIXEL(path, value)


_pixel_size.bounds = _PIXEL.bounds


def _material(path: str, value: Any) -> Any:
    for material in _choices(path, value):
        try:
            atomic_number(material)
        except ValueError as error:
            problem = str(error).split(": ", 1)[1]  # the simulator's words; the value echoed here, cut
            _fail(path, f"unknown element {_shown(material)}" if isinstance(material, str)
                  else problem if len(problem) <= 100 else problem[:99] + "…")
    return value


def _jitter(path: str, value: Any) -> Any:
    if not is_finite(value) or not 0 <= value <= 180:
        _fail(path, f"expected an rms angle in degrees in [0, 180], got {_shown(value)}")
    return value


def _tilt_axis(path: str, value: Any) -> Any:
    if not _is_vector(value, 3):
        _fail(path, f"expected a non-zero vector [x, y, z], got {_shown(value)}")
    return value


def _tilt_range(path: str, span: Any) -> Any:
    if not (isinstance(span, list) and len(span) == 2 and all(is_finite(v) for v in span)):
        _fail(path, f"expected [first, last] angles in degrees, got {_shown(span)}")
    if span[0] > span[1]:
        _fail(path, f"first must be <= last, got {_shown(span)}")
    if not all(-MAX_TILT <= v <= MAX_TILT for v in span):
        _fail(path, f"angles must be in [-{MAX_TILT}, {MAX_TILT}] degrees, got {_shown(span)}")
    return span


def _tilt_step(path: str, step: Any) -> Any:
    if step is not None:
        if not is_finite(step) or not step > 0:
            _fail(path, f"expected a positive angle in degrees (or null), got {_shown(step)}")
        if step > 2 * MAX_TILT:
            _fail(path, f"must be <= {2 * MAX_TILT} degrees, got {_num(step)}")
    return step


def _lattice_constant(path: str, value: Any) -> Any:
    low, high = LATTICE_CONSTANT
    if value is not None and not (is_finite(value) and low <= value <= high):
        _fail(path, f"expected null (the element's) or a lattice constant in nm in [{low:g}, {high:g}], "
              f"got {_shown(value)}")
    return value


def _zone_axis(path: str, value: Any) -> Any:
    if value is not None and not _is_vector(value, 3):
        _fail(path, f"expected null or a crystal direction [u, v, w] (3 finite numbers, not all zero), "
              f"got {_shown(value)}")
    return value


def _zone_axis_tilt(path: str, value: Any) -> Any:
    if not is_finite(value) or not 0 <= value <= MAX_ZONE_TILT:
        _fail(path, f"expected an rms angle in mrad in [0, {MAX_ZONE_TILT:g}], got {_shown(value)}")
    return value


def _formats(path: str, formats: Any) -> Any:
    if not isinstance(formats, list) or not formats:
        _fail(path, f"expected a non-empty list from {', '.join(FORMATS)}, got {_shown(formats)}")
    for fmt in formats:
        if fmt not in FORMATS:
            _fail(path, f"unknown format {_shown(fmt)} (allowed: {', '.join(FORMATS)})")
    if len(set(formats)) != len(formats):
        _fail(path, f"a format is listed twice: {_shown(formats)}")
    return formats


def _shard_size(path: str, value: Any) -> Any:
    if not is_integer(value) or value < 1:
        _fail(path, f"expected a positive integer, got {_shown(value)}")
    if value > MAX_IMAGES:
        _fail(path, f"must be <= {MAX_IMAGES:,} (the most images of a dataset), got {_count(value)}")
    return value


MAX_SPLITS = 16  # splits of one dataset (each is a folder of class folders)


def _splits(path: str, splits: Any) -> Any:
    if not splits:
        _fail(path, "needs at least one split")
    if len(splits) > MAX_SPLITS:
        _fail(path, f"at most {MAX_SPLITS} splits, got {len(splits):,}")
    for name, fraction in splits.items():
        if not isinstance(name, str) or not name.isidentifier():
            _fail(path, f"split names must be simple words, got {_shown(name)}")
        if not is_finite(fraction) or not 0 <= fraction <= 1:
            _fail(f"{path}.{name}", f"must be a fraction in [0, 1], got {_shown(fraction)}")
    total = sum(splits.values())
    if abs(total - 1) > 1e-9:
        _fail(path, f"fractions must sum to 1, got {total:g}")
    return splits


DISTRIBUTED = "a constant or {uniform|normal|loguniform|choice: [...]}"

IMAGE = {
    "size": Key(128, integer_in(16, 4096, "an integer number of pixels"), "image side", range="16..4096",
                units="px"),
    "pixel_size": Key(0.15, _pixel_size, "sampling step (10 pm: finer than any STEM samples)", range="[0.01, 100]",
                      units="nm"),
    "supersampling": Key(1, integer_in(1, 8), "rays per pixel side (anti-aliasing of the thickness map)",
                         range="1..8"),
}
CLASSES = {
    "values": Key(None, unchecked, "the classes (null: every value the label takes)", range="a non-empty list"),
    "per_class": Key(100, unchecked, "objects per class; at most 10⁷ images in all, views counted", range=">= 1"),
}
DEFORMATION = {
    "kind": Key("truncate", one_of(DEFORMATION_KINDS, "kind"), "what a deformation does to a vertex",
                range=" | ".join(DEFORMATION_KINDS)),
    "depth": Key(0.25, numeric(0.01, 0.5), f"fraction of the adjacent edges (less: no visible cut); {DISTRIBUTED}",
                 range="[0.01, 0.5]"),
    "count": Key(None, numeric(None, None, integer=True, nullable=True),
                 "deformed vertices (integer; null: as the label needs)", range="0..8 (the most vertices of any shape)"),
}
OBJECT = {
    "shape": Key("cuboid", one_of(SHAPE_NAMES, "shape"), "a shape of stemsim.simulator.shapes.REGISTRY, or {choice: [...]}",
                 range=" | ".join(SHAPE_NAMES)),
    "size": Key(8.0, numeric(0.0, 1000.0, False), "the shape's characteristic length (see docs/datasets.md); "
                "× aspect at least one pixel, turned any way within the field of view", range="(0, 1000]", units="nm"),
    "aspect": Key(1.0, numeric(0.05, 20.0), "cuboid b/a and c/a, ellipsoid y and z diameters / size (drawn apart)",
                  range="[0.05, 20]"),
    "material": Key("Au", _material, "element symbol or atomic number, or {choice: [...]}", range="Z 1..103"),
    "orientation": Key("random", random_or_vector(4, "a quaternion [w, x, y, z]"),
                       "uniformly random, or one quaternion [w, x, y, z]", range="random | [w, x, y, z]"),
    "offset": Key(0.0, numeric(-1000.0, 1000.0), "shift of the centre in x and y (each drawn apart)",
                  range="[-1000, 1000]", units="nm"),
    "deformation": Key({}, section(DEFORMATION), "vertex deformations"),
    "lattice": Key("auto", keyword(LATTICES), "crystal structure, axes along the shape's (auto: the element's, "
                   "from ASE); the calibrated and crystalline contrasts and zone axes see it",
                   range=" | ".join(LATTICES)),
    "lattice_constant": Key(None, _lattice_constant, "the lattice constant a (hcp: c by the element's c/a, else the ideal √(8/3)); "
                            "null: the element's",
                            range=f"[{LATTICE_CONSTANT[0]:g}, {LATTICE_CONSTANT[1]:g}], or null", units="nm"),
    "zone_axis": Key(None, _zone_axis, "image along this crystal direction, [u, v, w] of the cell vectors, turned "
                     "at random about the beam (null: object.orientation)", range="null | non-zero [u, v, w]"),
    "zone_axis_tilt": Key(0.0, _zone_axis_tilt, "rms mistilt off the zone axis, per in-plane axis",
                          range=f"[0, {MAX_ZONE_TILT:g}]", units="mrad"),
}
MICROSCOPE = {
    "z_exponent": Key(1.7, numeric(1.0, 2.0), "intensity ∝ Z^n (Rutherford's Z² the top; ADF: 1.3-1.8)",
                      range="[1, 2]"),
    "probe_fwhm": Key(0.12, numeric(0.0, 10.0), "probe diameter at half maximum; at most a quarter of the field",
                      range="[0, 10]", units="nm"),
    "probe_tail_weight": Key(0.0, numeric(0.0, 1.0), "fraction of the probe in its wide tail", range="[0, 1]"),
    "probe_tail_width": Key(0.5, numeric(0.0, 100.0, False),
                            "scale γ of the probe's Cauchy tail (half maximum at 0.766 γ, FWHM 1.53 γ)", range="(0, 100]",
                            units="nm"),
    "dose": Key(5.0e3, numeric(0.0, 1.0e8, False, nullable=True),
                "electron dose (null: no shot noise); 1 to 1e9 electrons per pixel", range="(0, 1e8]",
                units="e/Å²"),
    "scan_noise": Key(0.0, numeric(0.0, 10.0), "rms jitter of each scan line's position", range="[0, 10]",
                      units="px"),
    "line_amplitude": Key(0.0, numeric(0.0, 10.0), "amplitude of a periodic line distortion", range="[0, 10]",
                          units="px"),
    "line_frequency": Key(0.0, numeric(0.0, 2048.0), "frequency of the line distortion", range="[0, 2048]",
                          units="/frame"),
    "drift": Key(0.0, numeric(-4096.0, 4096.0), "sample drift over the frame, random direction; at most the side",
                 range="[-4096, 4096]", units="px/frame"),
    "rotation_during_scan": Key(0.0, numeric(-360.0, 360.0), "rotation of the object over the frame",
                                range="[-360, 360]", units="°"),
    "rotation_axis": Key("random", random_or_vector(3, "a non-zero vector [x, y, z]"),
                         "axis of that rotation", range="random | [x, y, z]"),
    "scattering": Key(1.0e-5, numeric(1.0e-7, 1.0e-3),
                      "detected fraction per nm per Z^n (10 nm of gold scatters ~17 %)", range="[1e-7, 1e-3]",
                      units="/nm/Z^n"),
    "contrast": Key("linear", keyword(CONTRASTS), "the contrast model (stemsim.simulator.contrast.CONTRAST_MODELS; "
                    "linear: scattering · Z^n · t)", range=" | ".join(CONTRASTS)),
}
SUPPORT = {
    "thickness": Key(3.0, numeric(0.0, 100.0), "mean amorphous-carbon film thickness", range="[0, 100]", units="nm"),
    "roughness": Key(0.5, numeric(0.0, 20.0), "rms thickness variation", range="[0, 20]", units="nm"),
    "correlation_length": Key(1.0, numeric(0.0, 100.0, False), "lateral scale of the roughness", range="(0, 100]",
                              units="nm"),
}
TILT = {
    "axis": Key([0.0, 1.0, 0.0], _tilt_axis, "tilt axis (object frame)", range="non-zero [x, y, z]"),
    "range": Key([-60.0, 60.0], _tilt_range, "first and last tilt angles", range="[-360, 360], first <= last",
                 units="°"),
    "step": Key(None, _tilt_step, "angle between views (null: count views spread over the range)",
                range="(0, 720], or null", units="°"),
}
VIEWS = {
    "count": Key(1, integer_in(1, MAX_VIEWS, "an integer number of views"), "views of each object",
                 range=f"1..{MAX_VIEWS}"),
    "mode": Key("random", keyword(VIEW_MODES), "random orientations, a tilt series, or jitter about the object's",
                range=" | ".join(VIEW_MODES)),
    "tilt": Key({}, section(TILT), "the tilt series (mode tilt)"),
    "jitter": Key(5.0, _jitter, "rms angle of the jitter (mode jitter)", range="[0, 180]", units="°"),
    "microscope": Key("object", keyword(VIEW_MICROSCOPE, "object (one draw per object) or view (one per view)"),
                      "microscope and support drawn once per object or once per view",
                      range=" | ".join(VIEW_MICROSCOPE)),
}
OUTPUT = {
    "formats": Key(["png", "npz"], _formats, "files written", range="a list from " + ", ".join(FORMATS)),
    "dtype": Key("uint8", keyword(DTYPES), "stored image type (PNG: integers)", range=" | ".join(DTYPES)),
    "ground_truth": Key(True, boolean, "store the thickness map and mask with each image", range="true | false"),
    "shard_size": Key(256, _shard_size, "images per npz shard (and at most 256 MiB of arrays)",
                      range=f"1..{MAX_IMAGES:,}"),
}

SPEC: dict[str, Key] = {
    "name": Key(None, _name, "the dataset's name (it names folders)", range="1-100 printable chars, no / or \\"),
    "seed": Key(0, _seed, "seed of the whole dataset (every image its own stream)", range="0..2^63-1"),
    "image": Key({}, section(IMAGE), "the image"),
    "label": Key(None, unchecked, "what the classes are", range=" | ".join(LABELS)),
    "classes": Key({}, section(CLASSES), "the classes"),
    "splits": Key({"train": 0.8, "val": 0.1, "test": 0.1}, _splits,
                  "fraction of each class's objects per split (names: simple words)",
                  range="1..16 names, fractions in [0, 1] summing to 1"),
    "object": Key({}, section(OBJECT), "the nano-object"),
    "microscope": Key({}, section(MICROSCOPE), "the ADF-STEM acquisition"),
    "support": Key({}, section(SUPPORT), "the carbon film under the object (null: none)"),
    "views": Key({}, section(VIEWS), "views of each object"),
    "output": Key({}, section(OUTPUT), "what is written"),
}
"""Every key of a dataset spec, in the order a resolved spec (``spec.yaml``) lists them."""

DEFAULTS: dict[str, Any] = defaults(SPEC)
"""The resolved spec of an empty file (but a ``name`` and a ``label`` are required)."""

def _key(dotted: str) -> Key:
    """The :class:`Key` of a dotted spec key (``microscope.dose``)."""
    schema = SPEC
    *sections, last = dotted.split(".")
    for name in sections:
        schema = schema[name].check.schema
    return schema[last]


# (low, high, low inclusive) of each bounded numeric parameter, read from SPEC. The bounds are
# physical plausibility, wide enough for any microscope (aberration-corrected or not, atomic
# resolution to overview fields), so that an absurd value is refused rather than giving an
# empty, black or saturated image; limits relative to the pixel and the field follow in
# spec_checks.check_scales.
RANGES: dict[str, tuple[float | None, float | None, bool]] = {row.key: _key(row.key).check.bounds for row in describe(SPEC)
          if getattr(_key(row.key).check, "bounds", None) is not None}


def tilt_angles(views: dict) -> list[float]:
    """Tilt angles (degrees) of the views of a tilt series: ``range[0] + k·step``, the step
    spreading ``count`` views evenly over the range when not given."""
    first, last = views["tilt"]["range"]
    count = views["count"]
    step = views["tilt"]["step"]
    if step is None:
        step = (last - first) / (count - 1) if count > 1 else 0.0
    return [first + k * step for k in range(count)]
