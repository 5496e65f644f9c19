"""Microscope files in: one image and its nm per pixel, read with the file's own calibration.

:func:`read_micrograph` reads what microscopes write through **rosettasciio** (the reader library
of the HyperSpy ecosystem; stemsim writes no readers of its own):

| suffix | format | read by |
| --- | --- | --- |
| `.dm3`, `.dm4` | Gatan DigitalMicrograph | `rsciio.digitalmicrograph` |
| `.emd` | Velox (Thermo Fisher), Berkeley EMD | `rsciio.emd` |
| `.ser`, `.emi` | FEI TIA | `rsciio.tia` |
| `.mrc` | MRC | `rsciio.mrc` |
| `.hspy` | HyperSpy | `rsciio.hspy` |
| `.tif`, `.tiff` | TIFF, with its calibration tags (ImageJ, Gatan, FEI, Zeiss, JEOL, ...) | `rsciio.tiff` |
| anything else | PNG, JPEG, BMP: no calibration | Pillow (`read_image`) |

**The scale** is the file's: the two image axes' ``scale`` and ``units``, converted to nm (m, mm,
µm, nm, Å, pm). Pixels whose two sides differ by more than 1 % are resampled (bilinear) to
square pixels of the finer side. A file whose axes carry no length unit (none, or pixels: a PNG,
an uncalibrated TIFF, an MRC whose cell size is 0) has an unknown scale: it is refused with one
line unless ``pixel_size`` is given (``require_scale=False``: read anyway, pixel size None). A
``pixel_size`` given for a calibrated file must agree with it within 1 % (then the file's value
is used); otherwise it is refused with one line naming both, unless ``override_scale``.

**One image**: a file of several signals (a Velox file's HAADF and EDS data) gives its only
image, or, with several, is refused with one line listing them (pick one: ``signal``); a stack
(an image per navigation position: a time series, a tilt series) needs ``frame`` (flat index
over the navigation positions); a spectrum, a spectrum image or a diffraction pattern is refused
with one line saying what it is. A file rosettasciio cannot read: one line with the reader's
reason. Size limits as for every image (:mod:`stemsim.classifiers.limits`): the file is opened
lazily and the image's size checked before its pixels are read.
"""

from __future__ import annotations

import contextlib
import logging
import math
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.limits import MAX_ARRAY_BYTES, check_image_size
from stemsim.classifiers.preprocessing import read_image
from stemsim.classifiers.scale import PIXEL_SIZE, check_pixel_size
from stemsim.errors import InputError, argument, reason, shown

FRAME = argument("--frame", "frame")
SIGNAL = argument("--signal", "signal")
OVERRIDE = argument("--override-scale", "override_scale=True")
TOLERANCE = 0.01
"""Two pixel sizes within 1 % of each other agree (the axes of one file; a file and ``pixel_size``)."""

READERS = {".dm3": ("digitalmicrograph", "Gatan DigitalMicrograph"), ".dm4": ("digitalmicrograph",
           "Gatan DigitalMicrograph"), ".emd": ("emd", "EMD"), ".ser": ("tia", "FEI TIA"),
           ".emi": ("tia", "FEI TIA"), ".mrc": ("mrc", "MRC"), ".hspy": ("hspy", "HyperSpy"),
           ".tif": ("tiff", "TIFF"), ".tiff": ("tiff", "TIFF")}
"""File suffix → (``rsciio`` module, the format's name)."""

NM_PER = {"m": 1e9, "mm": 1e6, "µm": 1e3, "μm": 1e3, "um": 1e3, "micron": 1e3, "microns": 1e3,
          "micrometer": 1e3, "micrometre": 1e3, "nm": 1.0, "nanometer": 1.0, "nanometre": 1.0,
          "å": 0.1, "Å": 0.1, "a": 0.1, "angstrom": 0.1, "angstroms": 0.1, "pm": 1e-3}
