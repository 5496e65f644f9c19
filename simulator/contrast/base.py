"""What a contrast model hands the microscope, and the linear (mass-thickness) model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from stemsim.simulator.materials import CARBON_Z


@dataclass
class Contrast:
    """The unblurred signal of a scene's particles, as ``Microscope.acquire`` blurs and scales it.

    The detected fraction of the beam is ``scale · (probe ⊛ (blurred + carbon · t_carbon)) +
    direct``.

    Attributes
    ----------
    blurred : numpy.ndarray
        (H + top + bottom, W + left + right) float64 on the padded scan grid
        (``Microscope.blur_margins``): the map the whole probe blurs, in units of ``1/scale``.
    carbon : float
        The support's signal per nm of carbon, in the units of ``blurred``.
    scale : float
        Multiplies the blurred signal into a fraction of the beam.
    direct : numpy.ndarray or None
        (H, W) float64: signal already formed at the beam positions (fraction of the beam),
        added after the blur; None if the model has none.
    columns : numpy.ndarray or None
        (n, 4) float32 ground truth of a crystalline model: (column, row, atoms, particle)
        of each atomic column in pixel coordinates (pixel centres at integers); None otherwise.
    """

    blurred: np.ndarray
    carbon: float
    scale: float
    direct: np.ndarray | None = None
    columns: np.ndarray | None = None


class ContrastModel:
    """How a scene's matter becomes ADF signal. Subclasses set ``name`` and ``particles``."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""

    def particles(self, microscope, scene, thickness: list[np.ndarray],
                  rotations: list[np.ndarray], offsets, margins, rng: np.random.Generator) -> Contrast:
        """The scene's contrast.

        Parameters
        ----------
        microscope : stemsim.simulator.Microscope
            The instrument (it imports this module, not the other way round) (pixel size, z exponent, probe, scattering).
        scene : stemsim.simulator.Scene
            The particles.
        thickness : list of numpy.ndarray
            Each particle's exact projected thickness on the padded grid, nm.
        rotations : list of numpy.ndarray
            Each particle's scan-line rotations, (L, 3, 3).
        offsets : tuple of numpy.ndarray or None
            (dx, dy) beam offsets, pixels, (H, W) each.
        margins : tuple
            ((top, bottom), (left, right)) pixels of the padded grid around the field.
        rng : numpy.random.Generator
            For models that draw (an amorphous lattice); drawn before the support and noise.

        Returns
        -------
        Contrast
        """
        raise NotImplementedError


class LinearContrast(ContrastModel):
    """Mass thickness, thin-specimen limit: ``scattering · Z^n · t`` (t in nm), carbon ``6^n``.

    Exactly linear in the projected thickness: the ground truth ``thickness`` is what the
    image measures, up to blur and noise.
    """

    name = "linear"
    summary = "scattering · Z^n · t: linear in the exact projected thickness (the default)"

    def particles(self, microscope, scene, thickness, rotations, offsets, margins, rng) -> Contrast:
        blurred = np.zeros(thickness[0].shape if thickness else _padded(microscope, margins))
        for particle, t in zip(scene.particles, thickness):
            blurred += float(particle.z) ** microscope.z_exponent * t
        return Contrast(blurred, float(CARBON_Z) ** microscope.z_exponent, microscope.scattering)


def _padded(microscope, margins) -> tuple[int, int]:
    (top, bottom), (left, right) = margins
    return microscope.size[0] + top + bottom, microscope.size[1] + left + right
