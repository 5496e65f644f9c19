"""The sampled parameters of one image, as a frozen dataclass, and their manifest row.

:class:`ImageParameters` holds typed values (``None`` where a quantity is absent: no dose
noise, no support, no deformation); :meth:`~ImageParameters.to_row` writes the row of
``manifest.csv`` (CSV-shaped: ``""`` for None, vertices and the rotation axis as
space-separated numbers) and :meth:`~ImageParameters.from_row` reads one back, so a manifest
row regenerates its image (:func:`stemsim.dataset.sampling.acquire`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any, Mapping

PARAMETER_COLUMNS = [
    "seed", "object_seed", "shape", "size", "aspect_b", "aspect_c", "material", "z", "qw", "qx", "qy", "qz", "offset_x", "offset_y",
    "n_deformed", "deformed_vertices", "configuration", "deformation_kind", "depth", "pixel_size", "image_size",
    "supersampling", "z_exponent", "probe_fwhm", "probe_tail_weight", "probe_tail_width", "dose", "scan_noise",
    "line_amplitude", "line_frequency", "drift_x", "drift_y", "rotation_angle", "rotation_axis", "scattering",
    "support_thickness", "support_roughness", "support_correlation_length",
]
"""The manifest's parameter columns, in order (the fields of :class:`ImageParameters`)."""
CRYSTAL_COLUMNS = ["contrast", "lattice", "lattice_constant"]
"""The columns after :data:`PARAMETER_COLUMNS` of a spec that uses them (a contrast model other
than ``linear``, or a lattice named): a spec that does not writes the manifest it always wrote,
and a manifest without them reads as their defaults (:data:`CRYSTAL_DEFAULTS`)."""
CRYSTAL_DEFAULTS = {"contrast": "linear", "lattice": "auto", "lattice_constant": None}


def _crystal_columns_used(values: Mapping[str, Any]) -> bool:
    """Whether any of :data:`CRYSTAL_COLUMNS` in ``values`` is off its default."""
    return any(values[name] != default for name, default in CRYSTAL_DEFAULTS.items())


def parameter_columns(spec: dict) -> list[str]:
    """The manifest's parameter columns for ``spec``: :data:`PARAMETER_COLUMNS`, and
    :data:`CRYSTAL_COLUMNS` unless every one is at its default."""
    values = {"contrast": spec["microscope"]["contrast"], "lattice": spec["object"]["lattice"],
              "lattice_constant": spec["object"]["lattice_constant"]}
    return PARAMETER_COLUMNS + (CRYSTAL_COLUMNS if _crystal_columns_used(values) else [])


