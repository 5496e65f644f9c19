"""Contrast models: how the scene's matter becomes ADF signal (``Microscope(contrast=...)``).

One registry, :data:`CONTRAST_MODELS`, names every model; the microscope, the dataset spec
(``microscope.contrast``) and the docs read it.
"""

from __future__ import annotations

from stemsim.simulator.contrast.base import Contrast, ContrastModel, LinearContrast
from stemsim.simulator.contrast.calibrated import CalibratedContrast
from stemsim.simulator.contrast.crystalline import CrystallineContrast

CONTRAST_MODELS: dict[str, ContrastModel] = {
    model.name: model for model in (LinearContrast(), CalibratedContrast(), CrystallineContrast())}


def contrast_model(name: str) -> ContrastModel:
    """The registered model called ``name``.

    Raises
    ------
    ValueError
        Naming ``contrast`` and the registered names.
    """
    try:
        return CONTRAST_MODELS[name]
    except (KeyError, TypeError):
        raise ValueError(f"contrast: expected one of {', '.join(CONTRAST_MODELS)}, got {name!r}") from None


__all__ = ["CONTRAST_MODELS", "Contrast", "ContrastModel", "LinearContrast", "contrast_model"]
