"""How ``stemsim preview`` scales an image for the eye; stored datasets are not affected.

ADF intensity grows steeply with thickness and atomic number, so the thin carbon support is
a few percent of a gold particle's signal: min–max scaling (how uint8/uint16 datasets are
stored) shows it black, 0–3 of 255. ``log`` shows it; ``percentile`` clips the 0.5 % darkest
and brightest pixels (noise outliers) and is otherwise min–max.
"""

from __future__ import annotations

import numpy as np

DISPLAYS = ("log", "percentile", "minmax")


def display_scaled(image: np.ndarray, mode: str = "log") -> np.ndarray:
    """``image`` as float64 in [0, 1] for display: ``minmax`` (as stored), ``percentile``
    (clipped to the 0.5–99.5 percentiles, then min–max) or ``log`` (``log(1 + x / m)`` of the
    image above its minimum, ``m`` its median, then min–max: the median pixel, usually the
    support, lands near a third of the way up instead of at 0)."""
    image = np.asarray(image, dtype=np.float64)
    if mode == "minmax":
        low, high = image.min(), image.max()
    elif mode == "percentile":
        low, high = np.percentile(image, [0.5, 99.5])
    elif mode == "log":
        above = image - image.min()
        median = float(np.median(above))
        image = np.log1p(above / median) if median > 0 else above
        low, high = image.min(), image.max()
    else:
        raise ValueError(f"display: expected one of {', '.join(DISPLAYS)}, got {mode!r}")
    if not high > low:
        return np.zeros_like(image)
    return np.clip((image - low) / (high - low), 0.0, 1.0)