@dataclass(frozen=True)
class ImageParameters:
    """Every sampled parameter of one image (one view).

    Lengths are nm, angles degrees, drifts and scan distortions pixels; the numbers are kept
    as drawn (an integer constant of the spec stays an integer, so the manifest reads as
    before). ``obj[name]`` reads the manifest row's value of column ``name`` (``""`` for None).

    Attributes
    ----------
    seed, object_seed : int
        The image's seed (its own noise stream) and its object's (the same without views).
    shape : str
        A name of :data:`stemsim.simulator.shapes.REGISTRY`.
    size, aspect_b, aspect_c : float
        Characteristic length (nm) and the two aspects (1 for shapes that take none).
    material : str
        Element symbol; ``z`` its atomic number (int).
    qw, qx, qy, qz : float
        Orientation quaternion (object → lab).
    offset_x, offset_y : float
        Position of the centre, nm.
    n_deformed : int
        Deformed vertices; ``deformed_vertices`` their indices (sorted tuple of int).
    configuration : str or None
        Configuration class of the deformed vertices (None: a shape without sites).
    deformation_kind : str or None
        ``truncate``, ``dent`` or ``bump``; None when nothing is deformed (``depth`` then 0).
    pixel_size : float
        nm per pixel; ``image_size`` pixels per side, ``supersampling`` rays per pixel side.
    z_exponent, probe_fwhm, probe_tail_weight, probe_tail_width : float
        Z contrast exponent; probe FWHM (nm), tail weight and tail scale γ (nm; its FWHM is 1.53 γ).
    dose : float or None
        e/Å² (None: noise-free).
    scan_noise, line_amplitude, line_frequency, drift_x, drift_y : float
        Scan distortions: pixels, pixels, cycles per frame, pixels per frame.
    rotation_angle : float
        Rotation during the scan (degrees over the frame) about ``rotation_axis`` (unit 3-tuple).
    scattering : float
        Detected fraction per nm per Z^n.
    support_thickness, support_roughness, support_correlation_length : float or None
        Carbon film, nm (None: no support).
    contrast : str
        The contrast model (a name of ``stemsim.simulator.contrast.CONTRAST_MODELS``).
    lattice : str
        ``auto`` (the element's structure) or a name of ``stemsim.simulator.lattice.STRUCTURES``;
        ``lattice_constant`` its constant a, nm (None: the element's).
    """

    seed: int
    object_seed: int
    shape: str
    size: float
    aspect_b: float
    aspect_c: float
    material: str
    z: int
    qw: float
    qx: float
    qy: float
    qz: float
    offset_x: float
    offset_y: float
    n_deformed: int
    deformed_vertices: tuple[int, ...]
    configuration: str | None
    deformation_kind: str | None
    depth: float
    pixel_size: float
    image_size: int
    supersampling: int
    z_exponent: float
    probe_fwhm: float
    probe_tail_weight: float
    probe_tail_width: float
    dose: float | None
    scan_noise: float
    line_amplitude: float
    line_frequency: float
    drift_x: float
    drift_y: float
    rotation_angle: float
    rotation_axis: tuple[float, float, float]
    scattering: float
    support_thickness: float | None
    support_roughness: float | None
    support_correlation_length: float | None
    contrast: str = "linear"
    lattice: str = "auto"
    lattice_constant: float | None = None

    def to_row(self, crystal: bool | None = None) -> dict[str, Any]:
        """The manifest columns (what ``manifest.csv`` holds): :data:`PARAMETER_COLUMNS`, and
        :data:`CRYSTAL_COLUMNS` when ``crystal`` (None: unless all are at their defaults, as
        :func:`parameter_columns` decides for the spec)."""
        row = asdict(self)
        if crystal is None:
            crystal = _crystal_columns_used(row)
        if not crystal:
            for name in CRYSTAL_COLUMNS:
                del row[name]
        for name, value in row.items():
            if value is None:
                row[name] = ""
        row["deformed_vertices"] = " ".join(map(str, self.deformed_vertices))
        row["rotation_axis"] = " ".join(f"{v:.17g}" for v in self.rotation_axis)  # 17 digits: the float exactly
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ImageParameters:
        """Read a manifest row (strings, as ``csv`` gives them) or a :meth:`to_row` dict;
        columns other than :data:`PARAMETER_COLUMNS` and :data:`CRYSTAL_COLUMNS` are ignored, and
        missing crystal columns read as their defaults."""
        values: dict[str, Any] = {}
        for f in fields(cls):
            if f.name in CRYSTAL_DEFAULTS and f.name not in row:
                continue  # a manifest written without them: the dataclass defaults
            value = row[f.name]
            kind = str(f.type)
            if f.name == "deformed_vertices":
                values[f.name] = tuple(int(v) for v in str(value).split())
            elif f.name == "rotation_axis":
                values[f.name] = tuple(float(v) for v in str(value).split())
            elif value == "" or value is None:
                values[f.name] = None if "None" in kind else 0.0
            elif kind.startswith("int"):
                values[f.name] = int(value)
            elif kind.startswith("float"):
                values[f.name] = float(value)
            else:
                values[f.name] = str(value)
        return cls(**values)

    def __getitem__(self, name: str) -> Any:
        return self.to_row(crystal=True)[name]
