"""The probe: its point-spread function on the pixel grid, and the margin its blur needs.

The probe is a Gaussian of FWHM ``fwhm`` plus a fraction ``tail_weight`` in a 2-D Cauchy
(Lorentzian-like) profile ``γ / 2π (r² + γ²)^{3/2}`` of scale γ = ``tail_width``.

The blur is a discrete convolution: the point-spread function (PSF) sampled at pixel centres
and normalised to sum 1, each component on its own (:meth:`Probe.kernel`). A sampled kernel is
non-negative by construction, so a blurred edge never rings; by Poisson summation its DFT
(:meth:`Probe.transfer`) is the aliased, periodised sum ``Σ_m T(k + m/Δ)`` of the continuous
transfer ``T``, i.e. the two exact choices are one and the same. (Image formation version 1
multiplied by ``T`` cut off at Nyquist instead: the kernel of a sharp-cut transfer has negative
lobes, −2.1 % of its peak and 12 % of its mass at 0.12 nm on 0.15 nm pixels.) From a FWHM of
~4 pixels up the aliased terms are below 10⁻⁶ and the two agree.

Below a FWHM of ~2 pixels no sampled kernel can hold the requested width: the sampled Gaussian
is then what the probe is on this grid. At 0.8 px (0.12 nm on 0.15 nm pixels) the centre pixel
keeps 95 %, each of its 4 neighbours 1.3 %; below 0.3 px it is a delta (neighbours < 10⁻¹³).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import scipy.fft

FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))
CAUCHY_HWHM_PER_GAMMA = math.sqrt(2.0 ** (2.0 / 3.0) - 1.0)  # 0.766: half maximum of the Cauchy profile at 0.766 γ
GAUSSIAN_REACH = 7.0
"""Margin of the blur, in Gaussian σ: what lies beyond weighs under exp(-7²/2) = 2·10⁻¹¹."""


def _check(name: str, value, low=0.0, allow_low=True, high=None):
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a number, got {value!r}") from None
    if (not np.isfinite(number) or number < low or (number == low and not allow_low)
            or (high is not None and number > high)):
        bound = f"{'>=' if allow_low else '>'} {low}" + (f" and <= {high}" if high is not None else "")
        raise ValueError(f"{name}: must be {bound}, got {value!r}")
    return number


def _periodic_distance(n: int) -> np.ndarray:
    """Pixels from index 0 on a periodic axis of ``n`` (the nearest image)."""
    index = np.arange(n)
    return np.minimum(index, n - index).astype(np.float64)


def _gaussian_1d(n: int, sigma_px: float) -> np.ndarray:
    """The Gaussian sampled at pixel centres on a periodic axis of ``n``, normalised to sum 1."""
    if sigma_px == 0:
        line = np.zeros(n)
        line[0] = 1.0
        return line
    line = np.exp(-0.5 * (_periodic_distance(n) / sigma_px) ** 2)
    return line / line.sum()


def _cauchy_2d(shape: tuple[int, int], gamma_px: float) -> np.ndarray:
    """The 2-D Cauchy profile sampled at pixel centres (nearest image), normalised to sum 1:
    the mass beyond the grid (γ/R at a distance R) is spread over it in proportion."""
    dy = _periodic_distance(shape[0])[:, None]
    dx = _periodic_distance(shape[1])[None, :]
    profile = (dx * dx + dy * dy + gamma_px * gamma_px) ** -1.5
    return profile / profile.sum()


@lru_cache(maxsize=64)
def _probe_kernel(probe: "Probe", shape: tuple[int, int], pixel_size: float) -> np.ndarray:
    sigma = probe.fwhm / FWHM_PER_SIGMA / pixel_size
    kernel = (1.0 - probe.tail_weight) * np.outer(_gaussian_1d(shape[0], sigma), _gaussian_1d(shape[1], sigma))
    if probe.tail_weight:
        kernel += probe.tail_weight * _cauchy_2d(shape, probe.tail_width / pixel_size)
    kernel.flags.writeable = False
    return kernel


@lru_cache(maxsize=64)
def _probe_transfer(probe: "Probe", shape: tuple[int, int], pixel_size: float) -> np.ndarray:
    # The kernels are symmetric (k[n] = k[-n]): their DFT is real; .real drops the rounding.
    sigma = probe.fwhm / FWHM_PER_SIGMA / pixel_size
    gy = scipy.fft.fft(_gaussian_1d(shape[0], sigma)).real
    gx = scipy.fft.rfft(_gaussian_1d(shape[1], sigma)).real
    transfer = (1.0 - probe.tail_weight) * np.outer(gy, gx)
    if probe.tail_weight:
        transfer += probe.tail_weight * scipy.fft.rfft2(_cauchy_2d(shape, probe.tail_width / pixel_size)).real
    transfer.flags.writeable = False
    return transfer


@lru_cache(maxsize=64)
def _blur_margins(probe: "Probe", size: tuple[int, int], pixel_size: float) -> tuple[tuple[int, int], ...]:
    if probe.fwhm == 0 and probe.tail_weight == 0:
        return ((0, 0), (0, 0))
    reach = math.ceil(GAUSSIAN_REACH * probe.fwhm / FWHM_PER_SIGMA / pixel_size)
    margins = []
    for n in size:
        # Tails reach across the field: the padded axis is then at least twice the field, so no
        # pixel sees the field's other side through the periodic wrap.
        margin = max(reach, (n + 1) // 2 if probe.tail_weight else 0)
        padded = scipy.fft.next_fast_len(n + 2 * margin, real=True)
        margins.append((margin, padded - n - margin))
    return tuple(margins)


@dataclass(frozen=True)
class Probe:
    """Probe intensity profile: a Gaussian plus Lorentzian-like tails (module docstring).

    The tails are the 2-D Cauchy profile ``γ / 2π (r² + γ²)^{3/2}`` of scale γ, whose Fourier
    transform is ``exp(-2π γ k)``; it integrates to 1 and falls to half its peak at 0.766 γ
    (``sqrt(2^(2/3) - 1) γ``), so its FWHM is 1.53 γ.

    Parameters
    ----------
    fwhm : float
        Full width at half maximum of the Gaussian, nm (>= 0; 0 is no blur).
    tail_weight : float
        Fraction of the intensity in the tails, in [0, 1].
    tail_width : float
        Scale γ of the tails, nm (> 0): their half width at half maximum is 0.766 γ.
    """

    fwhm: float = 0.1
    tail_weight: float = 0.0
    tail_width: float = 0.5

    def __post_init__(self):
        _check("probe_fwhm", self.fwhm)
        _check("probe_tail_weight", self.tail_weight, high=1.0)
        _check("probe_tail_width", self.tail_width, allow_low=False)

    def kernel(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        """The point-spread function on the periodic pixel grid ``shape``, centred on pixel
        (0, 0): each component sampled at pixel centres (nearest image) and normalised to sum
        1. Non-negative; cached (the returned array is shared and read-only).

        Parameters
        ----------
        shape : tuple of int
            (H, W), pixels, of the grid.
        pixel_size : float
            nm per pixel.

        Returns
        -------
        numpy.ndarray
            (H, W) float64, dimensionless, summing to 1.
        """
        return _probe_kernel(self, tuple(shape), float(pixel_size))

    def transfer(self, shape: tuple[int, int], pixel_size: float) -> np.ndarray:
        """The DFT of :meth:`kernel` on the ``rfft2`` grid of ``shape`` (DC = 1): the aliased
        sum of the continuous transfer. Cached: the returned array is shared and read-only.

        Parameters
        ----------
        shape : tuple of int
            (H, W), pixels, of the image grid.
        pixel_size : float
            nm per pixel.

        Returns
        -------
        numpy.ndarray
            (H, W // 2 + 1) float64, dimensionless.
        """
        return _probe_transfer(self, tuple(shape), float(pixel_size))

    def margins(self, size: tuple[int, int], pixel_size: float) -> tuple[tuple[int, int], tuple[int, int]]:
        """Pixels to simulate around a field of ``size`` so that its blur sees no wrap-around:
        ``((top, bottom), (left, right))``. ``GAUSSIAN_REACH`` σ of the Gaussian; with tails, at
        least half the field on each side; the far sides round the padded size up to a fast FFT
        length. All 0 without blur.

        Parameters
        ----------
        size : tuple of int
            (H, W) of the field, pixels.
        pixel_size : float
            nm per pixel.

        Returns
        -------
        tuple
            ((top, bottom), (left, right)) pixels, ints >= 0.
        """
        return _blur_margins(self, tuple(int(n) for n in size), float(pixel_size))
