"""Images at the training pixel size: what ``predict`` does to an image before the run's
preprocessing.

A model trained on a ``stemsim`` dataset knows the nm per pixel of its training images and
their size in pixels (the field of view): ``run.json`` ``scale`` = ``{pixel_size_nm,
image_size_px: [height, width], source}``, from the dataset's ``spec.yaml``
(``image.pixel_size``, ``image.size``; supersampling renders s × s rays per pixel of that
size and views are images of that size, so neither changes them). Data without a spec
(class folders, bare npz shards, the STM set) records ``null`` for both.

:func:`image_preparer` gives the one function that turns an image and its pixel size (nm, or
None when unknown) into the model's prepared input; ``predict`` calls it for every file, and a
reader of calibrated microscope files can call it with the file's own pixel size. For a run
that knows its scale it

1. **resamples** the image to the training pixel size (:func:`resample`:
   :func:`skimage.transform.rescale`, bilinear, with a Gaussian anti-aliasing filter when it
   shrinks), then
2. **centre-crops or pads** it to the training field of view (:func:`fit_field`); padding is the
   median of the image's outermost pixels (its border ring): in a centred-particle image that is
   the support / background level, which a particle filling most of the field would pull the
   median of the whole image away from; a constant pad adds no structure that edge replication
   would smear in (streaks of noise or of a particle touching the edge);

and then the run's own preprocessing (:meth:`stemsim.classifiers.preprocessing.Preprocessing.prepare`)
follows, as for a training image. An image of unknown pixel size is taken to be at the
training pixel size (no resampling: crop or pad only), with a warning; so is a warning given
for a pixel size more than 2× away from the training one either way. A run that knows no
scale (data without a spec, runs made before this was recorded) keeps the old behaviour: the
image goes to the preprocessing as it is (resized to the input, i.e. taken to span the training
field of view).

Integer images stay integer (rounded and clipped to their type's range) so that
``preprocess.intensity`` (``dtype``: uint8 ÷ 255) reads them as it reads training images.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from stemsim.errors import InputError, argument, render, shown

FAR = 2.0
"""A given pixel size more than this factor away from the training one (either way) is warned about."""

PIXEL_SIZE = argument("--pixel-size", "pixel_size")


class ScaleWarning(UserWarning):
    """An image's pixel size is unknown, or far from the training one (the Python API's warning;
    ``stemsim predict`` prints the same text on stderr)."""


@dataclass(frozen=True)
class TrainingScale:
    """The training images' pixel size (nm) and size ``(height, width)`` in pixels, or None."""

    pixel_size_nm: float | None = None
    image_size_px: tuple[int, int] | None = None

    @property
    def known(self) -> bool:
        return self.pixel_size_nm is not None and self.image_size_px is not None

    @classmethod
    def of_run(cls, info: dict[str, Any]) -> "TrainingScale":
        """From ``run.json`` (its ``scale``; none for a run made before it was recorded)."""
        scale = info.get("scale") or {}
        size = scale.get("image_size_px")
        return cls(scale.get("pixel_size_nm"), tuple(size) if size else None)


def training_scale(data_cfg: dict[str, Any]) -> dict[str, Any]:
    """``run.json`` ``scale`` for training data ``data_cfg`` (a resolved ``data`` section)."""
    from stemsim.dataset.store import open_dataset

    store = open_dataset(data_cfg["path"])
    spec_file = store.spec_file
    if data_cfg["kind"] == "stm" or not store.has_spec:
        return {"pixel_size_nm": None, "image_size_px": None,
                "source": "none: the data records no pixel size (no spec.yaml)"}
    try:
        pixel, size = store.pixel_size, store.image_size
    except InputError:
        raise InputError(f"{spec_file}: cannot read image.pixel_size and image.size") from None
    return {"pixel_size_nm": pixel, "image_size_px": [size, size],
            "source": f"image.pixel_size and image.size of {spec_file}"}


def check_scale(value: Any) -> str | None:
    """What is wrong with a ``run.json`` ``scale`` (None when it is fine)."""
    if not isinstance(value, dict):
        return "expected {pixel_size_nm, image_size_px, source}"
    pixel, size = value.get("pixel_size_nm"), value.get("image_size_px")
    if pixel is not None and not (isinstance(pixel, (int, float)) and not isinstance(pixel, bool)
                                  and math.isfinite(pixel) and pixel > 0):
        return f"pixel_size_nm: expected a positive number of nm or null, got {str(pixel)[:80]!r}"
    if size is not None and not (isinstance(size, list) and len(size) == 2
                                 and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size)):
        return f"image_size_px: expected [height, width] in pixels or null, got {str(size)[:80]!r}"
    return None


def check_pixel_size(pixel_size: float | None) -> float | None:
    """A given pixel size as a float; InputError unless it is a positive finite number of nm."""
    if pixel_size is None:
        return None
    try:
        value = float(pixel_size)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"{PIXEL_SIZE}: expected a positive number of nm per pixel, got {shown(pixel_size)}")
    return value


# ---- the two steps --------------------------------------------------------------------


