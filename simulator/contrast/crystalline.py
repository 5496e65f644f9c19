"""The crystalline contrast model: atomic columns (``Microscope(contrast="crystalline")``, issue #26 §3).

Each particle is filled with its atoms (:mod:`stemsim.simulator.atoms`: its lattice cut by its
solid) and the image is formed in the incoherent (convolution) approximation: every atom, or
every atomic column on a zone axis, scatters a cross-section w (fraction of the beam · nm²) with
the probe's intensity profile around it, and the signal at a beam position b is
``Σ w · PSF(b − r)``.

Cross-sections, from the multislice thickness laws (:mod:`stemsim.simulator.contrast.laws`):

- *Off axis* (and every non-cubic or amorphous lattice) each atom is alone, with
  ``w_off = I_off/t (thin limit) / n``: the off-axis law's per-nm value at t → 0 (held at its
  lowest measured thickness, 0.4 nm) over the element's number density n (the table's for Au
  and Pt; untabulated elements scale with the law, by ``(Z/79)^n`` and their density).
  A slab then gives ``n · t · w_off``, the off-axis law up to its non-linearity (Au: t^1.005,
  +1.2 % at 10 nm).
- *On a zone axis* (``orientation_class`` ``001``/``011``, within 10 mrad) the atoms group into
  columns along the nearest zone direction (exact, on the lattice's integer site labels); a
  column of N atoms with spacing d along it has the length t = N·d, and each of its atoms weighs
  ``w_off · I_zone/t (t) / I_off/t (t)``. As d = 1/(n · area per column), a region of columns
  reproduces the zone-axis law's I(t) (channelling's rise and fall with the column length).
  A column is splatted once, at its atoms' mean projected position, its Gaussian widened by their
  lateral spread (a column a little off the axis): σ² += (var x + var y)/2.

The probe's Gaussian part (σ² = σ_probe² + σ_thermal², σ_thermal the Debye-Waller rms
displacement along one axis at 293 K, :func:`stemsim.simulator.atoms.thermal_sigma`: Au 0.0089 nm)
is evaluated at every beam position, scan offsets included, into ``Contrast.direct``; its
Cauchy tail (weight w_t) is a convolution on the padded grid: the weights deposited
bilinearly (per pixel area), blurred with the tail alone, read at the beam positions. Only the
carbon support goes through the microscope's blur (``blurred`` is zero): the support gets
the carbon law, linearised round its mean thickness, as in the ``calibrated`` model; scale 1
(``Microscope.scattering`` is ignored; ``supersampling`` too: the beam is a point per pixel).

``Contrast.columns`` lists every scatterer: (column, row, atoms, particle) in pixel coordinates
(pixel centres at integers): a zone axis gives one row per atomic column, off axis one row per
atom (atoms = 1). A particle turning during the scan is refused: its atoms would need a
position per scan line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.fft

from stemsim.simulator.atoms import crystal_atoms, object_atoms, thermal_sigma, zone_columns, zone_direction
from stemsim.simulator.atoms_kernels import deposit_bilinear, sample_bilinear, splat_gaussians
from stemsim.simulator.contrast.base import Contrast, ContrastModel, _padded
from stemsim.simulator.contrast.laws import carbon_law, law_for, load_law_table, orientation_class
from stemsim.simulator.materials import symbol
from stemsim.simulator.probe import FWHM_PER_SIGMA, Probe

REACH_SIGMA = 5.0
"""Each Gaussian is evaluated within this many σ of its column (beyond: < 4·10⁻⁶ of its peak)."""


@dataclass
class Scatterers:
    """A particle's scattering centres (atoms, or columns on a zone axis), microscope frame.

    Attributes
    ----------
    x, y : numpy.ndarray
        (M,) float64 projected positions, nm (origin at the field centre).
    weight : numpy.ndarray
        (M,) float64 cross-sections, fraction of the beam · nm².
    sigma2 : numpy.ndarray
        (M,) float64 Gaussian variance of each, nm² (probe, thermal, column spread).
    atoms : numpy.ndarray
        (M,) int64 atoms in each.
    orientation : str
        The particle's class: ``off_axis``, ``001`` or ``011``.
    """

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    sigma2: np.ndarray
    atoms: np.ndarray
    orientation: str


def atom_cross_section(particle, z_exponent: float) -> float:
    """``w_off``, fraction of the beam · nm² per atom: the off-axis law's thin-limit per-nm
    value over the number density the law refers to (the table's for a tabulated element,
    the particle's lattice's otherwise: the scaled law is proportional to it)."""
    lattice = particle.lattice
    density = None if lattice is None else lattice.number_density
    law = law_for(particle.z, "off_axis", float(z_exponent), density)
    laws = load_law_table()["laws"]
    name = symbol(particle.z)
    if name in laws:
        reference = float(laws[name]["number_density_per_nm3"])
    else:
        reference = density if density is not None else particle.crystal.number_density
    return float(law.per_nm(0.0)) / reference


def particle_scatterers(particle, rotation: np.ndarray, microscope, rng: np.random.Generator) -> Scatterers:
    """A static particle's scatterers and their cross-sections (module docstring).

    Parameters
    ----------
    particle : Particle
        The particle (``particle.crystal`` is its lattice).
    rotation : numpy.ndarray
        (3, 3) object → microscope rotation.
    microscope : Microscope
        Its probe (FWHM) and ``z_exponent``.
    rng : numpy.random.Generator
        Draws an amorphous particle's atoms.

    Returns
    -------
    Scatterers
    """
    lattice = particle.crystal
    rotation = np.asarray(rotation, dtype=np.float64)
    sigma2 = (microscope.probe.fwhm / FWHM_PER_SIGMA) ** 2 + thermal_sigma(particle.z) ** 2
    w_off = atom_cross_section(particle, microscope.z_exponent)
    zone = orientation_class(rotation, lattice)
    if zone == "off_axis" or lattice.structure == "amorphous":
        atoms = object_atoms(particle.shape, lattice, rng)
        n = len(atoms)
        # x and y of R @ p + shift only (z plays no part): two contiguous mat-vecs
        x, y = atoms @ rotation[0] + particle.position[0], atoms @ rotation[1] + particle.position[1]
        return Scatterers(x, y, np.full(n, w_off), np.full(n, sigma2), np.ones(n, np.int64), "off_axis")
    labels, counts, spacing = zone_columns(particle.shape, lattice, zone_direction(rotation, zone))
    atoms = crystal_atoms(particle.shape, lattice)[0]
    m = len(counts)
    ax, ay = atoms @ rotation[0] + particle.position[0], atoms @ rotation[1] + particle.position[1]
    x = np.bincount(labels, ax, m) / counts
    y = np.bincount(labels, ay, m) / counts
    spread = np.bincount(labels, ax * ax, m) / counts - x * x + np.bincount(labels, ay * ay, m) / counts - y * y
    density = None if particle.lattice is None else particle.lattice.number_density
    length = counts * spacing
    ratio = (law_for(particle.z, zone, float(microscope.z_exponent), density).per_nm(length)
             / law_for(particle.z, "off_axis", float(microscope.z_exponent), density).per_nm(length))
    return Scatterers(x, y, counts * w_off * ratio, sigma2 + 0.5 * np.maximum(spread, 0.0), counts, zone)


class CrystallineContrast(ContrastModel):
    """Atomic columns in the incoherent approximation, calibrated on the multislice laws
    (module docstring: cross-sections, channelling by column length, probe and thermal blur)."""

    name = "crystalline"
    summary = ("atoms of each particle's lattice, incoherent imaging: per-atom cross-sections from the "
               "off-axis law, zone-axis columns channelled by length (needs static particles; absolute)")

    def particles(self, microscope, scene, thickness, rotations, offsets, margins, rng) -> Contrast:
        for particle, lines in zip(scene.particles, rotations):
            if len(lines) > 1:
                raise ValueError("contrast: the crystalline model needs a static particle "
                                 "(rotation_during_scan is set)")
        padded = thickness[0].shape if thickness else _padded(microscope, margins)
        height, width = microscope.size
        pixel = microscope.pixel_size
        (top, _), (left, _) = margins
        dx, dy = offsets if offsets is not None else (np.zeros((height, width)), np.zeros((height, width)))
        dx = np.ascontiguousarray(dx, dtype=np.float64)
        dy = np.ascontiguousarray(dy, dtype=np.float64)
        tail = microscope.probe.tail_weight
        direct = np.zeros((height, width))
        deposit = np.zeros(padded) if tail else None
        rows = []
        for index, (particle, lines) in enumerate(zip(scene.particles, rotations)):
            s = particle_scatterers(particle, lines[0], microscope, rng)
            if tail < 1.0:
                splat_gaussians(s.x, s.y, s.weight * (1.0 - tail), s.sigma2, (0.5 - width / 2) * pixel,
                                (0.5 - height / 2) * pixel, pixel, dx, dy, REACH_SIGMA, direct)
            column = s.x / pixel + width / 2 - 0.5
            row = s.y / pixel + height / 2 - 0.5
            if tail:
                deposit_bilinear(column + left, row + top, s.weight / pixel**2, deposit)
            truth = np.empty((len(s.x), 4), np.float32)
            truth[:, 0], truth[:, 1], truth[:, 2], truth[:, 3] = column, row, s.atoms, index
            rows.append(truth)
        if tail and rows:
            direct += tail * _tail_image(deposit, microscope.probe.tail_width, pixel, top, left, dx, dy)
        columns = (rows[0] if len(rows) == 1 else np.vstack(rows)) if rows else np.zeros((0, 4), np.float32)
        support = scene.support.thickness if scene.support is not None else 0.0
        return Contrast(np.zeros(padded), float(carbon_law().per_nm(support)), 1.0, direct, columns)


def _tail_image(deposit: np.ndarray, tail_width: float, pixel: float, top: int, left: int, dx, dy) -> np.ndarray:
    """The deposited weights (fraction per pixel) blurred by the Cauchy tail alone (sampled,
    normalised: ``Probe(fwhm=0, tail_weight=1)``), read at the beam positions of the field."""
    transfer = Probe(0.0, 1.0, tail_width).transfer(deposit.shape, pixel)
    blurred = scipy.fft.irfft2(scipy.fft.rfft2(deposit) * transfer, s=deposit.shape)
    height, width = dx.shape
    grid_rows = np.arange(height)[:, None] + top + dy
    grid_columns = np.arange(width)[None, :] + left + dx
    out = np.empty((height, width))
    sample_bilinear(blurred, np.ascontiguousarray(grid_rows), np.ascontiguousarray(grid_columns), out)
    return out