"""Nanometres per unit of an axis (units compared in lower case)."""
NO_UNIT = {"", "none", "<undefined>", "undefined", "px", "pixel", "pixels", "pix"}


@dataclass(frozen=True, eq=False)
class Micrograph:
    """One image read from a file, with its scale and what the file said about it."""

    image: np.ndarray
    """float64 ``(H, W)``: the intensities as the file holds them (colour files: luma)."""
    pixel_size_nm: float | None
    """nm per pixel (None only when read with ``require_scale=False`` and unknown)."""
    path: str
    reader: str
    """The format and who read it, e.g. ``Gatan DigitalMicrograph (rosettasciio 0.15.0)``."""
    scale_from: str
    """``file``, ``pixel_size`` (given; the file has none) or ``override`` (given over the file's), or ``unknown``."""
    file_scale: tuple[float, str] | None = None
    """What the file says of a pixel's width: (scale, units) as written, e.g. ``(0.001249, 'µm')``."""
    signal_type: str = ""
    title: str = ""
    shape: tuple[int, ...] = ()
    """The shape of the file's data (a stack's or spectrum image's whole shape)."""
    frame: int | None = None
    signal: int | None = None
    acquisition: dict[str, Any] = field(default_factory=dict)
    """What the file says of the instrument and acquisition, where it says it: ``microscope``,
    ``beam_energy_keV``, ``magnification``, ``camera_length_mm``, ``acquisition_mode``,
    ``dwell_time_s``, ``beam_current_nA``, ``detector``, ``specimen``, ``date``, ``time``."""
    notes: tuple[str, ...] = ()
    stored: np.ndarray | None = None
    """The pixels as stored, for image formats (PNG/JPEG/BMP/TIFF): uint8/uint16 kept, other types
    float32, RGB ``(H, W, 3)`` kept, as training on image folders reads them; None otherwise."""

    @property
    def pixels(self) -> np.ndarray:
        """What ``predict`` gives a run: :attr:`stored` for image formats (so that a run's
        ``preprocess.intensity`` reads a PNG as in training), :attr:`image` for microscope files."""
        return self.stored if self.stored is not None else self.image


def read_micrograph(path: str | Path, pixel_size: float | None = None, frame: int | None = None, *,
                    signal: int | None = None, override_scale: bool = False,
                    require_scale: bool = True) -> Micrograph:
    """The image of ``path`` and its nm per pixel (module doc); InputError, one line naming the
    file or the option, for every file it cannot give one image of known scale from.

    ``pixel_size``: nm per pixel, required for a file that records none; ``frame``: which image
    of a stack (0-based, over the navigation positions in order); ``signal``: which signal of a
    file of several; ``override_scale``: use ``pixel_size`` over the file's own calibration."""
    path = Path(path)
    given = check_pixel_size(pixel_size)
    if override_scale and given is None:
        raise InputError(f"{OVERRIDE}: needs {PIXEL_SIZE} (the pixel size to use instead of the file's)")
    for name, value in ((FRAME, frame), (SIGNAL, signal)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0):
            raise InputError(f"{name}: expected a whole number from 0, got {shown(value)}")
    suffix = path.suffix.lower()
    read = _read_rsciio(path, *READERS[suffix], frame, signal) if suffix in READERS else None
    if suffix not in READERS or read is None:  # a TIFF that rosettasciio cannot parse: read as a plain image
        with _quiet():
            read = _read_plain(path, frame)
    return _scaled(path, read, given, override_scale, require_scale)


# ---- reading ------------------------------------------------------------------------------


@dataclass
class _Read:
    image: np.ndarray
    axes: list[dict[str, Any]]  # the two image axes (rows, columns); [] when the format has none
    reader: str
    why_unknown: str | None = None  # what the message says of an unknown scale
    stored: np.ndarray | None = None
    shape: tuple[int, ...] = ()
    frame: int | None = None
    signal: int | None = None
    signal_type: str = ""
    title: str = ""
    acquisition: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def _as_stored(array: np.ndarray) -> np.ndarray:
    """As :func:`stemsim.classifiers.preprocessing.read_image` returns a TIFF: uint8/uint16 kept,
    everything else float32; an RGBA image's alpha dropped."""
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    return array if array.dtype in (np.uint8, np.uint16) else array.astype(np.float32)


