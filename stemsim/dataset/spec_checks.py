"""Checking a spec against :data:`~stemsim.dataset.spec_schema.SPEC`: unknown keys, each
value's own check, then the checks that involve several keys.

The limits of one value are declared with its key (:mod:`stemsim.dataset.spec_schema`);
here are those relative to others: the classes a label and its shapes allow, the largest
object against the field of view, the smallest against the pixel, the dose against the
counts a pixel holds. Every problem is one :class:`~stemsim.errors.InputError` line
``key.path: problem``.
"""

from __future__ import annotations

import math
from typing import Any

from stemsim.simulator.lattice import STRUCTURES, Lattice, reference_structure
from stemsim.simulator.materials import atomic_number, symbol
from stemsim.simulator.shapes import REGISTRY, SHAPE_NAMES, build_shape, configuration_names
from stemsim.dataset.spec_schema import (DEFORMED_VALUES, FREE_SECTIONS, LABELS, NULLABLE_SECTIONS, RANGES, SPEC)
from stemsim.dataset.spec_values import _count, _fail, _num, _shown, values_of
from stemsim.schema import Key, is_integer, is_number, subschema

MAX_COUNTS = 1.0e9  # electrons per pixel: counts are int32, and no detector sees more
MIN_COUNTS = 1.0  # electrons per pixel: fewer, and the image is empty
MAX_DEFORMATIONS = max(kind.sites for kind in REGISTRY.values())  # the most vertices of any shape
MAX_ATOMS = 10_000_000  # atoms in the bounding sphere of one particle of the crystalline model (memory: ~0.5 GB)

# The order in which sections are checked (the first problem found is the one reported).
CHECK_ORDER = ("name", "seed", "image", "object", "microscope", "support", "views", "splits", "output")


def check_keys(raw: Any, schema: dict[str, Key] = SPEC, key: str = "") -> None:
    """Refuse a section that is no mapping and any key that ``schema`` does not declare,
    nested sections included (split names are the user's; ``support`` may be null)."""
    if not isinstance(raw, dict):
        _fail(key, f"expected a mapping, got {type(raw).__name__}")
    for name in raw:
        if name not in schema:
            where = f"{key}.{name}" if key else str(name)
            _fail(where, f"unknown key (allowed: {', '.join(schema)})")
    for name, value in raw.items():
        where = f"{key}.{name}" if key else name
        inner = subschema(schema[name])
        if where in FREE_SECTIONS:  # its names are the user's: a mapping is all it must be
            if not isinstance(value, dict):
                _fail(where, f"expected a mapping, got {type(value).__name__}")
        elif inner is not None and not (where in NULLABLE_SECTIONS and value is None):
            check_keys(value, inner, where)


def check_values(spec: dict) -> None:
    """Each value of a merged spec by its own :class:`Key` check, then :func:`check_relations`."""
    for name in CHECK_ORDER:
        _check_section(spec[name], SPEC[name], name)
    check_relations(spec)


def _check_section(value: Any, key: Key, path: str) -> None:
    inner = subschema(key)
    if inner is None:
        key.check(path, value)
    elif value is not None:
        for name, item in value.items():
            _check_section(item, inner[name], f"{path}.{name}")


def check_relations(spec: dict) -> None:
    """The checks that involve several keys."""
    views = spec["views"]
    step = views["tilt"]["step"]
    if step is not None:
        first, end = views["tilt"]["range"]
        last = first + (views["count"] - 1) * step
        if last > end + 1e-9:
            _fail("views.tilt.step", f"{views['count']} views {step:g}° apart end at {last:g}°, beyond the range's "
                  f"{end:g}° (lower views.count or the step)")
    output = spec["output"]
    if "png" in output["formats"] and output["dtype"] == "float32":
        _fail("output.dtype", "PNG holds integers: use uint8/uint16, or the tiff format for float32")
    check_classes(spec)
    check_fit(spec)
    check_scales(spec)
    check_crystal(spec)


def upper_bound(value, key: str | None = None) -> float:
    """The largest value a constant or distribution can take (normal: mean + 4 std, and no
    more than the top of the range of parameter ``key``, as draws are redrawn into it)."""
    if is_number(value):
        return float(value)
    (kind, args), = value.items()
    if kind == "normal":
        top = float(args[0] + 4 * args[1])
        return min(top, RANGES[key][1]) if key in RANGES else top
    return float(max(args))


def lower_bound(value, key: str | None = None) -> float:
    """The smallest value a constant or distribution can take (see :func:`upper_bound`)."""
    if is_number(value):
        return float(value)
    (kind, args), = value.items()
    if kind == "normal":
        bottom = float(args[0] - 4 * args[1])
        return max(bottom, RANGES[key][0]) if key in RANGES else bottom
    return float(min(args))


def _count_range(spec: dict) -> tuple[int, int] | None:
    count = spec["object"]["deformation"]["count"]
    if count is None:
        return None
    if isinstance(count, int):
        return count, count
    (kind, args), = count.items()
    return int(min(args)), int(max(args))


