"""Time per image of the ``calibrated`` contrast model against ``linear``, side by side.

An 8 nm Au cube (random orientation, a new one per image) on a 3 nm carbon film, 128² pixels of
0.15 nm, dose 5e3 e/Å², the default probe.  The two models acquire the same scene from the same
generator state, interleaved (the first of the pair alternating), so load on the machine hits
both alike; the ratio of the medians, and the median of each image's own ratio, are the model's cost.

    python -m stemsim.benchmarks.contrast_speed [--images 200] [--out results/fidelity/contrast_speed.json]
"""

from __future__ import annotations

import time

import numpy as np

from stemsim.benchmarks.speed import speed_arguments, write_speed
from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Scene, random_rotation

MODELS = ("linear", "calibrated")


def measure(images: int = 200, size: int = 128, seed: int = 26) -> dict:
    """Seconds per image of each contrast model.

    Parameters
    ----------
    images : int
        Images per model.
    size : int
        Pixels per side.
    seed : int
        Seeds the orientations and each image's generator.

    Returns
    -------
    dict
        Per model: ``median_ms``, ``mean_ms``, ``p10_ms``, ``p90_ms``; ``ratio_median``,
        ``ratio_mean`` (calibrated / linear) and ``ratio_paired_median`` (the median over the
        images of each one's calibrated / linear time).
    """
    microscopes = {name: Microscope(pixel_size=0.15, size=size, dose=5e3, contrast=name) for name in MODELS}
    orientations = np.random.default_rng(seed)
    scenes = [Scene(Particle(Cuboid(8.0), "Au", random_rotation(orientations)), support=CarbonFilm(3.0, 0.5))
              for _ in range(images)]
    for microscope in microscopes.values():  # compile and fill the caches
        microscope.acquire(scenes[0], np.random.default_rng(0))
    for scene in scenes:  # the shapes' cached layouts: built before either model is timed
        scene.particles[0].kernel_arrays(scene.particles[0].line_rotations(size))
    seconds = {name: [] for name in MODELS}
    for index, scene in enumerate(scenes):
        order = MODELS if index % 2 == 0 else MODELS[::-1]
        for name in order:
            rng = np.random.default_rng([seed, index])
            start = time.perf_counter()
            microscopes[name].acquire(scene, rng)
            seconds[name].append(time.perf_counter() - start)
    result = {}
    for name, values in seconds.items():
        ms = np.array(values) * 1e3
        result[name] = {"median_ms": float(np.median(ms)), "mean_ms": float(ms.mean()),
                        "p10_ms": float(np.percentile(ms, 10)), "p90_ms": float(np.percentile(ms, 90))}
    result["ratio_median"] = result["calibrated"]["median_ms"] / result["linear"]["median_ms"]
    result["ratio_mean"] = result["calibrated"]["mean_ms"] / result["linear"]["mean_ms"]
    # each image's own ratio (same scene, same generator state, back to back): least hit by load
    result["ratio_paired_median"] = float(np.median(np.divide(seconds["calibrated"], seconds["linear"])))
    return result


def main(argv=None) -> dict:
    """Measure, print the ratio and write the JSON (``--out``)."""
    args = speed_arguments(__doc__, "results/fidelity/contrast_speed.json", argv)
    start = time.perf_counter()
    result = measure(args.images, args.size)
    print(f"linear {result['linear']['median_ms']:.3f} ms, calibrated {result['calibrated']['median_ms']:.3f} ms "
          f"(median per image); ratio {result['ratio_median']:.3f} (mean {result['ratio_mean']:.3f}, "
          f"paired median {result['ratio_paired_median']:.3f})")
    return write_speed(args, "stemsim.benchmarks.contrast_speed",
                       "ms per image, calibrated vs linear contrast: 8 nm Au cube, random orientation, "
                       f"3 nm carbon, {args.size}² px of 0.15 nm, dose 5e3 e/Å², interleaved", result, start,
                       images_per_model=args.images)


if __name__ == "__main__":
    main()
