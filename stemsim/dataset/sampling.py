"""From a resolved spec to images: the plan (which image is which label and split), the
per-image seeds, sampled parameters, and the scene and microscope they describe.

Each image ``i`` has its own seed, ``SeedSequence(spec seed, spawn_key=(i,))`` → a 63-bit
integer stored in the manifest.  That seed spawns two generators: one samples the
parameters, one drives the acquisition (film, scan noise, shot noise).  So the manifest's
parameters plus the seed regenerate an image without replaying the sampling.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import quaternion

from stemsim.simulator import (
    CarbonFilm,
    Microscope,
    Particle,
    Probe,
    ScanDistortion,
    ScanRotation,
    Scene,
    atomic_number,
    random_rotation,
)
from stemsim.simulator.lattice import Lattice
from stemsim.simulator.materials import symbol
from stemsim.simulator.rotation import axis_angle, zone_axis_rotation
from stemsim.simulator.shapes import REGISTRY, build_shape, configuration_names, reference_space  # noqa: F401  (re-exported)
from stemsim.dataset.parameters import ImageParameters
from stemsim.dataset.spec_checks import spec_lattice
from stemsim.dataset.spec_schema import RANGES, tilt_angles


def image_seed(spec_seed: int, index: int) -> int:
    """The seed of image ``index``: independent streams for every image, any job count."""
    state = np.random.SeedSequence(spec_seed, spawn_key=(index,)).generate_state(2, dtype=np.uint32)
    return int(state[0]) << 31 | int(state[1]) >> 1


def generators(seed: int) -> tuple[np.random.Generator, np.random.Generator]:
    """(parameter generator, acquisition generator) of an image seed."""
    sample, acquire = np.random.SeedSequence(seed).spawn(2)
    return np.random.default_rng(sample), np.random.default_rng(acquire)


@dataclass(frozen=True)
class PlannedImage:
    index: int
    label: object
    label_index: int
    split: str
    rank: int  # position within its split (its shard is rank // shard_size)

    @property
    def id(self) -> str:
        return f"{self.index:07d}"


def plan(spec: dict) -> list[PlannedImage]:
    """Every image of the dataset: labels cycle through the classes (balanced), and the
    objects of each class are dealt to the splits in proportion (stratified)."""
    values = spec["classes"]["values"]
    per_class = spec["classes"]["per_class"]
    splits = spec["splits"]
    counts = _split_counts(per_class, splits)
    # Rank r of a class goes to the split whose cumulative count first exceeds r.
    bounds = np.cumsum(list(counts.values()))
    names = list(counts)
    items = []
    for index in range(per_class * len(values)):
        label_index, rank_in_class = index % len(values), index // len(values)
        split = names[int(np.searchsorted(bounds, rank_in_class, side="right"))]
        items.append((index, label_index, split))
    ranks: dict[str, int] = {}
    planned = []
    for index, label_index, split in items:
        planned.append(PlannedImage(index, values[label_index], label_index, split, ranks.get(split, 0)))
        ranks[split] = ranks.get(split, 0) + 1
    return planned


def _split_counts(per_class: int, splits: dict) -> dict[str, int]:
    """Objects per class in each split (largest remainders, so they add up)."""
    exact = {name: per_class * fraction for name, fraction in splits.items()}
    counts = {name: int(math.floor(value)) for name, value in exact.items()}
    leftover = per_class - sum(counts.values())
    for name in sorted(exact, key=lambda n: counts[n] - exact[n])[:leftover]:
        counts[name] += 1
    return counts


def draw(value, rng: np.random.Generator, low=None, high=None):
    """One draw from a constant or a distribution (``normal`` redrawn into [low, high])."""
    if not isinstance(value, dict):
        return value
    (kind, args), = value.items()
    if kind == "choice":
        return args[int(rng.integers(len(args)))]
    if kind == "uniform":
        if all(isinstance(a, int) for a in args) and isinstance(low, int):
            return int(rng.integers(args[0], args[1] + 1))
        return float(rng.uniform(args[0], args[1]))
    if kind == "loguniform":
        return float(math.exp(rng.uniform(math.log(args[0]), math.log(args[1]))))
    for _ in range(1000):
        x = float(rng.normal(args[0], args[1]))
        if (low is None or x > low) and (high is None or x <= high):
            return x
    return float(args[0])


def drawn(value, rng: np.random.Generator, key: str):
    """One draw of the parameter ``key`` (``normal`` redrawn into its range, :data:`RANGES`)."""
    low, high, _ = RANGES[key]
    return draw(value, rng, low=float(low), high=float(high))


def sample_parameters(spec: dict, item: PlannedImage) -> ImageParameters:
    """Every sampled parameter of one image (:meth:`ImageParameters.to_row`: the manifest row
    without file locations)."""
    seed = image_seed(spec["seed"], item.index)
    rng, _ = generators(seed)
    obj = spec["object"]
    label = spec["label"]
    shape_name = item.label if label == "shape" else draw(obj["shape"], rng)
    size = drawn(obj["size"], rng, "object.size")
    takes_aspect = REGISTRY[shape_name].takes_aspect  # the cuboid's b/a and c/a, the ellipsoid's y and z
    aspect_b = drawn(obj["aspect"], rng, "object.aspect") if takes_aspect else 1.0
    aspect_c = drawn(obj["aspect"], rng, "object.aspect") if takes_aspect else 1.0
    material = draw(obj["material"], rng)
    orientation = _orientation(spec, material, rng)
    offset_x = drawn(obj["offset"], rng, "object.offset")
    offset_y = drawn(obj["offset"], rng, "object.offset")
    kind = draw(obj["deformation"]["kind"], rng)
    depth = drawn(obj["deformation"]["depth"], rng, "object.deformation.depth")
    shape = build_shape(shape_name, size, aspect_b, aspect_c)
    vertices = _deformed_vertices(spec, item, shape_name, shape.n_sites, rng)
    w, x, y, z = quaternion.as_float_array(orientation).tolist()
    configuration = None
    if shape.n_sites:
        configuration = reference_space(shape_name).classify(vertices).name
    return ImageParameters(
        seed=seed,
        object_seed=seed,
        shape=shape_name,
        size=size,
        aspect_b=aspect_b,
        aspect_c=aspect_c,
        material=symbol(atomic_number(material)),
        z=atomic_number(material),
        qw=w, qx=x, qy=y, qz=z,
        offset_x=offset_x,
        offset_y=offset_y,
        n_deformed=len(vertices),
        deformed_vertices=tuple(vertices),
        configuration=configuration,
        deformation_kind=kind if vertices else None,
        depth=depth if vertices else 0.0,
        pixel_size=spec["image"]["pixel_size"],
        image_size=spec["image"]["size"],
        supersampling=spec["image"]["supersampling"],
        **sample_acquisition(spec, rng),
        contrast=spec["microscope"]["contrast"],
        lattice=obj["lattice"],
        lattice_constant=obj["lattice_constant"],
    )


def _orientation(spec: dict, material, rng: np.random.Generator) -> np.quaternion:
    """The object's orientation: along ``object.zone_axis`` (the direction ``[u, v, w] @ cell``
    of the material's lattice, in the shape's frame) turned at random about the beam and
    mistilted (:func:`~stemsim.simulator.rotation.zone_axis_rotation`), else uniformly random
    or the spec's quaternion. Drawn where a random orientation always was, so that a spec
    without a zone axis draws what it always drew."""
    obj = spec["object"]
    if obj["zone_axis"] is not None:
        direction = np.asarray(obj["zone_axis"], dtype=float) @ spec_lattice(spec, material).cell
        return zone_axis_rotation(direction, rng, float(obj["zone_axis_tilt"]))
    if obj["orientation"] == "random":
        return random_rotation(rng)
    return np.quaternion(*obj["orientation"]).normalized()


def sample_acquisition(spec: dict, rng: np.random.Generator) -> dict:
    """The microscope and support fields of :class:`ImageParameters` for one acquisition, drawn
    in a fixed order (the rotation during the scan first); None where absent."""
    microscope = spec["microscope"]
    angle = drawn(microscope["rotation_during_scan"], rng, "microscope.rotation_during_scan")
    axis = _axis(microscope["rotation_axis"], rng)
    drift = drawn(microscope["drift"], rng, "microscope.drift")
    drift_direction = rng.uniform(0, 2 * math.pi)
    support = spec["support"]
    return {
        "z_exponent": drawn(microscope["z_exponent"], rng, "microscope.z_exponent"),
        "probe_fwhm": drawn(microscope["probe_fwhm"], rng, "microscope.probe_fwhm"),
        "probe_tail_weight": drawn(microscope["probe_tail_weight"], rng, "microscope.probe_tail_weight"),
        "probe_tail_width": drawn(microscope["probe_tail_width"], rng, "microscope.probe_tail_width"),
        "dose": None if microscope["dose"] is None else drawn(microscope["dose"], rng, "microscope.dose"),
        "scan_noise": drawn(microscope["scan_noise"], rng, "microscope.scan_noise"),
        "line_amplitude": drawn(microscope["line_amplitude"], rng, "microscope.line_amplitude"),
        "line_frequency": drawn(microscope["line_frequency"], rng, "microscope.line_frequency"),
        "drift_x": drift * math.cos(drift_direction),
        "drift_y": drift * math.sin(drift_direction),
        "rotation_angle": angle,
        "rotation_axis": tuple(axis),
        "scattering": drawn(microscope["scattering"], rng, "microscope.scattering"),
        "support_thickness": None if support is None else drawn(support["thickness"], rng, "support.thickness"),
        "support_roughness": None if support is None else drawn(support["roughness"], rng, "support.roughness"),
        "support_correlation_length": None if support is None else drawn(support["correlation_length"], rng,
                                                                        "support.correlation_length"),
    }


def sample_views(spec: dict, item: PlannedImage) -> list[ImageParameters]:
    """The parameters of every view of object ``item`` (one row when ``views.count`` is 1).

    The object (shape, size, deformation, material, position, base orientation) is drawn
    once, from the object's seed. View ``v`` has its own seed, ``image_seed(object seed, v)``,
    whose generators draw the view's orientation (per ``views.mode``), its rotation during
    the scan, with ``views.microscope: view`` all its microscope and support parameters, and
    its noise. So a view's manifest row regenerates it alone, like any image's.
    """
    base = sample_parameters(spec, item)
    views = spec["views"]
    if views["count"] == 1:
        return [base]
    object_orientation = np.quaternion(base.qw, base.qx, base.qy, base.qz)
    angles = tilt_angles(views)
    rows = []
    for view in range(views["count"]):
        seed = image_seed(base.seed, view)
        rng, _ = generators(seed)
        if views["mode"] == "random":
            orientation = random_rotation(rng)
        elif views["mode"] == "tilt":
            orientation = axis_angle(views["tilt"]["axis"], angles[view]) * object_orientation
        else:
            orientation = _jitter(views["jitter"], rng) * object_orientation
        acquisition = sample_acquisition(spec, rng)
        if views["microscope"] == "object":  # same settings; only the motion during the scan is the view's own
            acquisition = {k: acquisition[k] for k in ("rotation_angle", "rotation_axis")}
        w, x, y, z = quaternion.as_float_array(orientation.normalized()).tolist()
        rows.append(replace(base, **acquisition, seed=seed, qw=w, qx=x, qy=y, qz=z))
    return rows


def _jitter(rms_degrees: float, rng: np.random.Generator) -> np.quaternion:
    """A small rotation: uniform random axis, angle drawn from a normal of ``rms_degrees`` std."""
    return axis_angle(_axis("random", rng), float(rng.normal(0.0, rms_degrees)))


def _deformed_vertices(spec, item, shape_name, n_sites, rng) -> list[int]:
    label = spec["label"]
    count = spec["object"]["deformation"]["count"]
    if label == "n_deformations":
        k = int(item.label)
    elif label == "deformed":
        k = 0 if item.label == "undeformed" else int(draw(count, rng, low=1)) if count is not None else int(
            rng.integers(1, n_sites + 1))
    elif label == "configuration":
        space = reference_space(shape_name)
        cls = next(c for c in space.classes(int(draw(count, rng, low=0))) if c.name == item.label)
        return list(space.sample(cls, rng))
    else:
        k = 0 if count is None else int(draw(count, rng, low=0))
    k = min(k, n_sites)
    return sorted(int(v) for v in rng.choice(n_sites, size=k, replace=False)) if k else []


def _axis(value, rng) -> list[float]:
    if value == "random":
        v = rng.standard_normal(3)
        return (v / np.linalg.norm(v)).tolist()
    v = np.asarray(value, dtype=float)
    return (v / np.linalg.norm(v)).tolist()


def _parameters(params) -> ImageParameters:
    return params if isinstance(params, ImageParameters) else ImageParameters.from_row(params)


def scene_and_microscope(params: ImageParameters | dict) -> tuple[Scene, Microscope]:
    """The scene and microscope that image parameters (or a manifest row) describe."""
    p = _parameters(params)
    shape = build_shape(p.shape, float(p.size), float(p.aspect_b), float(p.aspect_c))
    if p.deformed_vertices:
        shape = shape.deform(p.deformation_kind, list(p.deformed_vertices), float(p.depth))
    spin = None
    if p.rotation_angle:
        spin = ScanRotation(tuple(float(v) for v in p.rotation_axis), float(p.rotation_angle))
    orientation = np.quaternion(*(float(v) for v in (p.qw, p.qx, p.qy, p.qz)))
    lattice = None  # the element's, when a contrast model asks (Particle.crystal)
    if p.lattice != "auto" or p.lattice_constant is not None:
        lattice = Lattice.for_element(int(p.z), p.lattice, None if p.lattice_constant is None else float(p.lattice_constant))
    particle = Particle(shape, int(p.z), orientation, (float(p.offset_x), float(p.offset_y)), spin, lattice)
    support = None
    if p.support_thickness is not None:
        support = CarbonFilm(float(p.support_thickness), float(p.support_roughness),
                             float(p.support_correlation_length))
    microscope = Microscope(
        pixel_size=float(p.pixel_size),
        size=int(p.image_size),
        z_exponent=float(p.z_exponent),
        probe=Probe(float(p.probe_fwhm), float(p.probe_tail_weight), float(p.probe_tail_width)),
        dose=None if p.dose is None else float(p.dose),
        scan=ScanDistortion(float(p.scan_noise), float(p.line_amplitude),
                            float(p.line_frequency), (float(p.drift_x), float(p.drift_y))),
        supersampling=int(p.supersampling),
        scattering=float(p.scattering),
        contrast=p.contrast,
    )
    return Scene([particle], support), microscope


def acquire(params: ImageParameters | dict):
    """The :class:`simulator.Measurement` of image parameters (or a manifest row), with their
    own noise stream."""
    scene, microscope = scene_and_microscope(params)
    _, rng = generators(int(_parameters(params).seed))
    return microscope.acquire(scene, rng)
