"""Speed of the ``crystalline`` contrast model: the particle signal per image, and whole images.

An 8 nm Au cube (fcc, 29 659 atoms) on a 128² field of 0.15 nm pixels, the default probe (0.1 nm
Gaussian). Cases: off axis (a new random orientation per image: every atom splatted alone), on
[001] and on [011] (columns splatted), and off axis with a 10 % Cauchy tail (its FFT on the padded
grid). ``particles_ms`` times ``CrystallineContrast.particles`` alone (the atoms cached: the same
shape every image), ``acquire_ms`` a whole noisy image on a 3 nm carbon film at dose 5e3 e/Å²
beside the ``linear`` model's, and ``fill_ms`` a cache miss (a new shape: the lattice cut by the
solid, plus the column grouping on a zone axis). Single-threaded (Numba kernels, one process).

    python -m stemsim.benchmarks.crystal_speed [--images 200] [--out results/fidelity/crystal_speed.json]
"""

from __future__ import annotations

import time

import numpy as np

from stemsim.benchmarks.speed import speed_arguments, write_speed
from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, Scene, random_rotation
from stemsim.simulator.atoms import crystal_atoms, zone_columns
from stemsim.simulator.contrast import contrast_model
from stemsim.simulator.lattice import Lattice

# (case, orientation: "random" or a quaternion, probe)
CASES = (("off_axis", "random", Probe()), ("001", (1.0, 0.0, 0.0, 0.0), Probe()),
         ("011", (np.cos(np.pi / 8), np.sin(np.pi / 8), 0.0, 0.0), Probe()),
         ("off_axis_tail", "random", Probe(tail_weight=0.1, tail_width=0.5)))


def _particle_ms(microscope: Microscope, scene: Scene, rng: np.random.Generator) -> float:
    """ms of one ``particles`` call, set up as ``Microscope.acquire`` does (no scan offsets)."""
    rotations = microscope._rotations(scene)
    arrays = [particle.kernel_arrays(r) for particle, r in zip(scene.particles, rotations)]
    margins = microscope._margins_for(arrays, None)
    (top, bottom), (left, right) = margins
    padded = [np.zeros((microscope.size[0] + top + bottom, microscope.size[1] + left + right))]
    model = contrast_model("crystalline")
    start = time.perf_counter()
    model.particles(microscope, scene, padded, rotations, None, margins, rng)
    return (time.perf_counter() - start) * 1e3


def _stats(values) -> dict:
    ms = np.asarray(values)
    return {"median_ms": float(np.median(ms)), "p10_ms": float(np.percentile(ms, 10)),
            "p90_ms": float(np.percentile(ms, 90))}


def measure(images: int = 200, size: int = 128, seed: int = 26) -> dict:
    """Timings of each case (module docstring).

    Parameters
    ----------
    images : int
        Images per case.
    size : int
        Pixels per side.
    seed : int
        Seeds the orientations and the generators.

    Returns
    -------
    dict
        Per case: ``particles`` and ``acquire`` (median, p10, p90 ms), ``linear_acquire``,
        ``images_per_s_per_core`` (of the particle signal, from the median; ``_p10`` from the
        10th percentile), ``atoms`` and ``scatterers``;
        ``fill_ms``: a cache miss, ``atoms_only`` and ``with_columns``.
    """
    shape = Cuboid(8.0)
    orientations = np.random.default_rng(seed)
    result = {}
    for case, orientation, probe in CASES:
        microscope = Microscope(pixel_size=0.15, size=size, probe=probe, dose=5e3, contrast="crystalline")
        linear = Microscope(pixel_size=0.15, size=size, probe=probe, dose=5e3)
        scenes = [Scene(Particle(shape, "Au", random_rotation(orientations) if orientation == "random"
                                 else orientation), support=CarbonFilm(3.0, 0.5)) for _ in range(images)]
        measurement = microscope.acquire(scenes[0], np.random.default_rng(0))  # compile, fill the cache
        linear.acquire(scenes[0], np.random.default_rng(0))
        particles, acquire, reference = [], [], []
        for index, scene in enumerate(scenes):
            particles.append(_particle_ms(microscope, scene, np.random.default_rng([seed, index])))
            for model, store in ((microscope, acquire), (linear, reference))[:: 1 if index % 2 else -1]:
                start = time.perf_counter()
                model.acquire(scene, np.random.default_rng([seed, index]))
                store.append((time.perf_counter() - start) * 1e3)
        result[case] = {"particles": _stats(particles), "acquire": _stats(acquire),
                        "linear_acquire": _stats(reference),
                        "images_per_s_per_core": 1e3 / float(np.median(particles)),
                        # the 10th percentile: what a core gives when other processes leave it alone
                        "images_per_s_per_core_p10": 1e3 / float(np.percentile(particles, 10)),
                        "atoms": int(measurement.columns[:, 2].sum()), "scatterers": len(measurement.columns)}
    lattice = Lattice.for_element("Au")
    fills, grouped = [], []
    for k in range(20):  # new shapes: each one a cache miss
        fresh = Cuboid(8.0 + 1e-3 * (k + 1))
        start = time.perf_counter()
        crystal_atoms(fresh, lattice)
        middle = time.perf_counter()
        zone_columns(fresh, lattice, (0, 0, 1))
        fills.append((middle - start) * 1e3)
        grouped.append((time.perf_counter() - start) * 1e3)
    result["fill_ms"] = {"atoms_only": float(np.median(fills)), "with_columns": float(np.median(grouped))}
    return result


def main(argv=None) -> dict:
    """Measure, print a line per case and write the JSON (``--out``)."""
    args = speed_arguments(__doc__, "results/fidelity/crystal_speed.json", argv)
    start = time.perf_counter()
    result = measure(args.images, args.size)
    for case, _, _ in CASES:
        row = result[case]
        print(f"{case}: particles {row['particles']['median_ms']:.2f} ms ({row['images_per_s_per_core']:.0f}/s, "
              f"p10 {row['images_per_s_per_core_p10']:.0f}/s, "
              f"{row['scatterers']} scatterers), acquire {row['acquire']['median_ms']:.2f} ms "
              f"(linear {row['linear_acquire']['median_ms']:.2f} ms)")
    fill = result["fill_ms"]
    print(f"cache miss: fill {fill['atoms_only']:.1f} ms, with columns {fill['with_columns']:.1f} ms")
    return write_speed(args, "stemsim.benchmarks.crystal_speed",
                       "crystalline contrast speed: 8 nm Au cube, 128² px of 0.15 nm, default probe; particle "
                       "signal alone (atoms cached) and whole images (3 nm carbon, dose 5e3) beside linear",
                       result, start, images_per_case=args.images)


if __name__ == "__main__":
    main()
