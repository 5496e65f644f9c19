"""Hand-crafted texture features of one scanning-probe image (no deep learning).

What a person looks at when they judge an STM image of a surface, written as numbers:

* **intensity** — the height histogram (percentiles, moments, clipped fractions, how many
  grey levels are used);
* **scan lines** — the image is recorded line by line (rows, top to bottom), so a tip change
  shows as a jump between consecutive rows, a change of sharpness or contrast from one band of
  rows to the next, and a best split of the image into an upper and lower part that differ;
* **power spectrum** — fractions of the spectral power in log-spaced radial bins × 4 angle
  bins (dimer rows and atomic lattices are peaks at their period), how anisotropic each
  radius is, and how peaked the spectrum is;
* **blobs and gradients** — scale-normalised Laplacian-of-Gaussian peaks at 4 scales
  (individual atoms, dangling bonds, clusters), mean gradients along and across the scan,
  and the autocorrelation at lags of 1–16 pixels along both axes;
* **local patterns** — uniform local-binary-pattern histograms (scikit-image) at 3 radii, on
  the image and on its 2× downscaled copy, and grey-level co-occurrence statistics at 3
  distances along and across the scan;
* **sharpness** — gradient energy per band of 8 rows (blur that starts mid-scan), and the
  high-pass fraction of the variance at 4 Gaussian scales (0.7–6 px).

Every feature is scale-free in intensity (ratios, normalised by the image's standard
deviation) except the percentiles, which read the [0, 1] intensities of the prepared image.
Lengths are in pixels of the image as given: :class:`stemsim.classifiers.texture.TextureModel`
resizes every image to one side first, so that a pixel means the same for every image.

Example::

    >>> import numpy as np
    >>> from stemsim.classifiers.texture_features import TEXTURE_FEATURE_NAMES, texture_features
    >>> image = np.random.default_rng(0).random((128, 128))
    >>> texture_features(image).shape == (len(TEXTURE_FEATURE_NAMES),)
    True
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import ndimage, stats

_EPS = 1e-9
PERCENTILES = (1, 5, 25, 50, 75, 95, 99)
RADIAL_BINS, ANGLE_BINS = 16, 4
BLOB_SCALES = (1.0, 1.5, 2.5, 4.0)  # LoG sigma, pixels
BLOB_LEVELS = (0.5, 1.0, 2.0)  # scale-normalised LoG response in units of the image's std
AUTOCORRELATION_LAGS = (1, 2, 4, 8, 16)  # pixels
LBP_RADII = ((8, 1), (8, 2), (16, 4))  # (points, radius in pixels)
COARSE_LBP_RADII = ((8, 1), (8, 2))  # on the 2× downscaled image
GLCM_DISTANCES = (1, 3, 8)  # pixels
GLCM_PROPERTIES = ("contrast", "homogeneity", "energy", "correlation")
GLCM_LEVELS = 32
ROW_BANDS = 8
HIGH_PASS_SCALES = (0.7, 1.5, 3.0, 6.0)  # Gaussian sigma, pixels
SHARPNESS_BAND_ROWS = 8


def _names() -> tuple[str, ...]:
    names = [f"intensity_p{p:02d}" for p in PERCENTILES]
    names += ["intensity_mean", "intensity_std", "intensity_skew", "intensity_kurtosis", "intensity_fraction_low",
              "intensity_fraction_high", "intensity_levels_used"]
    names += ["scan_row_jump_max", "scan_row_jump_p99", "scan_row_jump_max_over_median",
              "scan_row_jumps_over_5_medians",
              "scan_row_std_jump_max", "scan_row_correlation_min", "scan_row_correlation_mean",
              "scan_row_correlation_p05", "scan_row_correlation_step_max", "scan_column_jump_max",
              "scan_column_jump_max_over_median", "scan_row_mean_spread", "scan_column_mean_spread",
              "scan_band_sharpness_log_ratio", "scan_band_sharpness_log_mean", "scan_band_sharpness_variation",
              "scan_band_std_ratio", "scan_best_split_difference", "scan_best_split_row_fraction"]
    names += [f"spectrum_radial_{r:02d}" for r in range(RADIAL_BINS)]
    names += [f"spectrum_anisotropy_{r:02d}" for r in range(RADIAL_BINS)]
    names += ["spectrum_peak"]
    names += [f"spectrum_r{r:02d}_a{a}" for r in range(RADIAL_BINS) for a in range(ANGLE_BINS)]
    for s in BLOB_SCALES:
        names += [f"blob_s{s}_over_{level}" for level in BLOB_LEVELS] + [f"blob_s{s}_p99", f"blob_s{s}_std"]
    names += ["gradient_along_scan", "gradient_across_scan", "gradient_log_ratio"]
    names += [f"autocorrelation_{axis}_{lag}" for lag in AUTOCORRELATION_LAGS for axis in ("along", "across")]
    names += [f"lbp_{p}_{r}_{k:02d}" for p, r in LBP_RADII for k in range(p + 2)]
    names += [f"glcm_{prop}_d{d}_{axis}" for prop in GLCM_PROPERTIES for d in GLCM_DISTANCES
              for axis in ("along", "across")]
    names += [f"coarse_lbp_{p}_{r}_{k:02d}" for p, r in COARSE_LBP_RADII for k in range(p + 2)]
    names += ["sharpness_band_log_ratio", "sharpness_band_log_step_max"]
    names += [f"high_pass_fraction_s{s}" for s in HIGH_PASS_SCALES]
    return tuple(names)


TEXTURE_FEATURE_NAMES: tuple[str, ...] = _names()


def intensity_features(image: np.ndarray) -> list[float]:
    values = image.ravel()
    levels = np.unique(np.round(values * 255)).size / 256
    return [*np.percentile(values, PERCENTILES), values.mean(), values.std(), stats.skew(values),
            stats.kurtosis(values), np.mean(values <= 0.002), np.mean(values >= 0.998), levels]


def _row_correlations(image: np.ndarray) -> np.ndarray:
    """Pearson correlation of every row with the next (1 where a row is flat)."""
    a, b = image[:-1] - image[:-1].mean(axis=1, keepdims=True), image[1:] - image[1:].mean(axis=1, keepdims=True)
    norm = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    return np.where(norm > 0, (a * b).sum(axis=1) / np.where(norm > 0, norm, 1.0), 1.0)


def scan_line_features(image: np.ndarray) -> list[float]:
    """Rows are scan lines (slow scan top to bottom): jumps between them mark tip changes."""
    std = image.std() + 1e-6
    row_mean, row_std, column_mean = image.mean(axis=1), image.std(axis=1), image.mean(axis=0)
    jump, std_jump, column_jump = (np.abs(np.diff(row_mean)), np.abs(np.diff(row_std)),
                                   np.abs(np.diff(column_mean)))
    median = np.median(jump) + 1e-6
    correlation = _row_correlations(image)
    bands = np.array_split(image, ROW_BANDS, axis=0)
    laplace = np.array_split(ndimage.laplace(image), ROW_BANDS, axis=0)
    sharpness = np.array([np.mean(lap ** 2) / (band.var() + 1e-6) for lap, band in zip(laplace, bands)])
    band_std = np.array([band.std() for band in bands])
    height = image.shape[0]
    splits = range(max(1, height // 16), height - max(1, height // 16), max(1, height // 32))
    difference = [abs(image[:k].mean() - image[k:].mean()) / std
                  + abs(np.log((image[:k].std() + 1e-6) / (image[k:].std() + 1e-6))) for k in splits]
    best = int(np.argmax(difference))
    return [jump.max() / std, np.percentile(jump, 99) / std, jump.max() / median, float(np.sum(jump > 5 * median)),
            std_jump.max() / (row_std.mean() + 1e-6), correlation.min(), correlation.mean(),
            np.percentile(correlation, 5), np.abs(np.diff(correlation)).max(), column_jump.max() / std,
            column_jump.max() / (np.median(column_jump) + 1e-6), row_mean.std() / std, column_mean.std() / std,
            np.log((sharpness.max() + _EPS) / (sharpness.min() + _EPS)), np.log(sharpness.mean() + _EPS),
            sharpness.std() / (sharpness.mean() + _EPS), band_std.max() / (band_std.min() + 1e-6),
            difference[best], list(splits)[best] / height]


def power_spectrum(image: np.ndarray) -> np.ndarray:
    """|FFT|² of the image less its mean, unshifted (zero frequency at [0, 0]); shared by the
    spectrum features and the autocorrelation."""
    return np.abs(np.fft.fft2(image - image.mean())) ** 2


def spectrum_features(image: np.ndarray, power: np.ndarray) -> list[float]:
    """Power in log-spaced radial × angle bins (fractions of the total), per-radius anisotropy
    (largest angle bin over the mean), and the log ratio of the strongest non-central
    frequency to the median (a lattice or row period is a sharp peak). ``power``:
    :func:`power_spectrum` of ``image``."""
    power = np.fft.fftshift(power)
    h, w = image.shape
    y, x = np.mgrid[:h, :w]
    y, x = (y - h // 2) * (w / h), x - w // 2  # frequencies on one scale for non-square images
    radius, angle = np.hypot(x, y), np.mod(np.arctan2(y, x), np.pi)
    nyquist = w / 2
    radial = np.clip((np.log2(np.maximum(radius, 1)) / np.log2(nyquist) * RADIAL_BINS).astype(int), 0, RADIAL_BINS - 1)
    angular = np.clip((angle / np.pi * ANGLE_BINS).astype(int), 0, ANGLE_BINS - 1)
    inside = (radius >= 1) & (radius <= nyquist)
    bins = np.zeros((RADIAL_BINS, ANGLE_BINS))
    np.add.at(bins, (radial[inside], angular[inside]), power[inside])
    bins /= power[inside].sum() + 1e-12
    ring = (radius > 4) & (radius < nyquist)
    peak = np.log(power[ring].max() / (np.median(power[ring]) + 1e-12) + _EPS) if ring.any() else 0.0
    return [*np.log(bins.sum(axis=1) + _EPS), *(bins.max(axis=1) / (bins.mean(axis=1) + 1e-12)), peak,
            *np.log(bins.ravel() + _EPS)]


def blob_features(image: np.ndarray, power: np.ndarray) -> list[float]:
    """LoG blobs, gradients along and across the scan, and the autocorrelation (the inverse
    transform of ``power``, :func:`power_spectrum` of ``image``)."""
    std = image.std() + 1e-6
    z = (image - image.mean()) / std
    out: list[float] = []
    for sigma in BLOB_SCALES:
        response = -ndimage.gaussian_laplace(z, sigma) * sigma ** 2  # bright blobs positive, scale-normalised
        peaks = response[response == ndimage.maximum_filter(response, size=int(3 * sigma) | 1)]
        out += [float(np.sum(peaks > level)) for level in BLOB_LEVELS]
        out += [np.percentile(peaks, 99) if peaks.size else 0.0, response.std()]
    along, across = np.abs(ndimage.sobel(image, axis=1)).mean(), np.abs(ndimage.sobel(image, axis=0)).mean()
    out += [along / std, across / std, np.log((along + 1e-6) / (across + 1e-6))]
    autocorrelation = np.real(np.fft.ifft2(power))
    autocorrelation /= autocorrelation[0, 0] + 1e-12
    for lag in AUTOCORRELATION_LAGS:
        out += [autocorrelation[0, lag % image.shape[1]], autocorrelation[lag % image.shape[0], 0]]
    return out


def _levels(image: np.ndarray) -> np.ndarray:
    """[0, 1] intensities → 8-bit grey levels (what LBP and co-occurrence count)."""
    return np.clip(image * 255, 0, 255).astype(np.uint8)


def _lbp_histograms(image: np.ndarray, radii) -> list[float]:
    from skimage.feature import local_binary_pattern

    levels = _levels(image)
    out: list[float] = []
    for points, radius in radii:
        codes = local_binary_pattern(levels, points, radius, "uniform").astype(np.int64)
        out += list(np.bincount(codes.ravel(), minlength=points + 2)[:points + 2] / codes.size)
    return out


def pattern_features(image: np.ndarray) -> list[float]:
    from skimage.feature import graycomatrix, graycoprops

    out = _lbp_histograms(image, LBP_RADII)
    levels = _levels(image) // (256 // GLCM_LEVELS)
    matrix = graycomatrix(levels, GLCM_DISTANCES, [0.0, np.pi / 2], levels=GLCM_LEVELS, symmetric=True, normed=True)
    for prop in GLCM_PROPERTIES:
        out += list(np.nan_to_num(graycoprops(matrix, prop)).ravel())  # (distance, angle) order
    return out


def sharpness_features(image: np.ndarray) -> list[float]:
    from skimage.transform import downscale_local_mean

    out = _lbp_histograms(downscale_local_mean(image, 2), COARSE_LBP_RADII)
    gy, gx = np.diff(image, axis=0)[:, :-1], np.diff(image, axis=1)[:-1]
    energy = (gx ** 2 + gy ** 2).mean(axis=1) / (image.var() + _EPS)
    n_bands = max(2, len(energy) // SHARPNESS_BAND_ROWS)
    band = np.log(np.array([b.mean() for b in np.array_split(energy, n_bands)]) + _EPS)
    out += [band.max() - band.min(), np.abs(np.diff(band)).max()]
    variance = image.var() + _EPS
    out += [(image - ndimage.gaussian_filter(image, s)).var() / variance for s in HIGH_PASS_SCALES]
    return out


def texture_features(image: np.ndarray) -> np.ndarray:
    """One gray image ``(h, w)``, intensities in [0, 1], rows = scan lines (h, w ≥ 32) →
    float64 ``(len(TEXTURE_FEATURE_NAMES),)`` in the order of the names."""
    image = np.asarray(image, np.float64)
    if image.ndim != 2 or min(image.shape) < 32:
        raise ValueError(f"texture_features needs a 2-D image of at least 32×32 pixels, got shape {image.shape}")
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # a flat image has no skew and no spectrum: those features come out NaN (missing to the fit)
        warnings.simplefilter("ignore", RuntimeWarning)
        power = power_spectrum(image)
        values = (intensity_features(image) + scan_line_features(image) + spectrum_features(image, power)
                  + blob_features(image, power) + pattern_features(image) + sharpness_features(image))
    return np.asarray(values, np.float64)
