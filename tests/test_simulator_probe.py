"""The probe blur: a non-negative sampled kernel (no ringing), its width, conservation, the
frame edge (no wrap-around), and agreement with the continuous transfer at large widths."""

import numpy as np
import pytest
import scipy.fft

from stemsim.simulator import (CarbonFilm, Cuboid, Microscope, Particle, Probe, ScanDistortion, Scene, Sphere,
                              random_rotation)
from stemsim.simulator.probe import FWHM_PER_SIGMA

FWHMS_PX = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 4.0)
TAILS = ((0.0, 0.5), (0.3, 0.5), (0.2, 0.05))  # (tail_weight, tail_width nm): none, wide, sub-pixel
PIXEL = 0.1  # nm
AU = 79.0**1.7


def rng(seed=0):
    return np.random.default_rng(seed)


def applied_kernel(probe, shape, pixel=PIXEL):
    """The kernel the FFT applies: the inverse DFT of the transfer."""
    return scipy.fft.irfft2(probe.transfer(shape, pixel), s=shape)


@pytest.mark.parametrize("fwhm_px", FWHMS_PX)
@pytest.mark.parametrize("tail", TAILS, ids=["gaussian", "tail", "narrow-tail"])
def test_the_psf_is_non_negative_and_sums_to_one(fwhm_px, tail):
    probe = Probe(fwhm_px * PIXEL, *tail)
    for shape in ((64, 64), (70, 81)):
        kernel = probe.kernel(shape, PIXEL)
        assert kernel.min() >= 0 and kernel.sum() == pytest.approx(1, abs=1e-14)
        applied = applied_kernel(probe, shape)
        assert applied.min() >= -1e-15 * applied.max()
        np.testing.assert_allclose(applied, kernel, atol=1e-15)
        assert probe.transfer(shape, PIXEL)[0, 0] == pytest.approx(1, abs=1e-14)


def test_the_old_continuous_transfer_rang():
    """What image model 1 did (the continuous Gaussian transfer cut at Nyquist): at 0.12 nm on
    0.15 nm pixels its kernel dips to -2.1 % of its peak, 12 % of its mass negative."""
    shape = (128, 128)
    ky = np.fft.fftfreq(128, d=0.15)[:, None]
    kx = np.fft.rfftfreq(128, d=0.15)[None, :]
    sigma = 0.12 / FWHM_PER_SIGMA
    old = scipy.fft.irfft2(np.exp(-2 * np.pi**2 * sigma**2 * (kx**2 + ky**2)), s=shape)
    assert old.min() / old.max() == pytest.approx(-0.0206, abs=5e-4)
    assert -old[old < 0].sum() / old.sum() == pytest.approx(0.118, abs=2e-3)
    new = applied_kernel(Probe(0.12), shape, 0.15)
    assert new.min() >= -1e-15 * new.max()


