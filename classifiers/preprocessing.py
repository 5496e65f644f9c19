"""Reading images and turning them into network inputs (numpy only; no Keras).

Two stages, so that the expensive part runs once per image and the random part per batch:

* :meth:`Preprocessing.prepare` (once, at load): intensities to [0, 1], colour → gray or RGB,
  cut the right ``crop_right`` fraction (AFM colour bar), then either resize the short side to
  ``resize_short`` (crop mode) or shrink to ``input_size``² if larger. Stored as float16
  ``(h, w, c)``, c = 1 (gray) or 3 (rgb).
* :meth:`Preprocessing.finish` (per batch): resize to ``input_size``² (or crop it: random for
  training with ``augment.crop``, centre otherwise), a random dihedral transform drawn from the
  group that the flip/rot90 switches generate, channel replication, normalisation. Returns
  float32 ``(B, input_size, input_size, channels)``.

Multi-view objects (several images of one object) go through the same two stages view by
view: :meth:`Preprocessing.prepare_views` → float16 ``(V, h, w, c)``, and
:meth:`Preprocessing.finish_views` → float32 ``(B, V, input_size, input_size, channels)``
(each view its own random transform in training).
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from PIL import Image

from stemsim.classifiers.limits import MAX_ARRAY_BYTES, check_image_size, pillow_bomb
from stemsim.errors import InputError

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32)


# ---- reading ------------------------------------------------------------------------


def read_image(path: str | Path) -> np.ndarray:
    """Read one image file as ``(H, W)`` gray or ``(H, W, 3)`` RGB.

    Keeps the stored type: uint8, uint16 (16-bit PNG/TIFF) or float32 (float TIFF).
    Raises :class:`InputError` ``"<path>: not a readable image (<reason>)"``, or
    ``"<path>: image too large to read: ..."`` for an image over the limits of
    :mod:`stemsim.classifiers.limits` (sized from the file's header, before decoding).
    """
    path = Path(path)
    try:
        if path.suffix.lower() in (".tif", ".tiff"):
            array = _read_tiff(path)
        else:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)  # refuse, never just warn
                with Image.open(path) as image:
                    check_image_size(path, *image.size)  # from the header, before decoding
                    image.load()
                    array = _pil_to_array(image)
    except InputError:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as error:
        raise pillow_bomb(path, error) from None
    except FileNotFoundError:
        raise InputError(f"{path}: not a readable image (no such file)") from None
    except Exception as error:  # PIL/tifffile raise many types for a broken file
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise InputError(f"{path}: not a readable image ({reason})") from None
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[..., 0]
    if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3) or min(array.shape[:2]) < 2:
        raise InputError(f"{path}: not a readable image (unsupported shape {array.shape})")
    return array


def _pil_to_array(image: Image.Image) -> np.ndarray:
    mode = image.mode
    if mode.startswith("I;16"):
        return np.asarray(image).astype(np.uint16)
    if mode == "I":
        array = np.asarray(image)
        if array.min() >= 0 and array.max() <= 65535:
            return array.astype(np.uint16)
        return array.astype(np.float32)
    if mode == "F":
        return np.asarray(image, dtype=np.float32)
    if mode in ("L", "1"):
        return np.asarray(image.convert("L"))
    return np.asarray(image.convert("RGB"))


def _read_tiff(path: Path) -> np.ndarray:
    try:
        import tifffile
    except ImportError:  # pragma: no cover - tifffile is a dependency
        with Image.open(path) as image:
            return _pil_to_array(image)
    with tifffile.TiffFile(path) as tif:  # sized from the header before anything is decoded
        series = tif.series[0]
        page = series.pages[0] if series.pages else tif.pages[0]
        check_image_size(path, page.imagewidth, page.imagelength)
        if series.size * series.dtype.itemsize > MAX_ARRAY_BYTES:
            raise InputError(f"{path}: image too large to read: its {'×'.join(map(str, series.shape))} "
                             f"{series.dtype} series is over {MAX_ARRAY_BYTES >> 30} GiB")
        array = np.asarray(tif.asarray())
    while array.ndim > 3 or (array.ndim == 3 and array.shape[0] == 1):
        array = array[0]
    if array.ndim == 3 and array.shape[2] == 4:
        array = array[..., :3]
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    if array.dtype in (np.uint8, np.uint16):
        return array
    return array.astype(np.float32)


def to_unit(image: np.ndarray, intensity: str = "auto") -> np.ndarray:
    """Intensities to float32 in [0, 1].

    ``dtype``: uint8/uint16 divided by 255/65535, other types unchanged;
    ``minmax``: (x − min)/(max − min) per image (a flat image gives zeros);
    ``auto``: dtype for uint8/uint16, minmax otherwise (float images carry no fixed range).
    """
    fixed_range = image.dtype in (np.uint8, np.uint16)
    if intensity == "auto":
        intensity = "dtype" if fixed_range else "minmax"
    x = image.astype(np.float32)
    if intensity == "dtype":
        return x / float(np.iinfo(image.dtype).max) if fixed_range else x
    low, high = float(np.nanmin(x)), float(np.nanmax(x))
    return (x - low) / (high - low) if high > low else np.zeros_like(x)


def resize(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Bilinear resize of float32 ``(h, w, c)`` (antialiased when shrinking, via PIL)."""
    if image.shape[:2] == (height, width):
        return image.astype(np.float32, copy=False)
    channels = [np.asarray(Image.fromarray(np.ascontiguousarray(image[..., k], np.float32), mode="F")
                           .resize((width, height), Image.BILINEAR)) for k in range(image.shape[2])]
    return np.stack(channels, axis=-1)


# ---- dihedral transforms (flips and 90° rotations) -----------------------------------


def dihedral(image: np.ndarray, index: int) -> np.ndarray:
    """Transform ``index`` in 0..7 of the square symmetry group: rot90 by ``index % 4``, then
    a left-right flip when ``index >= 4``. Acts on the first two axes."""
    out = np.rot90(image, index % 4, axes=(0, 1))
    return out[:, ::-1] if index >= 4 else out


def transform_group(hflip: bool, vflip: bool, rot90: bool) -> tuple[int, ...]:
    """Indices (see :func:`dihedral`) of the group generated by the enabled transforms.

    Drawing uniformly from this group is the same as flipping each way with probability ½
    and rotating by a uniform multiple of 90°. ``(0,)`` when nothing is enabled.
    """
    probe = np.arange(9).reshape(3, 3)
    key = {dihedral(probe, i).tobytes(): i for i in range(8)}
    generators = [g for g, on in ((4, hflip), (key[probe[::-1].tobytes()], vflip), (1, rot90)) if on]
    group = {0}
    frontier = [0]
    while frontier:
        current = frontier.pop()
        for g in generators:
            nxt = key[dihedral(dihedral(probe, current), g).tobytes()]
            if nxt not in group:
                group.add(nxt)
                frontier.append(nxt)
    return tuple(sorted(group))


# ---- the pipeline -------------------------------------------------------------------


@dataclass(frozen=True)
class Preprocessing:
    """Image → network input, as set by the ``preprocess`` and ``augment`` config sections."""

    input_size: int
    channels: int = 1  # network input channels (1 or 3)
    color: str = "gray"  # gray or rgb
    crop_right: float = 0.0
    resize_short: int | None = None
    intensity: str = "auto"
    normalize: str = "none"  # none | inception | imagenet | standardize
    transforms: tuple[int, ...] = (0,)  # dihedral group drawn from in training
    random_crop: bool = False

    @classmethod
    def from_config(cls, cfg: dict[str, Any], channels: int) -> "Preprocessing":
        """From a resolved experiment config; ``channels`` is the model's input channels."""
        pre, aug = cfg["preprocess"], cfg["augment"]
        return cls(input_size=pre["input_size"], channels=3 if pre["color"] == "rgb" else channels,
                   color=pre["color"], crop_right=pre["crop_right"], resize_short=pre["resize_short"],
                   intensity=pre["intensity"], normalize=pre["normalize"],
                   transforms=transform_group(aug["hflip"], aug["vflip"], aug["rot90"]),
                   random_crop=aug["crop"])

    def signature(self) -> str:
        """Text that changes whenever :meth:`prepare` would give different output."""
        return f"v1|{self.color}|{self.crop_right}|{self.resize_short}|{self.intensity}|{self.input_size}"

    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Deterministic part: raw image → float16 ``(h, w, 1|3)`` (see module doc)."""
        x = to_unit(image, self.intensity)
        if x.ndim == 2:
            x = x[..., None]
        if self.color == "gray" and x.shape[2] == 3:
            x = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
        elif self.color == "rgb" and x.shape[2] == 1:
            x = np.repeat(x, 3, axis=2)
        if self.crop_right > 0:
            keep = max(1, int(round(x.shape[1] * (1.0 - self.crop_right))))
            x = x[:, :keep]
        h, w = x.shape[:2]
        if self.resize_short is not None:
            scale = self.resize_short / min(h, w)
            x = resize(x, max(self.resize_short, int(round(h * scale))), max(self.resize_short, int(round(w * scale))))
        elif h > self.input_size and w > self.input_size:
            x = resize(x, self.input_size, self.input_size)
        return np.nan_to_num(x).astype(np.float16)

    def prepare_views(self, views: Sequence[np.ndarray]) -> np.ndarray:
        """Raw views of one object (one size) → float16 ``(V, h, w, 1|3)``, view by view as :meth:`prepare`."""
        return np.stack([self.prepare(view) for view in views])

    def finish_views(self, objects: Sequence[np.ndarray], rng: np.random.Generator | None = None) -> np.ndarray:
        """Prepared objects, each ``(V, h, w, c)`` with the same V → float32 ``(B, V, S, S, channels)``.

        Every view is finished as an image of its own (:meth:`finish`): in training each view
        gets its own random transform, and ``standardize`` normalises each view.
        """
        counts = sorted({len(obj) for obj in objects})
        if len(counts) > 1:
            raise ValueError(f"objects of one batch must have the same number of views, got {counts}")
        flat = self.finish([view for obj in objects for view in obj], rng)
        return flat.reshape(len(objects), counts[0] if counts else 0, *flat.shape[1:])

    def finish(self, images: Sequence[np.ndarray], rng: np.random.Generator | None = None,
               transforms: Sequence[int] | None = None) -> np.ndarray:
        """Prepared images → float32 network batch ``(B, S, S, channels)``.

        ``rng`` given (training): random crop if enabled and a random transform from the
        group. ``transforms`` given: apply exactly those dihedral indices (one per image).
        Neither: centre crop, no transform (evaluation/prediction).
        """
        s = self.input_size
        out = np.empty((len(images), s, s, self.channels), np.float32)
        for i, image in enumerate(images):
            x = np.asarray(image, np.float32)
            if self.resize_short is not None:
                h, w = x.shape[:2]
                if rng is not None and self.random_crop:
                    top, left = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
                else:
                    top, left = (h - s) // 2, (w - s) // 2
                x = x[top:top + s, left:left + s]
            else:
                x = resize(x, s, s)
            if transforms is not None:
                x = dihedral(x, int(transforms[i]))
            elif rng is not None and len(self.transforms) > 1:
                x = dihedral(x, int(rng.choice(self.transforms)))
            if x.shape[2] != self.channels:
                x = np.repeat(x, self.channels, axis=2) if x.shape[2] == 1 else x.mean(axis=2, keepdims=True)
            out[i] = x
        return normalize(out, self.normalize)


def normalize(batch: np.ndarray, how: str) -> np.ndarray:
    """[0, 1] float32 batch ``(B, H, W, C)`` → network scale (in place where possible)."""
    if how == "none":
        return batch
    if how == "inception":
        return batch * 2.0 - 1.0
    if how == "imagenet":
        c = batch.shape[-1]
        mean = IMAGENET_MEAN if c == 3 else np.full(c, IMAGENET_MEAN.mean(), np.float32)
        std = IMAGENET_STD if c == 3 else np.full(c, IMAGENET_STD.mean(), np.float32)
        return (batch - mean) / std
    if how == "standardize":
        mean = batch.mean(axis=(1, 2, 3), keepdims=True)
        std = batch.std(axis=(1, 2, 3), keepdims=True)
        return (batch - mean) / (std + 1e-6)
    raise ValueError(f"unknown normalisation {how!r}")


def content_key(array: np.ndarray) -> str:
    """SHA-1 of an array's shape, type and bytes (identical pixels → identical key)."""
    digest = hashlib.sha1(f"{array.shape}|{array.dtype}|".encode())
    digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
