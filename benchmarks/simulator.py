"""Simulator benchmark: images/s against the voxel reference, and exactness of both.

    python -m stemsim.benchmarks.simulator --out results/simulator

The scene is the prior work's: a cuboid (6–9 nm edges) with 3 truncated corners, rotated
uniformly over SO(3), on a 3 nm carbon film, Au, n = 1.7, 0.12 nm probe, 5·10³ e/Å².
The field of view stays 19.2 nm, so 64², 128² and 256² differ in pixel size only.
Images/s is measured on 1 worker process and on all cores (joblib/loky), after a warm-up,
as the median of 3 runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
from joblib import Parallel, delayed

from stemsim.simulator import CarbonFilm, Cuboid, Microscope, Particle, Probe, Scene, random_rotation

FIELD_OF_VIEW = 19.2  # nm
SIZES = (64, 128, 256)


def microscope_for(size: int) -> Microscope:
    return Microscope(pixel_size=FIELD_OF_VIEW / size, size=size, z_exponent=1.7, probe=Probe(0.12), dose=5e3)


def benchmark_scene(rng: np.random.Generator) -> Scene:
    """A deformed, randomly rotated cuboid on carbon (the benchmark's one scene type)."""
    edges = rng.uniform(6.0, 9.0, size=3)
    corners = rng.choice(8, size=3, replace=False)
    shape = Cuboid(*edges).truncate(corners.tolist(), rng.uniform(0.15, 0.3))
    return Scene([Particle(shape, "Au", random_rotation(rng))], support=CarbonFilm(3.0, 0.5))


def _warm_up(work, size: int) -> None:
    work(size, [10_000])  # imports, JIT cache, FFT plans
    time.sleep(1.0)  # keep this worker busy so that the next warm-up lands on another one


def _ours(size: int, seeds: list[int]) -> int:
    microscope = microscope_for(size)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        microscope.acquire(benchmark_scene(rng), rng)
    return len(seeds)


def _voxels(size: int, seeds: list[int]) -> int:
    from stemsim.benchmarks.voxel_reference import voxel_image

    microscope = microscope_for(size)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        voxel_image(benchmark_scene(rng), microscope, rng)
    return len(seeds)


def images_per_second(work, size: int, n_images: int, n_jobs: int, repeats: int = 3) -> float:
    """Wall-clock images/s of ``work`` over ``n_images`` split into ``n_jobs`` batches:
    the median of ``repeats`` runs (this shared machine's speed wanders)."""
    batches = [list(range(i, n_images, n_jobs)) for i in range(n_jobs)]
    rates = []
    with Parallel(n_jobs=n_jobs, backend="loky") as parallel:
        parallel(delayed(_warm_up)(work, size) for _ in range(n_jobs))
        for _ in range(repeats):
            start = time.perf_counter()
            done = sum(parallel(delayed(work)(size, batch) for batch in batches))
            rates.append(done / (time.perf_counter() - start))
    return float(np.median(rates))


def volume_errors(n: int = 20, size: int = 128) -> dict[str, float]:
    """Mean |relative error| of Σ t · pixel area against the analytic volume."""
    from stemsim.benchmarks.voxel_reference import voxel_thickness

    microscope = microscope_for(size)
    ours, voxels = [], []
    for seed in range(n):
        rng = np.random.default_rng(seed)
        scene = benchmark_scene(rng)
        shape = scene.particles[0].shape
        depth = shape.deformations[0].depth
        a, b, c = shape.a, shape.b, shape.c
        # Each truncation removes a corner tetrahedron with legs depth·(a, b, c).
        volume = a * b * c - len(shape.deformations) * depth**3 * a * b * c / 6
        area = microscope.pixel_size**2
        ours.append(abs(microscope.thickness(scene).sum() * area / volume - 1))
        voxels.append(abs(voxel_thickness(scene, microscope).sum() * area / volume - 1))
    return {"ours": float(np.mean(ours)), "voxel_reference": float(np.mean(voxels)), "objects": n}


GENERATION_SPEC = {
    "name": "bench-generation", "seed": 1, "image": {"size": 128, "pixel_size": 0.15}, "label": "n_deformations",
    "classes": {"values": list(range(9)), "per_class": 250},
    "object": {"shape": "cuboid", "size": {"uniform": [5, 9]}, "deformation": {"depth": {"uniform": [0.15, 0.35]}}},
    "microscope": {"probe_fwhm": 0.2, "dose": 5.0e3, "scan_noise": 0.05},
    "output": {"formats": ["png", "npz"], "dtype": "uint8", "ground_truth": True, "shard_size": 250},
}


def generation_rates(quick: bool = False) -> dict:
    """End-to-end ``stemsim generate`` (PNG + npz with ground truth) against the same
    images made in memory, on 1 and all cores; the cost of writing is 1 − end-to-end/in-memory."""
    import tempfile

    from stemsim.dataset import generate, resolve
    from stemsim.dataset.generate import render
    from stemsim.dataset.sampling import acquire, plan, sample_parameters

    spec = resolve(GENERATION_SPEC, limit=25 if quick else None)
    items = plan(spec)
    acquire(sample_parameters(spec, items[0]))  # JIT warm-up
    start = time.perf_counter()
    for item in items:
        render(acquire(sample_parameters(spec, item)), "uint8")
    in_memory = len(items) / (time.perf_counter() - start)
    result = {"images": len(items), "in_memory_1_core": in_memory}
    cores = os.cpu_count() or 1
    for jobs in sorted({1, cores}):
        with tempfile.TemporaryDirectory() as out:
            summary = generate(spec, out, jobs=jobs)
        result[f"end_to_end_{jobs}_jobs"] = summary.rate
    result["writing_cost_1_job"] = 1 - result["end_to_end_1_jobs"] / in_memory
    return result


def run(quick: bool = False) -> dict:
    cores = os.cpu_count() or 1
    results = {"sizes": {}, "cores": cores}
    for size in SIZES:
        n_ours = {64: 1000, 128: 500, 256: 150}[size] // (10 if quick else 1)
        n_voxel = {64: 20, 128: 5, 256: 2}[size] // (2 if quick else 1) or 1
        one = images_per_second(_ours, size, n_ours, 1)
        many = images_per_second(_ours, size, n_ours, cores)
        voxel = images_per_second(_voxels, size, n_voxel, 1)
        results["sizes"][str(size)] = {
            "ours_1_core": one, f"ours_{cores}_cores": many, "scaling": many / one,
            "voxel_1_core": voxel, "speedup_per_core": one / voxel,
            "images": {"ours": n_ours, "voxel": n_voxel},
        }
    results["volume_error"] = volume_errors(5 if quick else 20)
    results["generation"] = generation_rates(quick)
    results["machine"] = {"cpu": platform.processor() or platform.machine(), "python": platform.python_version(),
                          "numpy": np.__version__}
    return results


def markdown(results: dict, command: str) -> str:
    cores = results["cores"]
    lines = [
        "# Simulator benchmark", "", f"Command: `{command}`", "",
        "Deformed (3 truncated corners), randomly rotated cuboid, Au on 3 nm carbon, probe 0.12 nm, "
        "Poisson noise at 5·10³ e/Å², 19.2 nm field of view. Voxel reference: "
        "`benchmarks/voxel_reference.py` (N³ grid, nearest-voxel rotation, sum, blur, noise).", "",
        f"| size | ours, 1 core (img/s) | ours, {cores} cores (img/s) | scaling | voxel, 1 core (img/s) | speed-up per core |",
        "|---|---|---|---|---|---|",
    ]
    for size, row in results["sizes"].items():
        lines.append(f"| {size}² | {row['ours_1_core']:.0f} | {row[f'ours_{cores}_cores']:.0f} | "
                     f"{row['scaling']:.2f}× | {row['voxel_1_core']:.2f} | {row['speedup_per_core']:.0f}× |")
    error = results["volume_error"]
    lines += ["", f"Volume error (mean |Σ t·area / V − 1| over {error['objects']} objects at 128²): "
              f"ours {error['ours']:.2e}, voxel reference {error['voxel_reference']:.2e}.", ""]
    generation = results["generation"]
    lines += ["## Dataset generation (`stemsim generate`, 128², PNG + npz with ground truth)", "",
              "| images | in memory, 1 core | end to end, 1 job | end to end, " + f"{cores} jobs | cost of writing |",
              "|---|---|---|---|---|",
              f"| {generation['images']} | {generation['in_memory_1_core']:.0f} img/s | "
              f"{generation['end_to_end_1_jobs']:.0f} img/s | {generation[f'end_to_end_{cores}_jobs']:.0f} img/s | "
              f"{100 * generation['writing_cost_1_job']:.0f} % |",
              "", "End-to-end rates include starting the worker processes.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("results/simulator"))
    parser.add_argument("--quick", action="store_true", help="10× fewer images (a smoke run)")
    args = parser.parse_args()
    command = "python -m stemsim.benchmarks.simulator" + (" --quick" if args.quick else "") + f" --out {args.out}"
    results = run(args.quick)
    results["command"] = command
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results, command))
    print(markdown(results, command))


if __name__ == "__main__":
    main()