@pytest.mark.parametrize("fwhm_px", FWHMS_PX)
@pytest.mark.parametrize("tail", TAILS, ids=["gaussian", "tail", "narrow-tail"])
@pytest.mark.parametrize("edge_px, supersampling", [(0.0, 1), (0.3, 4)])
def test_a_blurred_step_edge_is_monotonic(fwhm_px, tail, edge_px, supersampling):
    """A face-on slab from ``edge_px`` right of the field's centre to past its right edge, on
    flat carbon (so an undershoot would show below the carbon level, not be clipped away)."""
    size = 64
    microscope = Microscope(pixel_size=PIXEL, size=size, probe=Probe(fwhm_px * PIXEL, *tail), z_exponent=1.7,
                            supersampling=supersampling)
    width = size * PIXEL  # the slab's centre at the field's right edge: the profile rises across the field
    edge = edge_px * PIXEL
    slab = Particle(Cuboid(width, 60.0, 2.0), "Au", position=(edge + width / 2, 0.0))
    film = CarbonFilm(thickness=3.0, roughness=0.0)
    signal = microscope.acquire(Scene([slab], support=film), rng()).signal.astype(np.float64)
    carbon = 1e-5 * 6.0**1.7 * 3.0
    step = 1e-5 * AU * 2.0
    tolerance = 1e-6 * step  # float32 rounding of the signal
    for row in (0, size // 2, size - 1):
        profile = signal[row]
        assert np.all(np.diff(profile) >= -tolerance), profile
        assert profile.min() >= carbon - tolerance  # no undershoot
        assert profile.max() <= carbon + step + tolerance  # no overshoot
    if tail[0] == 0:  # far from the edge the slab's full height, the carbon beside it
        assert signal[:, -1] == pytest.approx(carbon + step, rel=1e-6)
        assert signal[:, 0] == pytest.approx(carbon, rel=1e-6)


@pytest.mark.parametrize("fwhm_px", [2.0, 3.0, 4.0, 6.0])
def test_the_blur_of_a_delta_has_the_requested_fwhm(fwhm_px):
    """From 2 px up the sampled Gaussian holds the FWHM: its second moment gives it to 1e-4 (the
    aliasing terms are exp(-2π²σ²)), the half-maximum crossing (linear between pixels) to 3 %."""
    pixel = 0.05
    microscope = Microscope(pixel_size=pixel, size=128, probe=Probe(fwhm_px * pixel), z_exponent=2.0)
    scene = Scene([Particle(Sphere(0.02), "Au", position=(0.025, 0.025))])  # one pixel: the image is the probe
    image = microscope.acquire(scene, rng()).signal.astype(np.float64)
    assert np.unravel_index(image.argmax(), image.shape) == (64, 64)
    x = np.arange(128) - 64
    profile = image.sum(axis=0)
    sigma = np.sqrt((x**2 * profile).sum() / profile.sum())
    assert sigma * FWHM_PER_SIGMA == pytest.approx(fwhm_px, rel=1e-4)
    row = image[64] / image[64].max()
    right = np.flatnonzero(row[64:] < 0.5)[0]  # first pixel right of the centre below half
    crossing = right - 1 + (row[64 + right - 1] - 0.5) / (row[64 + right - 1] - row[64 + right])
    assert 2 * crossing == pytest.approx(fwhm_px, rel=0.03)


def test_below_a_pixel_the_kernel_is_the_sampled_gaussian():
    """At sub-pixel FWHM the kernel cannot have the requested width: it is the Gaussian sampled
    at pixel centres, a delta below ~0.3 px; at 0.8 px the centre keeps 95 %."""
    kernel = Probe(0.3 * PIXEL).kernel((32, 32), PIXEL)
    assert kernel[0, 0] == pytest.approx(1, abs=1e-12)
    kernel = Probe(0.8 * PIXEL).kernel((32, 32), PIXEL)
    neighbour = np.exp(-0.5 * (FWHM_PER_SIGMA / 0.8) ** 2)
    total = (1 + 2 * neighbour + 2 * neighbour**4) ** 2  # out to 2 px: beyond, < 1e-17
    assert kernel[0, 0] == pytest.approx(1 / total, rel=1e-12) and kernel[0, 0] == pytest.approx(0.949, abs=1e-3)
    assert kernel[0, 1] == pytest.approx(neighbour / total, rel=1e-12)


@pytest.mark.parametrize("fwhm_px", FWHMS_PX)
def test_blur_conserves_total_signal(fwhm_px):
    probe = Probe(fwhm_px * PIXEL, 0.3, 0.5)
    field = rng(1).random((70, 64))
    blurred = scipy.fft.irfft2(scipy.fft.rfft2(field) * probe.transfer(field.shape, PIXEL), s=field.shape)
    assert blurred.sum() == pytest.approx(field.sum(), rel=1e-12)
    # through acquire: a particle well inside the field keeps its signal (to float32 rounding)
    scene = Scene([Particle(Cuboid(2.0), "Au")])
    sharp = Microscope(pixel_size=PIXEL, size=64, probe=Probe(0.0)).acquire(scene, rng()).signal.astype(np.float64)
    blurred = Microscope(pixel_size=PIXEL, size=64, probe=Probe(fwhm_px * PIXEL)).acquire(scene, rng()).signal
    assert blurred.astype(np.float64).sum() == pytest.approx(sharp.sum(), rel=1e-6)


@pytest.mark.parametrize("fwhm_px", [4.0, 6.0, 10.0])
def test_large_fwhm_images_are_those_of_the_continuous_transfer(fwhm_px):
    """From ~4 px FWHM the sampled kernel is the continuous one (image model 1 agreed there):
    the blurred images agree within 1e-6 of their peak."""
    size, pixel = 128, 0.1
    microscope = Microscope(pixel_size=pixel, size=size, probe=Probe(fwhm_px * pixel))
    scene = Scene([Particle(Cuboid(3.0).truncate([0, 5], 0.3), "Pt", random_rotation(rng(3)))])
    signal = microscope.acquire(scene, rng()).signal.astype(np.float64)
    contrast = 1e-5 * 78.0**1.7 * microscope.thickness(scene)
    ky = np.fft.fftfreq(size, d=pixel)[:, None]
    kx = np.fft.rfftfreq(size, d=pixel)[None, :]
    sigma = fwhm_px * pixel / FWHM_PER_SIGMA
    continuous = np.exp(-2 * np.pi**2 * sigma**2 * (kx**2 + ky**2))  # image model 1's transfer
    old = scipy.fft.irfft2(scipy.fft.rfft2(contrast) * continuous, s=contrast.shape)
    assert np.abs(signal - old).max() <= 1e-6 * old.max()


@pytest.mark.parametrize("probe", [Probe(0.15), Probe(0.4), Probe(1.0), Probe(0.4, 0.3, 0.5)],
                         ids=["0.15", "0.4", "1.0", "0.4-tail"])
def test_a_particle_at_the_frame_edge_does_not_light_the_opposite_edge(probe):
    """A cube centred on the left edge: the right edge stays at the background (the tail's own
    reach across the field aside), and the image is the crop of a field three times as wide."""
    scene = Scene([Particle(Cuboid(6.0), "Au", position=(-9.6, 0.0))])
    image = Microscope(pixel_size=0.15, size=128, probe=probe).acquire(scene, rng()).signal.astype(np.float64)
    wide = Microscope(pixel_size=0.15, size=(128, 384), probe=probe).acquire(scene, rng()).signal.astype(np.float64)
    if probe.tail_weight == 0:
        assert image[:, -8:].max() <= 1e-12 * image.max()
        np.testing.assert_allclose(image, wide[:, 128:256], rtol=0, atol=1e-12 * image.max())
    else:  # what the tail carries 19 nm across the field, and a few 1e-3 of the field's renormalisation
        assert image[:, -1].max() <= 3e-4 * image.max()
        np.testing.assert_allclose(image, wide[:, 128:256], rtol=0, atol=3e-3 * image.max())


def test_with_scan_distortion_and_film_the_margin_path_agrees_with_the_periodic_one(monkeypatch):
    """A particle far from the frame takes the periodic blur on the field (cheaper); the same
    scene through the padded margin gives the same image to rounding."""
    microscope = Microscope(pixel_size=0.15, size=96, probe=Probe(0.3),
                            scan=ScanDistortion(jitter=0.3, line_amplitude=0.5, line_frequency=3, drift=(1, 2)))
    scene = Scene([Particle(Cuboid(4.0), "Au", random_rotation(rng(5)))], support=CarbonFilm())
    fast = microscope.acquire(scene, rng(4))
    arrays = [p.kernel_arrays(r) for p, r in zip(scene.particles, microscope._rotations(scene))]
    offsets = microscope.scan.offsets(microscope.size, rng(4))
    assert microscope._margins_for(arrays, offsets) == ((0, 0), (0, 0)) != microscope.blur_margins
    monkeypatch.setattr(Microscope, "_margins_for", lambda self, arrays, offsets: self.blur_margins)
    padded = microscope.acquire(scene, rng(4))
    np.testing.assert_array_equal(fast.thickness, padded.thickness)
    np.testing.assert_allclose(fast.signal, padded.signal, rtol=1e-6, atol=1e-6 * fast.signal.max())