def _as_type(array: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Float ``array`` back to ``dtype``: integers rounded and clipped to their range."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(array), info.min, info.max).astype(dtype)
    return array.astype(dtype)


def resample(image: np.ndarray, factor: float) -> np.ndarray:
    """``image`` ``(H, W)`` or ``(H, W, C)`` resampled by ``factor`` (output ``round(H · factor)``
    × ``round(W · factor)``): :func:`skimage.transform.rescale`, bilinear (``order=1``), edges
    reflected, with anti-aliasing (a Gaussian of σ = (1/factor − 1)/2 input pixels) when it
    shrinks; the type is kept. ``factor`` 1 returns ``image`` itself."""
    if abs(factor - 1.0) < 1e-9:
        return image
    from skimage.transform import rescale

    out = rescale(np.asarray(image, np.float64), factor, order=1, mode="reflect", anti_aliasing=factor < 1,
                  preserve_range=True, channel_axis=-1 if image.ndim == 3 else None)
    return _as_type(out, image.dtype)


def border_median(image: np.ndarray) -> np.ndarray:
    """The median of the outermost pixels (the border ring) per channel: ``()`` or ``(C,)``."""
    ring = np.concatenate([image[0], image[-1], image[1:-1, 0], image[1:-1, -1]])
    return np.median(ring.astype(np.float64), axis=0)


def fit_field(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` centre-cropped and/or padded to ``size`` = ``(height, width)``: a side longer than
    wanted loses ``(n − N) // 2`` pixels at its start and the rest at its end; a shorter one is
    padded so, with :func:`border_median` of the image (module doc). Same type."""
    height, width = size
    h, w = image.shape[:2]
    top, left = max(0, (h - height) // 2), max(0, (w - width) // 2)
    cropped = image[top:top + height, left:left + width]
    if cropped.shape[:2] == (height, width):
        return cropped
    out = np.empty((height, width, *image.shape[2:]), image.dtype)
    out[...] = _as_type(border_median(image), image.dtype)
    ch, cw = cropped.shape[:2]
    top, left = (height - ch) // 2, (width - cw) // 2
    out[top:top + ch, left:left + cw] = cropped
    return out


def to_training_scale(image: np.ndarray, pixel_size: float | None, scale: TrainingScale, name: str = "image",
                      warn: Callable[[str], None] | None = None) -> np.ndarray:
    """A raw image of ``pixel_size`` nm per pixel (None: unknown) at the run's training pixel
    size and field of view (module doc); ``image`` itself when the run knows no scale.
    ``warn(message)`` gets the warning lines (default: :class:`ScaleWarning`)."""
    if not scale.known:
        return image
    say = warn or (lambda message: warnings.warn(message, ScaleWarning, stacklevel=3))
    trained = float(scale.pixel_size_nm)
    if pixel_size is None:
        say(render(f"{name}: pixel size unknown; assuming the training pixel size {trained:g} nm "
                   f"(pass {PIXEL_SIZE})"))
        pixel_size = trained
    ratio = pixel_size / trained
    if ratio > FAR or ratio < 1 / FAR:
        say(f"{name}: pixel size {pixel_size:g} nm is far from the training pixel size {trained:g} nm "
            f"({ratio:.3g}×, more than {FAR:g}× {'coarser' if ratio > 1 else 'finer'}): the model never saw "
            "particles at this resolution")
    height, width = scale.image_size_px
    factor = ratio  # an image pixel spans `ratio` training pixels
    h, w = image.shape[:2]
    margin = 2 + (math.ceil(3 * (1 / factor - 1) / 2) if factor < 1 else 0)  # what the filter reads
    need_h, need_w = min(h, math.ceil(height / factor) + 2 * margin), min(w, math.ceil(width / factor) + 2 * margin)
    top, left = (h - need_h) // 2, (w - need_w) // 2  # only the part that lands in the field is resampled
    return fit_field(resample(image[top:top + need_h, left:left + need_w], factor), (height, width))


def image_preparer(run, warn: Callable[[str], None] | None = None) -> Callable[..., np.ndarray]:
    """The function ``prepare(image, pixel_size=None, name="image")`` → the run's prepared
    image (float16 ``(h, w, c)``): a geometric run refuses NaN / infinite pixels
    (InputError ``NAME: holds NaN or infinite values``), then :func:`to_training_scale`, then
    the run's :meth:`~stemsim.classifiers.preprocessing.Preprocessing.prepare`. ``run``: an open
    :class:`stemsim.classifiers.run.Run`; ``warn`` as for :func:`to_training_scale`."""
    scale, pre, geometric = TrainingScale.of_run(run.info), run.preprocessing(), run.geometric

    def prepare(image: np.ndarray, pixel_size: float | None = None, name: str = "image") -> np.ndarray:
        if geometric and image.dtype.kind == "f" and not np.isfinite(image).all():
            raise InputError(f"{name}: holds NaN or infinite values")
        return pre.prepare(to_training_scale(image, check_pixel_size(pixel_size), scale, name, warn))

    prepare.scale = scale  # type: ignore[attr-defined]
    return prepare