def _without_sites(spec: dict, shapes: list, counts, values) -> None:
    """A shape with no sites (an ellipsoid) takes no deformation: refuse a label or count that needs one."""
    bare = [s for s in shapes if REGISTRY[s].sites == 0]
    if not bare:
        return
    label = spec["label"]
    asked = (label in ("deformed", "configuration") or (counts is not None and counts[1] > 0)
             or (label == "n_deformations" and values is not None and any(v != 0 for v in values)))
    if asked:
        _fail("object.shape" if label != "shape" else "classes.values",
              f"{REGISTRY[bare[0]].called} has no vertices to deform "
              f"(label {label}, object.deformation.count: {_shown(spec['object']['deformation']['count'])})")


def check_classes(spec: dict) -> None:
    """The label, its classes and the deformation count, for the shapes asked; fills ``classes.values``."""
    label = spec["label"]
    if label not in LABELS:
        _fail("label", f"expected one of {', '.join(LABELS)}, got {_shown(label)}")
    classes = spec["classes"]
    if classes["values"] is not None and (not isinstance(classes["values"], list) or not classes["values"]):
        _fail("classes.values", f"expected a non-empty list, got {_shown(classes['values'])}")
    per_class = classes["per_class"]
    if not is_integer(per_class) or per_class < 1:
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
    _without_sites(spec, shapes, counts, values if label == "n_deformations" else None)
    fewest = min(REGISTRY[s].sites for s in shapes)
    smallest = min(shapes, key=lambda s: REGISTRY[s].sites)
    if label == "n_deformations":
        values = list(range(fewest + 1)) if values is None else values
        for v in values:
            if not is_integer(v) or v < 0:
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


def largest_shapes(spec: dict):
    """(name, shape) of each shape a spec makes, at its largest: the top size and aspects, every
    vertex bumped as far as a bump goes (what the limits on the field and the atoms bound)."""
    obj = spec["object"]
    shapes = spec["classes"]["values"] if spec["label"] == "shape" else values_of(obj["shape"])
    size = upper_bound(obj["size"], "object.size")
    aspect = upper_bound(obj["aspect"], "object.aspect")
    depth = upper_bound(obj["deformation"]["depth"], "object.deformation.depth")
    for name in shapes:
        shape = build_shape(name, size, aspect, aspect)
        kinds = values_of(obj["deformation"]["kind"])
        if "bump" in kinds and shape.n_sites:
            shape = shape.bump(range(shape.n_sites), min(depth, 0.5))
        yield name, shape


def check_fit(spec: dict) -> None:
    """The largest object, turned any way, must fit the field of view."""
    obj = spec["object"]
    field = spec["image"]["size"] * spec["image"]["pixel_size"]
    size = upper_bound(obj["size"], "object.size")
    offset = max(abs(upper_bound(obj["offset"], "object.offset")), abs(lower_bound(obj["offset"], "object.offset")))
    for name, shape in largest_shapes(spec):
        diameter = 2 * (shape.bounding_radius + math.sqrt(2) * offset)
        if diameter > field:
            _fail("object.size", f"{REGISTRY[name].called} of up to {size:g} nm spans up to {diameter:.1f} nm, "
                  f"more than the {field:g} nm field of view (image.size × image.pixel_size)")


def check_scales(spec: dict) -> None:
    """Limits relative to the pixel and the field of view (:data:`RANGES` has the absolute ones)."""
    image, obj, microscope = spec["image"], spec["object"], spec["microscope"]
    pixel, side = image["pixel_size"], image["size"]
    field = side * pixel
    smallest = lower_bound(obj["size"], "object.size") * min(1.0, lower_bound(obj["aspect"], "object.aspect"))
    if smallest < pixel:
        _fail("object.size", f"down to {smallest:g} nm (× object.aspect) is less than one "
              f"{pixel:g} nm pixel (image.pixel_size): the object would not be seen")
    drift = max(abs(upper_bound(microscope["drift"], "microscope.drift")),
                abs(lower_bound(microscope["drift"], "microscope.drift")))
    if drift > side:
        _fail("microscope.drift", f"up to {drift:g} pixels per frame is more than the {side}-pixel field")
    probe = upper_bound(microscope["probe_fwhm"], "microscope.probe_fwhm")
    if probe > field / 4:
        _fail("microscope.probe_fwhm", f"up to {probe:g} nm is more than a quarter of the {field:g} nm field of view "
              f"(image.size × image.pixel_size): the image would be a blur")
    if microscope["dose"] is not None:
        area = (10.0 * pixel) ** 2  # Å² per pixel
        most = upper_bound(microscope["dose"], "microscope.dose")
        least = lower_bound(microscope["dose"], "microscope.dose")
        if most * area > MAX_COUNTS:
            _fail("microscope.dose", f"up to {most:g} e/Å² on {10 * pixel:g} Å pixels is "
                  f"{most * area:.3g} electrons per pixel, more than the {MAX_COUNTS:.0e} a pixel counts")
        if least * area < MIN_COUNTS:
            _fail("microscope.dose", f"down to {least:g} e/Å² on {10 * pixel:g} Å pixels is "
                  f"{least * area:.3g} electrons per pixel, fewer than one: the image would be empty")


