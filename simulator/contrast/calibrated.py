"""The multislice-calibrated contrast model (``Microscope(contrast="calibrated")``, issue #26 §2).

Each particle's exact projected thickness t(x, y) (nm) becomes the HAADF fraction I(t) that a
slab of that thickness scatters in the multislice reference (:mod:`stemsim.simulator.contrast.laws`:
200 kV, 20 mrad probe, 70–200 mrad detector, frozen phonons), with the law of the particle's
element and orientation class (``off_axis``, or a cubic ``001``/``011`` zone axis along the
beam).  The probe then blurs the I map as in the linear model.

Approximations (each one stated where it is made):

- *Local slab*: a pixel sees I of the thickness under it, as if the particle were a laterally
  infinite slab there; cross-talk of the probe between columns of different thickness and the
  spreading of the beam inside the particle are ignored (the probe blur comes after I).
- *Overlap*: where particles overlap their I add (each scatters the full beam); the law of the
  summed thickness, or a law for a stack of two crystals, is not used.
- *Supersampling*: the law is applied to the pixel's mean thickness (the kernel's average over
  its rays), not averaged over the rays.
- *Support*: the carbon film's mean thickness t̄ gets the carbon law exactly (``carbon ·
  t̄ = I_C(t̄)``); its fluctuation δt around t̄ is linearised with the slope I_C(t̄)/t̄
  (the carbon law is within 2 % of linear: b = 0.986).
- ``Microscope.scattering`` is ignored (the laws are absolute fractions of the beam: scale 1);
  ``z_exponent`` only scales the laws of untabulated elements (:func:`~stemsim.simulator.contrast.laws.law_for`).
"""

from __future__ import annotations

import numpy as np

from stemsim.simulator.contrast.base import Contrast, ContrastModel, _padded
from stemsim.simulator.contrast.laws import ThicknessLaw, carbon_per_nm, law_for, orientation_classes


class CalibratedContrast(ContrastModel):
    """I(t) from the multislice thickness laws, per particle, element and orientation class.

    A particle turning during the scan takes each scan line's orientation class: rows of the
    padded thickness map belong to the scan line of their nearest field row (the margin rows
    take the first or last line, as ``Microscope._project`` does), and each row gets its line's
    law.  Overlapping particles add their I; see the module for the other approximations.
    """

    name = "calibrated"
    summary = ("multislice-calibrated I(t): per element and zone axis (Au, Pt 001/011/off-axis, "
               "amorphous C; others Au scaled by Z^n·density), absolute (ignores scattering)")

    def particles(self, microscope, scene, thickness, rotations, offsets, margins, rng) -> Contrast:
        blurred = np.zeros(thickness[0].shape if thickness else _padded(microscope, margins))
        (top, _), _ = margins
        for particle, t, lines in zip(scene.particles, thickness, rotations):
            classes = orientation_classes(lines, particle.crystal)
            laws = {name: self.law(particle, name, microscope.z_exponent) for name in set(classes)}
            if len(classes) == 1:
                _add_law(laws[classes[0]], t, blurred)
                continue
            row_class = np.array(classes)[np.clip(np.arange(t.shape[0]) - top, 0, len(classes) - 1)]
            for name, law in laws.items():
                rows = np.flatnonzero(row_class == name)
                part = np.zeros((len(rows), t.shape[1]))
                _add_law(law, t[rows], part)
                blurred[rows] += part
        support = scene.support.thickness if scene.support is not None else 0.0
        return Contrast(blurred, carbon_per_nm(support), 1.0)

    @staticmethod
    def law(particle, orientation_class: str, z_exponent: float) -> ThicknessLaw:
        """The law of ``particle`` seen along ``orientation_class``: Au, Pt and C take their
        measured law whatever their lattice constant; an untabulated element is scaled with the
        number density of the particle's own lattice (``Particle.crystal``)."""
        density = None if particle.lattice is None else particle.lattice.number_density
        return law_for(particle.z, orientation_class, float(z_exponent), density)


def _add_law(law: ThicknessLaw, t: np.ndarray, out: np.ndarray) -> None:
    """``out += law(t)``, evaluated only on the bounding box of t > 0 (I(0) = 0): a particle
    covers a small part of the padded frame, and the law costs more than the sum."""
    rows = np.flatnonzero(t.any(axis=1))
    if not len(rows):
        return
    cols = np.flatnonzero(t[rows[0]:rows[-1] + 1].any(axis=0))
    window = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    law.accumulate(t[window], out[window])
