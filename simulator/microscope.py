"""The microscope: scan geometry, ADF contrast, probe blur, shot noise, scan distortion.

The ADF signal is the fraction of incident electrons scattered onto the detector,
in the thin-specimen (single-scattering) limit::

    f(x, y) = scattering · Σ_materials Z^n · t_material(x, y)      (t in nm)

blurred by the probe (:mod:`stemsim.simulator.probe`: its sampled point-spread function, on
the field and a simulated margin around it).  With a ``dose`` (electrons/Å²) each pixel counts
``Poisson(dose · pixel_area · f)`` electrons and the image is counts / (dose · pixel_area),
so it keeps the units of ``f`` and its noise falls as 1/sqrt(dose).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
import scipy.fft

from stemsim.simulator.kernels import SMALL_MEAN, UNIFORMS_PER_LARGE, project_thickness, sample_poisson, shift_periodic
from stemsim.simulator.contrast import contrast_model
from stemsim.simulator.probe import Probe, _check
from stemsim.simulator.scene import CarbonFilm, Scene

IMAGE_MODEL_VERSION = 2
"""Version of the image formation: what ``Microscope.acquire`` makes of a scene and a generator
state. Every dataset records it and its spec hash includes it, so a dataset made by an older
image model is regenerated, never reused. Bump it with every change to the images made.

1. Up to issue #26 part 1: the probe blur multiplied the DFT by the continuous transfer cut at
   Nyquist (negative lobes below a FWHM of ~2 px: a dark one-pixel halo beside every particle
   edge) and wrapped periodically round the field (a particle at one edge lit the other).
2. The blur is the sampled, normalised point-spread function (non-negative), applied to the
   field and a simulated margin (``Probe.margins``): no ringing, no wrap-around.