def uses_lattice(spec: dict) -> bool:
    """Whether the particles' lattice is built: a contrast that sees it, a zone axis, or a
    lattice or constant given (else the linear model never asks for one: any element goes)."""
    obj = spec["object"]
    return (spec["microscope"]["contrast"] != "linear" or obj["zone_axis"] is not None
            or obj["lattice"] != "auto" or obj["lattice_constant"] is not None)


def spec_lattice(spec: dict, material) -> Lattice:
    """The lattice of ``material`` that ``object.lattice`` and ``object.lattice_constant`` ask
    for; the one-line error naming the key when ASE has no structure to take it from."""
    obj = spec["object"]
    structure, constant = obj["lattice"], obj["lattice_constant"]
    try:
        return Lattice.for_element(material, structure, constant)
    except ValueError:
        z = atomic_number(material)
        found = reference_structure(z) or "none"
        if structure == "auto":
            contrast = spec["microscope"]["contrast"]
            needs = " and ".join([f"microscope.contrast: {contrast}"] * (contrast != "linear")
                                 + ["object.zone_axis"] * (obj["zone_axis"] is not None)) or "object.lattice_constant"
            _fail("object.lattice", f"auto, but ASE has no crystal structure for {symbol(z)} ({found}), which {needs} "
                  f"needs: name one ({', '.join(STRUCTURES)}) and object.lattice_constant")
        _fail("object.lattice_constant", f"ASE has no crystal structure for {symbol(z)} ({found}) to take it from: "
              f"give it, in nm")


def most_atoms(spec: dict) -> int:
    """At most how many atoms a particle of ``spec`` holds: its largest shape's bounding sphere
    at the densest of its materials' lattices (a bound, not a count; 0 without a lattice)."""
    if not uses_lattice(spec):
        return 0
    density = max(spec_lattice(spec, m).number_density for m in values_of(spec["object"]["material"]))
    radius = max(shape.bounding_radius for _, shape in largest_shapes(spec))
    return int(math.ceil(4 / 3 * math.pi * radius**3 * density))


def check_crystal(spec: dict) -> None:
    """The contrast model, the lattice and the zone axis against the rest: a zone axis takes a
    random orientation (the turn about the beam is drawn), views that stay near it (a tilt
    series, jitter: not random views) and a crystal (not amorphous); a mistilt needs a zone
    axis; the crystalline model a static particle of at most :data:`MAX_ATOMS` atoms; every
    material a lattice (ASE's structure, or one named with its constant)."""
    obj, microscope, views = spec["object"], spec["microscope"], spec["views"]
    axis = obj["zone_axis"]
    if obj["zone_axis_tilt"] and axis is None:
        _fail("object.zone_axis_tilt", f"a mistilt of {_num(obj['zone_axis_tilt'])} mrad needs object.zone_axis "
              "(null here)")
    if axis is not None:
        if obj["orientation"] != "random":
            _fail("object.orientation", f"must be random with object.zone_axis (the axis sets the orientation, the "
                  f"turn about the beam is drawn), got {_shown(obj['orientation'])}")
        if obj["lattice"] == "amorphous":
            _fail("object.zone_axis", "an amorphous lattice (object.lattice) has no zone axes")
        if views["count"] > 1 and views["mode"] == "random":
            _fail("views.mode", "random views turn the particle off object.zone_axis: use tilt or jitter "
                  "(about the zone axis), or one view")
    if microscope["contrast"] == "crystalline":
        spin = microscope["rotation_during_scan"]
        key = "microscope.rotation_during_scan"
        if upper_bound(spin, key) != 0 or lower_bound(spin, key) != 0:
            _fail(key, f"must be 0 with microscope.contrast: crystalline (it images a static crystal), "
                  f"got {_shown(spin)}")
    if not uses_lattice(spec):
        return
    for material in values_of(obj["material"]):
        spec_lattice(spec, material)
    if microscope["contrast"] == "crystalline" and most_atoms(spec) > MAX_ATOMS:
        _fail("object.size", f"up to {upper_bound(obj['size'], 'object.size'):g} nm may hold up to "
              f"{_count(most_atoms(spec))} atoms (its bounding sphere), more than the {MAX_ATOMS:,} of one "
              "particle of the crystalline contrast model")


__all__ = ["MAX_ATOMS", "MAX_COUNTS", "MAX_DEFORMATIONS", "MIN_COUNTS", "check_classes", "check_crystal", "check_fit",
           "check_keys", "check_relations", "check_scales", "check_values", "largest_shapes", "lower_bound",
           "most_atoms", "spec_lattice", "upper_bound", "uses_lattice", "_count"]