def _gray(array: np.ndarray) -> np.ndarray:
    """float64 ``(H, W)``: an RGB image's luma (ITU-R 601 weights), a gray one as it is."""
    if array.ndim == 3:
        return np.asarray(array[..., :3], np.float64) @ np.array([0.299, 0.587, 0.114])
    return np.asarray(array, np.float64)


def _read_plain(path: Path, frame: int | None) -> _Read:
    stored = read_image(path)  # its size limits; InputError "PATH: not a readable image (...)"
    if frame:
        raise InputError(f"{FRAME}: {path} holds one image (frame 0), not frame {frame}")
    kind = path.suffix.lower().lstrip(".").upper() or "image"
    return _Read(_gray(stored), [], "Pillow" if kind not in ("TIF", "TIFF") else "tifffile",
                 f"a {kind} file records no pixel size", stored=stored, shape=stored.shape,
                 frame=0 if frame is not None else None)


@contextlib.contextmanager
def _quiet():
    """The readers' log lines and warnings kept off the terminal (an error is one line)."""
    loggers = [logging.getLogger(name) for name in ("rsciio", "tifffile")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL + 1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def _read_rsciio(path: Path, module: str, name: str, frame: int | None, signal: int | None) -> _Read | None:
    import importlib

    import rsciio

    reader = f"{name} (rosettasciio {rsciio.__version__})"
    api = importlib.import_module(f"rsciio.{module}")
    try:
        with _quiet():
            signals = list(api.file_reader(str(path), lazy=True))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except MemoryError:
        raise InputError(f"{path}: too large to read") from None
    except Exception as error:  # the readers raise many types for a file they cannot parse
        if module == "tiff":
            return None
        raise InputError(f"{path}: not a readable {name} file ({reason(error)})") from None
    if not signals and module == "tiff":
        return None
    if not signals:
        raise InputError(f"{path}: the {name} file holds no data")
    index = _choose(path, signals, signal)
    chosen = signals[index]
    with _quiet():
        image, axes, shape, frame = _image_of(path, chosen, frame)
    metadata = _mapped(chosen)
    read = _Read(_gray(image), axes, reader, shape=shape, frame=frame,
                 signal=index if len(signals) > 1 else None,
                 signal_type=str(_get(metadata, "Signal.signal_type") or ""),
                 title=str(_get(metadata, "General.title") or ""), acquisition=_acquisition(metadata))
    if module == "tiff":
        read.stored = _as_stored(image)
        _imagej_units(chosen, axes)
    if module == "mrc" and not (chosen.get("original_metadata", {}).get("std_header", {}).get("Xlen") or 0):
        for axis in axes:  # rosettasciio says 1 nm for an MRC header whose cell size is 0
            axis["units"] = None
        read.why_unknown = "its MRC header's cell size is 0"
    if len(signals) > 1:
        read.notes.append(f"signal {index} of {len(signals)}")
    return read


def _axes(s: dict[str, Any]) -> list[dict[str, Any]]:
    """A signal's axes in array order."""
    axes = [dict(a) for a in s.get("axes", [])]
    if all("index_in_array" in a for a in axes):
        axes.sort(key=lambda a: int(a["index_in_array"]))
    return axes


def _units(axis: dict[str, Any]) -> str:
    units = axis.get("units")
    return "" if units is None or not isinstance(units, str) else units.strip()


def _size(axes: list[dict[str, Any]]) -> str:
    return "×".join(str(int(a.get("size", 0))) for a in axes)


def _describe(s: dict[str, Any]) -> tuple[str, str]:
    """A signal's kind (``image``, ``stack``, ``spectrum``, ...) and its one-line description."""
    axes = _axes(s)
    nav = [a for a in axes if a.get("navigate")]
    sig = [a for a in axes if not a.get("navigate")]
    if not sig and len(nav) == 2:  # an image whose axes are all marked "navigate"
        nav, sig = [], nav
    kind_of = str(_get(s.get("metadata", {}), "Signal.signal_type") or "")
    title = str(_get(s.get("metadata", {}), "General.title") or "")
    said = "".join(f", {name} {value!r}" for name, value in (("title", title), ("signal type", kind_of)) if value)
    if len(sig) == 2 and any(_reciprocal(_units(a)) for a in sig):
        what = f"{_size(nav)} diffraction patterns" if nav else "a diffraction pattern"
        return "diffraction", f"{what} ({_size(sig)} px in {_units(sig[0])}{said})"
    if len(sig) == 2 and math.prod(int(a.get("size", 1)) for a in nav) == 1:  # a stack of one: its image
        return "image", f"an image ({_size(sig)} px{said})"
    if len(sig) == 2:
        n = math.prod(int(a.get("size", 1)) for a in nav)
        return "stack", f"a stack of {n} images ({_size(sig)} px each, data {_size(axes)}{said})"
    if len(sig) == 1:
        channels = f"{int(sig[0].get('size', 0))} channels" + (f" in {_units(sig[0])}" if _units(sig[0]) else "")
        what = {0: "a spectrum", 1: "a line of spectra"}.get(len(nav), "a spectrum image")
        where = f" at {_size(nav)} positions" if nav else ""
        return "spectrum", f"{what} ({channels}{where}{said})"
    return "other", f"a {len(sig)}-D signal (data {_size(axes)}{said})"


def _reciprocal(units: str) -> bool:
    u = units.replace(" ", "").lower()
    return u.startswith("1/") or "^-1" in u or "⁻¹" in u or u in ("mrad", "rad")


def _choose(path: Path, signals: list[dict[str, Any]], signal: int | None) -> int:
    if signal is not None:
        if signal >= len(signals):
            raise InputError(f"{SIGNAL}: {path} holds {len(signals)} signal(s), 0 to {len(signals) - 1}; "
                             f"there is no signal {signal}")
        return signal
    if len(signals) == 1:
        return 0
    kinds = [_describe(s) for s in signals]
    images = [i for i, (kind, _) in enumerate(kinds) if kind == "image"]
    if len(images) == 1:
        return images[0]
    listed = "; ".join(f"{i}: {text}" for i, (_, text) in enumerate(kinds[:8]))
    more = f"; and {len(kinds) - 8} more" if len(kinds) > 8 else ""
    raise InputError(f"{path}: holds {len(signals)} signals ({listed}{more}): pick one with {SIGNAL} K")


def _image_of(path: Path, s: dict[str, Any], frame: int | None):
    """The 2-D image of signal ``s`` (a stack's ``frame``), its two axes, the data's shape, the frame."""
    kind, text = _describe(s)
    axes, data = _axes(s), s["data"]
    shape = tuple(int(n) for n in data.shape)
    if len(shape) != len(axes):
        raise InputError(f"{path}: its data ({'×'.join(map(str, shape))}) does not match its {len(axes)} axes")
    where: dict[int, int] = {}
    if kind == "stack":
        nav = [i for i, a in enumerate(axes) if a.get("navigate")]
        n = math.prod(shape[i] for i in nav)
        if frame is None:
            raise InputError(f"{path}: holds {text}: pick one with {FRAME} K, K from 0 to {n - 1}")
        if frame >= n:
            raise InputError(f"{FRAME}: {path} holds {n} images, 0 to {n - 1}; there is no frame {frame}")
        where = {i: int(k) for i, k in zip(nav, np.unravel_index(frame, [shape[i] for i in nav]))}
    elif kind == "image":
        if frame:
            raise InputError(f"{FRAME}: {path} holds one image (frame 0), not frame {frame}")
        frame = 0 if frame is not None else None
        if len(shape) > 2:  # navigation axes of size 1
            where = {i: 0 for i, a in enumerate(axes) if a.get("navigate")}
    else:
        raise InputError(f"{path}: holds {text}, not an image: stemsim reads 2-D images "
                         f"(a stack's with {FRAME} K)")
    dims = [i for i in range(len(shape)) if i not in where]
    image_axes = [axes[i] for i in dims]
    height, width = (shape[i] for i in dims)
    check_image_size(path, width, height)
    index = tuple(where.get(i, slice(None)) for i in range(len(shape)))
    chunks = getattr(data, "numblocks", None)
    if chunks is not None and math.prod(chunks) == 1 and math.prod(shape) * data.dtype.itemsize > MAX_ARRAY_BYTES:
        raise InputError(f"{path}: too large to read: its {'×'.join(map(str, shape))} {data.dtype} data is over "
                         f"{MAX_ARRAY_BYTES >> 30} GiB in one piece")
    try:
        image = np.asarray(data[index])
    except MemoryError:
        raise InputError(f"{path}: too large to read") from None
    except Exception as error:
        raise InputError(f"{path}: cannot read its pixels ({reason(error)})") from None
    if image.dtype.names:  # RGB(A) as a structured array (rosettasciio's colour images)
        image = np.stack([image[n] for n in image.dtype.names if n in ("R", "G", "B")], axis=-1)
    if image.dtype.kind == "c":
        raise InputError(f"{path}: holds complex values ({text}); stemsim reads real intensities")
    if image.dtype.kind not in "biuf":
        raise InputError(f"{path}: holds {image.dtype} values, not intensities")
    return image, image_axes, shape, frame


def _imagej_units(s: dict[str, Any], axes: list[dict[str, Any]]) -> None:
    """An ImageJ TIFF's length unit, which rosettasciio reads only when it is ``micron``."""
    description = s.get("original_metadata", {}).get("ImageDescription")
    if not isinstance(description, str) or not description.startswith("ImageJ=") or any(map(_units, axes)):
        return
    found = re.search(r"^unit=(.+)$", description, re.MULTILINE)
    if found:
        unit = found.group(1).strip().replace("\\u00B5", "µ").replace("\\u00b5", "µ")
        for axis in axes:
            axis["units"] = unit


# ---- metadata -----------------------------------------------------------------------------


def _get(tree: Any, dotted: str) -> Any:
    for key in dotted.split("."):
        if not isinstance(tree, dict) or key not in tree:
            return None
        tree = tree[key]
    return tree


def _mapped(s: dict[str, Any]) -> dict[str, Any]:
    """The signal's HyperSpy-style metadata, with the reader's ``mapping`` of its original
    metadata applied (as HyperSpy's loader does: e.g. a DM file's Microscope Info → Acquisition_instrument)."""
    import copy

    metadata = copy.deepcopy(s.get("metadata") or {})
    for source, target in (s.get("mapping") or {}).items():
        try:
            where, convert = target if isinstance(target, tuple) else (target, None)
            value = _get(s.get("original_metadata") or {}, source)
            if value is None or _get(metadata, where) is not None:
                continue
            value = convert(value) if convert is not None else value
            node = metadata
            for key in where.split(".")[:-1]:
                node = node.setdefault(key, {})
            node[where.split(".")[-1]] = value
        except Exception:  # a mapping that does not apply to this file: skipped
            continue
    return metadata


ACQUISITION = (("microscope", "Acquisition_instrument.TEM.microscope"),
               ("beam_energy_keV", "Acquisition_instrument.TEM.beam_energy"),
               ("magnification", "Acquisition_instrument.TEM.magnification"),
               ("camera_length_mm", "Acquisition_instrument.TEM.camera_length"),
               ("acquisition_mode", "Acquisition_instrument.TEM.acquisition_mode"),
               ("dwell_time_s", "Acquisition_instrument.TEM.dwell_time"),
               ("beam_current_nA", "Acquisition_instrument.TEM.beam_current"),
               ("detector", "Acquisition_instrument.TEM.Detector.STEM.name"),
               ("specimen", "Sample.description"), ("date", "General.date"), ("time", "General.time"))


def _acquisition(metadata: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, where in ACQUISITION:
        value = _get(metadata, where)
        if isinstance(value, np.generic):
            value = value.item()
        if isinstance(value, str) and value.strip() or isinstance(value, (int, float)) and not isinstance(
                value, bool) and value != 0 and math.isfinite(value):  # a 0 is what DM writes for unknown
            out[name] = value
    return out


# ---- the scale ----------------------------------------------------------------------------


def _nm(axis: dict[str, Any]) -> float | None:
    """nm per pixel along ``axis``; None when its units are no length."""
    units = _units(axis)
    factor = NM_PER.get(units, NM_PER.get(units.lower()))
    try:
        scale = abs(float(axis.get("scale", 1.0)))
    except (TypeError, ValueError):
        return None
    return scale * factor if factor is not None and math.isfinite(scale) and scale > 0 else None


def _file_scale(path: Path, read: _Read) -> float | None:
    """nm per pixel from the file's image axes (square: resampled so when they differ)."""
    if len(read.axes) != 2:
        return None
    units = [_units(a) for a in read.axes]
    if all(u.lower() in NO_UNIT for u in units):
        read.why_unknown = read.why_unknown or ("its axes are in pixels" if any(units) else "its axes have no units")
        return None
    if any(_reciprocal(u) for u in units):
        raise InputError(f"{path}: its axes are in {units[1]} (reciprocal space: a diffraction pattern?), "
                         "not an image of the specimen")
    rows, columns = (_nm(a) for a in read.axes)
    if rows is None or columns is None:
        bad = units[0] if rows is None else units[1]
        raise InputError(f"{path}: its image axes are in {bad!r}, not a length (m, µm, nm, Å, pm)")
    if abs(rows - columns) <= TOLERANCE * min(rows, columns):
        return (rows + columns) / 2
    finer = min(rows, columns)
    height, width = read.image.shape
    factors = (rows / finer, columns / finer)
    check_image_size(path, round(width * factors[1]), round(height * factors[0]))
    from scipy.ndimage import zoom

    read.image = zoom(read.image, factors, order=1, mode="nearest", grid_mode=True)
    read.stored = None  # the resampled image is float64
    read.notes.append(f"non-square pixels ({rows:g} × {columns:g} nm) resampled to {finer:g} nm square")
    return finer


def _scaled(path: Path, read: _Read, given: float | None, override: bool, require: bool) -> Micrograph:
    found = _file_scale(path, read)
    file_scale = (float(abs(float(read.axes[1].get("scale", 1.0)))), _units(read.axes[1])) if found else None
    if found is not None and given is not None and not override and abs(given - found) > TOLERANCE * found:
        said = f" ({file_scale[0]:.5g} {file_scale[1]})" if file_scale[1] != "nm" else ""
        raise InputError(f"{PIXEL_SIZE}: {given:g} nm per pixel, but {path} says {found:.5g} nm{said}; "
                         f"leave {PIXEL_SIZE} out to use the file's, or add {OVERRIDE} to use yours")
    if found is not None and not override:
        pixel, source = found, "file"
    elif given is not None:
        pixel, source = given, "override" if found is not None else "pixel_size"
    elif require:
        raise InputError(f"{path}: pixel size unknown ({read.why_unknown}); give {PIXEL_SIZE} (nm per pixel)")
    else:
        pixel, source = None, "unknown"
    return Micrograph(read.image, pixel, str(path), read.reader, source, file_scale, read.signal_type, read.title,
                      read.shape, read.frame, read.signal, read.acquisition, tuple(read.notes), read.stored)