"""

NO_MARGINS = ((0, 0), (0, 0))


@lru_cache(maxsize=64)
def _frequency_squared(shape: tuple[int, int], pixel_size: float) -> np.ndarray:
    """|k|² (1/nm²) on the rfft2 grid of ``shape``."""
    ky = np.fft.fftfreq(shape[0], d=pixel_size)[:, None]
    kx = np.fft.rfftfreq(shape[1], d=pixel_size)[None, :]
    k2 = kx * kx + ky * ky
    k2.flags.writeable = False
    return k2


@lru_cache(maxsize=64)
def _scan_grid(shape: tuple[int, int], pixel_size: float, margins=NO_MARGINS) -> tuple[np.ndarray, np.ndarray]:
    """Pixel centres (nm, origin at the field's centre) of the field and ``margins`` around it."""
    height, width = shape
    (top, bottom), (left, right) = margins
    x = (np.arange(-left, width + right) + 0.5 - width / 2) * pixel_size
    y = (np.arange(-top, height + bottom) + 0.5 - height / 2) * pixel_size
    xs, ys = np.meshgrid(x, y)
    xs.flags.writeable = False
    ys.flags.writeable = False
    return xs, ys


@lru_cache(maxsize=64)
def _film_filter(correlation_length: float, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
    """Gaussian correlation filter on the rfft2 grid, scaled to give unit variance."""
    filt = np.exp(-np.pi**2 * correlation_length**2 * _frequency_squared(shape, pixel_size))
    # Full-spectrum power: the rfft half-plane's mirrored columns count twice.
    weights = np.full(filt.shape[1], 2.0)
    weights[0] = 1.0
    if shape[1] % 2 == 0:
        weights[-1] = 1.0
    filt /= np.sqrt(float((filt**2 * weights).sum()) / (shape[0] * shape[1]))
    filt.flags.writeable = False
    return filt


def poisson_counts(means: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exact Poisson counts for non-negative ``means``.

    Draws all the uniforms the dim pixels need, and a pool for the bright ones, in one
    call (reproducible for a given generator state; see ``stemsim.simulator.kernels.sample_poisson``).

    Parameters
    ----------
    means : numpy.ndarray
        Expected counts (electrons), any shape, every value finite and >= 0.
    rng : numpy.random.Generator
        The source of every uniform drawn.

    Returns
    -------
    numpy.ndarray
        int32 counts (electrons), the shape of ``means``.
    """
    flat = np.ascontiguousarray(means, dtype=np.float64).ravel()
    n_small = int(np.count_nonzero(flat < SMALL_MEAN))
    n_pool = int(UNIFORMS_PER_LARGE * (flat.size - n_small)) + 8
    counts = np.empty(flat.size, dtype=np.int32)
    sample_poisson(rng, flat, rng.random(n_small + n_pool), counts)
    return counts.reshape(np.shape(means))


@dataclass(frozen=True)
class ScanDistortion:
    """Scan imperfections, in pixels.

    Parameters
    ----------
    jitter : float
        Standard deviation of a random x offset per scan line, pixels.
    line_amplitude : float
        Amplitude of a sinusoidal x offset (mains pick-up), pixels, with a random phase.
    line_frequency : float
        Its frequency, cycles per frame.
    drift : tuple of float
        (dx, dy) of linear specimen drift over the whole frame, pixels.
    """

    jitter: float = 0.0
    line_amplitude: float = 0.0
    line_frequency: float = 0.0
    drift: tuple[float, float] = (0.0, 0.0)

    def __post_init__(self):
        _check("scan_noise", self.jitter)
        _check("line_amplitude", self.line_amplitude)
        _check("line_frequency", self.line_frequency)
        drift = np.asarray(self.drift, dtype=float)
        if drift.shape != (2,) or not np.all(np.isfinite(drift)):
            raise ValueError(f"drift: expected finite (dx, dy) pixels per frame, got {self.drift!r}")
        object.__setattr__(self, "drift", (float(drift[0]), float(drift[1])))

    @property
    def active(self) -> bool:
        """Whether any distortion is set (else the beam is where the ideal grid says)."""
        return bool(self.jitter or self.line_amplitude or any(self.drift))

    def offsets(self, shape: tuple[int, int], rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Beam offsets from the ideal scan grid.

        Parameters
        ----------
        shape : tuple of int
            (H, W), pixels.
        rng : numpy.random.Generator
            Draws the jitter, then the line phase.

        Returns
        -------
        dx, dy : numpy.ndarray
            (H, W) float64 each, pixels.
        """
        height, width = shape
        dx = np.zeros(shape)
        dy = np.zeros(shape)
        if self.jitter:
            dx += self.jitter * rng.standard_normal(height)[:, None]
        if self.line_amplitude:
            phase = rng.uniform(0, 2 * np.pi)
            rows = np.arange(height) / height
            dx += self.line_amplitude * np.sin(2 * np.pi * self.line_frequency * rows + phase)[:, None]
        if any(self.drift):
            time = (np.arange(height)[:, None] * width + np.arange(width)[None, :]) / (height * width)
            dx += self.drift[0] * time
            dy += self.drift[1] * time
        return dx, dy


@dataclass
class Measurement:
    """One acquired image and the ground truth behind every pixel.

    Attributes
    ----------
    image : numpy.ndarray
        (H, W) float32: detected fraction of the incident beam (dimensionless; noisy if a
        dose was set).
    counts : numpy.ndarray or None
        (H, W) int32 detected electrons, or None without a dose.
    signal : numpy.ndarray
        (H, W) float32: the noise-free, blurred expectation of ``image``.
    thickness : numpy.ndarray
        (H, W) float32: projected particle thickness, nm, at the scanned positions (no blur,
        no support).
    mask : numpy.ndarray
        (H, W) bool: pixels whose ray meets a particle.
    sites : numpy.ndarray
        (n, 3) float32: (column, row, deformed) of every particle's sites (vertices), in
        pixel coordinates (pixel centres at integers); positions ignore scan distortion.
    site_particle : numpy.ndarray
        (n,) int: the particle each site belongs to.
    columns : numpy.ndarray or None
        (m, 4) float32 (column, row, atoms, particle) of every atomic column, pixel
        coordinates, with a crystalline contrast model; None otherwise.
    """

    image: np.ndarray
    counts: np.ndarray | None
    signal: np.ndarray
    thickness: np.ndarray
    mask: np.ndarray
    sites: np.ndarray
    site_particle: np.ndarray
    columns: np.ndarray | None = None

    def normalized(self, dtype=np.uint8) -> np.ndarray:
        """The image scaled min→max onto the full range of an unsigned integer ``dtype``.

        Parameters
        ----------
        dtype : numpy dtype
            An unsigned integer type, e.g. ``numpy.uint8`` (PNG) or ``numpy.uint16``.

        Returns
        -------
        numpy.ndarray
            (H, W) of ``dtype``; all zeros for a constant image.
        """
        top = np.iinfo(dtype).max
        low, high = float(self.image.min()), float(self.image.max())
        scale = top / (high - low) if high > low else 0.0
        return np.rint((self.image - low) * scale).clip(0, top).astype(dtype)


@dataclass(frozen=True)
class Microscope:
    """An ADF-STEM instrument.

    Parameters
    ----------
    pixel_size : float
        nm per pixel (> 0).
    size : int or tuple of int
        Pixels: an int (square) or (height, width), each >= 8.
    z_exponent : float
        n in Z^n, in (0, 2] (1.5–1.8 for ADF; Rutherford's 2 is the upper bound).
    probe : Probe
        The probe profile (widths in nm).
    dose : float or None
        Electrons per Å² (> 0), or None for a noise-free image.
    scan : ScanDistortion
        Scan imperfections (pixels).
    supersampling : int
        Rays per pixel along each axis (s × s per pixel: anti-aliased edges), >= 1.
    scattering : float
        Detected fraction of the beam per nm of thickness per unit Z^n (1/nm); the default
        makes 10 nm of gold scatter ~17 % of the beam onto the detector (``linear`` contrast).
    contrast : str
        The contrast model, a name in ``stemsim.simulator.contrast.CONTRAST_MODELS``
        (``linear``: ``scattering · Z^n · t``).
    """

    pixel_size: float = 0.15
    size: int | tuple[int, int] = 128
    z_exponent: float = 1.7
    probe: Probe = field(default_factory=Probe)
    dose: float | None = None
    scan: ScanDistortion = field(default_factory=ScanDistortion)
    supersampling: int = 1
    scattering: float = 1.0e-5
    contrast: str = "linear"

    def __post_init__(self):
        _check("pixel_size", self.pixel_size, allow_low=False)
        size = (self.size, self.size) if np.ndim(self.size) == 0 else tuple(self.size)
        if len(size) != 2 or not all(isinstance(s, (int, np.integer)) and s >= 8 for s in size):
            raise ValueError(f"size: expected pixels >= 8 (an int or (height, width)), got {self.size!r}")
        object.__setattr__(self, "size", (int(size[0]), int(size[1])))
        _check("z_exponent", self.z_exponent, allow_low=False, high=2.0)
        if self.dose is not None:
            _check("dose", self.dose, allow_low=False)
        if not isinstance(self.supersampling, (int, np.integer)) or self.supersampling < 1:
            raise ValueError(f"supersampling: expected an integer >= 1, got {self.supersampling!r}")
        _check("scattering", self.scattering, allow_low=False)
        contrast_model(self.contrast)  # one line naming `contrast` for an unknown model

    @property
    def field_of_view(self) -> tuple[float, float]:
        """(height, width) of the scanned field, nm."""
        return self.size[0] * self.pixel_size, self.size[1] * self.pixel_size

    @property
    def electrons_per_pixel(self) -> float:
        """Incident electrons per pixel at the set dose (pixel area in Å²)."""
        return float(self.dose) * (10.0 * self.pixel_size) ** 2

    def beam_positions(self, offsets=None) -> tuple[np.ndarray, np.ndarray]:
        """Beam position of each pixel centre, origin at the centre of the field.

        Parameters
        ----------
        offsets : tuple of numpy.ndarray, optional
            (dx, dy) beam offsets, pixels, (H, W) each (``ScanDistortion.offsets``).

        Returns
        -------
        xs, ys : numpy.ndarray
            (H, W) float64 each, nm.
        """
        xs, ys = _scan_grid(self.size, self.pixel_size)
        if offsets is not None:
            xs = xs + offsets[0] * self.pixel_size
            ys = ys + offsets[1] * self.pixel_size
        return xs, ys

    @property
    def blur_margins(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Pixels simulated around the field for the probe blur, ``((top, bottom), (left,
        right))`` (``Probe.margins``): the exact thickness is projected there too, so the blur
        near the frame sees what lies beyond it, and nothing wraps round from the other side."""
        return self.probe.margins(self.size, self.pixel_size)

    def thickness_by_particle(self, scene: Scene, offsets=None, rotations=None, margins=NO_MARGINS) -> list[np.ndarray]:
        """Exact projected thickness of each particle.

        Parameters
        ----------
        scene : Scene
            The particles (its support is ignored here).
        offsets : tuple of numpy.ndarray, optional
            (dx, dy) beam offsets, pixels, (H, W) each (see ``ScanDistortion``).
        rotations : list of numpy.ndarray, optional
            Each particle's scan-line rotation matrices, (L, 3, 3), if already at hand.
        margins : tuple, optional
            ((top, bottom), (left, right)) pixels beyond the field to project too
            (``blur_margins``); a margin pixel takes the scan offsets and the scan line (the
            orientation of a turning particle) of its nearest field pixel.

        Returns
        -------
        list of numpy.ndarray
            One (H + top + bottom, W + left + right) float64 map per particle, nm.
        """
        rotations = self._rotations(scene) if rotations is None else rotations
        arrays = [particle.kernel_arrays(lines) for particle, lines in zip(scene.particles, rotations)]
        return self._project(arrays, offsets, margins)

    def _project(self, arrays: list[tuple], offsets, margins) -> list[np.ndarray]:
        (top, _), _ = margins
        xs, ys = _scan_grid(self.size, self.pixel_size, margins)
        if offsets is not None:
            xs = xs + np.pad(offsets[0], margins, mode="edge") * self.pixel_size
            ys = ys + np.pad(offsets[1], margins, mode="edge") * self.pixel_size
        lines = np.clip(np.arange(xs.shape[0]) - top, 0, self.size[0] - 1)
        maps = []
        for planes, quadrics, pieces, bounds in arrays:
            if len(bounds) > 1 and len(bounds) != xs.shape[0]:  # one entry per scan line: the margin's too
                planes, quadrics, bounds = planes[lines], quadrics[lines], bounds[lines]
            out = np.zeros(xs.shape)
            project_thickness(xs, ys, planes, quadrics, pieces, bounds, self.supersampling, self.pixel_size, out)
            maps.append(out)
        return maps

    def _margins_for(self, arrays: list[tuple], offsets) -> tuple[tuple[int, int], tuple[int, int]]:
        """``blur_margins``, or none when they would change nothing: a Gaussian probe, and every
        particle (its bounds, the beam's reach within a pixel and the scan offsets included)
        farther than the blur's reach from the frame. The periodic blur on the field is then
        the same (to rounding): the film is periodic, and no particle light wraps round."""
        margins = self.blur_margins
        if margins == NO_MARGINS or self.probe.tail_weight:
            return margins
        reach = margins[0][0]  # the Gaussian's, the same on both axes
        slack = 0.5 + (max(np.abs(offsets[0]).max(), np.abs(offsets[1]).max()) if offsets is not None else 0.0)
        half_width = (self.size[1] / 2 - reach - slack) * self.pixel_size
        half_height = (self.size[0] / 2 - reach - slack) * self.pixel_size
        for *_, bounds in arrays:
            if (bounds[:, 0].min() <= -half_width or bounds[:, 1].max() >= half_width
                    or bounds[:, 2].min() <= -half_height or bounds[:, 3].max() >= half_height):
                return margins
        return NO_MARGINS

    def _rotations(self, scene: Scene) -> list[np.ndarray]:
        return [particle.line_rotations(self.size[0]) for particle in scene.particles]

    def thickness(self, scene: Scene) -> np.ndarray:
        """Exact projected thickness of all particles on the ideal scan grid (no noise).

        Parameters
        ----------
        scene : Scene
            The particles; overlapping ones add.

        Returns
        -------
        numpy.ndarray
            (H, W) float64, nm.
        """
        maps = self.thickness_by_particle(scene)
        return np.sum(maps, axis=0) if maps else np.zeros(self.size)

    def _support_field(self, support: CarbonFilm, rng: np.random.Generator) -> np.ndarray:
        """Carbon thickness fluctuation (zero mean, std ``roughness``) on the rfft2 grid."""
        white = rng.standard_normal(self.size, dtype=np.float32)  # float32: twice as fast, ample for a film
        spectrum = scipy.fft.rfft2(white)
        spectrum *= _film_filter(support.correlation_length, self.size, self.pixel_size)
        spectrum *= support.roughness
        return spectrum

    def acquire(self, scene: Scene, rng: np.random.Generator) -> Measurement:
        """Scan ``scene`` once: exact thickness → Z^n contrast → support → probe blur → shot noise.

        ``rng`` drives every random step (support, scan distortion, noise) in a fixed order,
        so the same scene, microscope and generator state give a bit-identical measurement.

        Parameters
        ----------
        scene : Scene
            The particles and the optional carbon support.
        rng : numpy.random.Generator
            The source of every random number.

        Returns
        -------
        Measurement
            The (H, W) image (dimensionless) and its ground truth.
        """
        offsets = self.scan.offsets(self.size, rng) if self.scan.active else None
        rotations = self._rotations(scene)
        arrays = [particle.kernel_arrays(r) for particle, r in zip(scene.particles, rotations)]
        margins = self._margins_for(arrays, offsets)
        (top, bottom), (left, right) = margins
        field_window = (slice(top, top + self.size[0]), slice(left, left + self.size[1]))
        padded = self._project(arrays, offsets, margins)
        parts = contrast_model(self.contrast).particles(self, scene, padded, rotations, offsets, margins, rng)
        contrast, carbon = parts.blurred, parts.carbon
        maps = [t[field_window] for t in padded]
        thickness = np.sum(maps, axis=0) if maps else np.zeros(self.size)
        mean_support = 0.0
        film_spectrum = None
        if scene.support is not None:
            mean_support = scene.support.thickness
            fluctuation = self._support_field(scene.support, rng)
            if offsets is None and margins == NO_MARGINS:
                film_spectrum = fluctuation
            else:
                film = scipy.fft.irfft2(fluctuation, s=self.size)
                if offsets is not None:  # the film moves with the specimen: sample it where the beam was
                    moved = np.empty_like(film)
                    shift_periodic(film, offsets[0], offsets[1], moved)
                    film = moved
                contrast += carbon * (film if margins == NO_MARGINS else np.pad(film, margins, mode="wrap"))
        spectrum = scipy.fft.rfft2(contrast)
        if film_spectrum is not None:
            spectrum += carbon * film_spectrum
        transfer = self.probe.transfer(contrast.shape, self.pixel_size)
        signal = scipy.fft.irfft2(spectrum * transfer, s=contrast.shape)[field_window]
        signal += carbon * mean_support
        signal *= parts.scale
        if parts.direct is not None:
            signal += parts.direct
        np.maximum(signal, 0.0, out=signal)  # rough films can dip below zero thickness
        counts = None
        image = signal
        if self.dose is not None:
            incident = self.electrons_per_pixel
            counts = poisson_counts(signal * incident, rng)
            image = counts / incident
        sites, owners = self._sites(scene, rotations)
        return Measurement(
            image=image.astype(np.float32),
            counts=counts,
            signal=signal.astype(np.float32),
            thickness=thickness.astype(np.float32),
            mask=thickness > 0,
            sites=sites,
            site_particle=owners,
            columns=parts.columns,
        )

    def _sites(self, scene: Scene, rotations: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        rows, owners = [], []
        for index, particle in enumerate(scene.particles):
            xy = particle.projected_sites(rotations[index], self.pixel_size, self.size)
            flag = np.zeros((len(xy), 1))
            flag[list(particle.shape.deformed_sites), 0] = 1.0
            rows.append(np.hstack([xy, flag]))
            owners.append(np.full(len(xy), index))
        if not rows:
            return np.zeros((0, 3), np.float32), np.zeros(0, int)
        return np.vstack(rows).astype(np.float32), np.concatenate(owners)
