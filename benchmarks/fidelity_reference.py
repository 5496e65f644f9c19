"""Multislice reference for the ADF thickness law (#26): abTEM HAADF of crystalline slabs.

    python -m stemsim.benchmarks.fidelity_reference --out results/fidelity --checks

abTEM (``pip install -e ".[fidelity]"``) computes the HAADF signal — the fraction of the
incident beam that lands on a 70–200 mrad annulus — of laterally periodic slabs 0.4–20 nm
thick: Au and Pt off axis, on [001] and on [011], and amorphous carbon (the support), at
200 kV with a 20 mrad probe.  Thermal motion: frozen phonons, Gaussian displacements with the
Debye-model σ at 293 K.  One multislice run per configuration gives every thickness: the
detector reads the wave at the listed exit planes (each thickness a whole number of atomic
planes on the zone axes).

**What is averaged.**  A slab is periodic, and its HAADF signal averaged over probe positions
is what a flat region of that thickness shows.  Over a whole period the cross terms between
the probe's plane-wave components cancel, so that average is exactly Σ_k |A(k)|² D(k): the
detector signal D of each tilted plane wave k inside the aperture, weighted by the aperture
(abTEM's; aberrations and defocus drop out).  Each plane wave sees every atom of the cell, so
this is far less noisy than a few probe positions; a systematic sample (every 4th frequency
per direction, a random offset per configuration) keeps it cheap, and the standard error
over configurations covers both samplings (tests/test_fidelity_reference.py checks the
identity against abTEM's own probe scan).

**The potential.**  abTEM's infinite-projection potential places atoms on the grid with
bilinear weights; at 0.02–0.04 Å that puts the 70–200 mrad signal 4 % high (``checks``), so
each slice is summed here from the same scattering factors with the exact structure factor
(``exact_potential``), converged to ~1 % at 0.02 Å.

**Off axis** averages random orientations, one per configuration, at least 5° from every
<100>, <110>, <111>, <210>, <211>, <310> axis and 2.5° from every {111}, {200}, {220} plane:
a particle off any zone axis, with no planar channelling (the ``random`` cases, axes only,
show that within ~1.2° of such a plane the signal is 15–35 % higher).  The rotated lattice is
cut to the periodic box (a seam at its edge); ``count_over_bulk`` checks the atom count.

Output (``fidelity_laws``): thickness_law.json/.csv/.png with every setting, the versions, the
commands and wall times, the points with standard errors, the convergence checks and a law
per material and orientation class (``laws``: plain numbers the simulator can read).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from stemsim.benchmarks.fidelity_laws import refit, write_outputs

MATERIALS = {  # Debye temperatures for the displacements (K); C: amorphous, density g/cm³
    "Au": {"Z": 79, "debye_temperature": 165.0},
    "Pt": {"Z": 78, "debye_temperature": 240.0},
    "C": {"Z": 6, "amorphous_density": 2.0, "min_distance": 1.3},
}
CASES = (("Au", "off_axis"), ("Au", "001"), ("Au", "011"), ("Pt", "off_axis"), ("Pt", "001"), ("Pt", "011"),
         ("C", "amorphous"), ("Au", "random"), ("Pt", "random"))
SEED_KEYS = {case: key for key, case in enumerate(  # one random stream per case, fixed
    (("Au", "random"), ("Au", "001"), ("Au", "011"), ("Pt", "random"), ("Pt", "001"), ("Pt", "011"),
     ("C", "amorphous"), ("Au", "off_axis"), ("Pt", "off_axis")))}
THICKNESSES = (0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 5, 6, 7, 8, 9, 10, 12, 14, 16, 18, 20)  # nm (nearest slice)
SETTINGS = {
    "energy_eV": 200e3,
    "semiangle_mrad": 20.0,
    "aberrations": "none (the position average does not depend on them: see the module)",
    "detector_mrad": [70.0, 200.0],
    "sampling_A": 0.02,             # 418 mrad antialiased limit at 200 kV (0.04 Å reaches 209)
    "lateral_A": 11.0,              # the periodic cell: whole unit cells, at least this wide
    "configurations": 4,            # frozen phonons (off axis: one orientation each)
    "temperature_K": 293.0,
    "off_axis_slice_A": 2.0,
    "frequency_stride": 4,          # plane waves: every 4th aperture frequency per direction
    "off_axis_min_angle_deg": 5.0,
    "off_axis_avoid": [[1, 0, 0], [1, 1, 0], [1, 1, 1], [2, 1, 0], [2, 1, 1], [3, 1, 0]],
    "off_axis_plane_min_deg": 2.5,  # off_axis (not random): also this far from every low-index plane
    "off_axis_planes": [[1, 1, 1], [2, 0, 0], [2, 2, 0]],
    "parametrization": "lobato",
    "potential": "exact",           # structure factors summed exactly (exact_potential); "abtem": abTEM's
    "projection": "infinite",       # each atom's whole projected potential in the slice of its depth
    "seed": 26,
    "thicknesses_nm": list(THICKNESSES),
}


def debye_waller_sigma(symbol: str, temperature: float = 293.0) -> float:
    """Rms displacement along one axis (Å) of the Debye model: B = 8π² σ²."""
    from ase.data import atomic_masses, atomic_numbers
    from scipy.integrate import quad

    h, kb, amu = 6.62607015e-34, 1.380649e-23, 1.66053906660e-27
    theta = MATERIALS[symbol]["debye_temperature"]
    x = theta / temperature
    phi = quad(lambda s: s / np.expm1(s) if s > 0 else 1.0, 0.0, x)[0] / x
    mass = atomic_masses[atomic_numbers[symbol]] * amu
    b = 6 * h ** 2 / (mass * kb * theta) * (phi / x + 0.25) * 1e20  # Å²
    return float(np.sqrt(b / (8 * np.pi ** 2)))


def number_density(symbol: str) -> float:
    """Atoms per nm³: ASE's crystal, or the amorphous density for carbon."""
    if "amorphous_density" in MATERIALS[symbol]:
        from ase.data import atomic_masses, atomic_numbers

        grams = atomic_masses[atomic_numbers[symbol]] / 6.02214076e23
        return MATERIALS[symbol]["amorphous_density"] / grams * 1e-21
    from ase.build import bulk

    cell = bulk(symbol, cubic=True)
    return len(cell) / cell.get_volume() * 1e3


def _targets(dz: float, thicknesses) -> np.ndarray:
    """Whole numbers of slices nearest each thickness (nm), distinct, at least 1."""
    return np.unique(np.maximum(1, np.round(np.asarray(thicknesses) * 10 / dz).astype(int)))


def zone_axis_slab(symbol: str, axis: str, layers: int, lateral: float, slices_per_plane: int = 1):
    """An fcc slab with the beam on [001] or [011] (ASE's surface cut), ``layers`` atomic planes.

    Returns the atoms (each plane in the middle of its first slice) and the plane spacing (Å).
    """
    from ase.build import bulk, surface

    crystal = bulk(symbol, cubic=True)
    hkl = {"001": (0, 0, 1), "011": (0, 1, 1)}[axis]
    unit = surface(crystal, hkl, 1, periodic=True)  # one period along the beam, orthogonal cell
    planes = len(np.unique(np.round(unit.positions[:, 2], 6)))
    spacing = unit.cell[2, 2] / planes
    reps = [int(np.ceil(lateral / unit.cell[i, i] - 1e-9)) for i in (0, 1)]
    atoms = unit.repeat((reps[0], reps[1], int(np.ceil(layers / planes))))
    atoms = atoms[atoms.positions[:, 2] < layers * spacing - 1e-6]
    atoms.positions[:, 2] += spacing / slices_per_plane / 2
    atoms.set_cell([atoms.cell[0, 0], atoms.cell[1, 1], layers * spacing])
    atoms.pbc = True
    return atoms, spacing


def _directions(families) -> np.ndarray:
    """Every signed permutation of each family's indices (unit vectors)."""
    from itertools import permutations, product

    vectors = np.array([np.array(perm, float) * signs for family in families
                        for perm in set(permutations(family)) for signs in product((1, -1), repeat=3)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def nearest_axis_deg(direction, families) -> float:
    """The angle (degrees) between a direction and the nearest axis of the listed families."""
    cosines = np.abs(_directions(families) @ (np.asarray(direction, float) / np.linalg.norm(direction)))
    return float(np.degrees(np.arccos(min(cosines.max(), 1.0))))


def nearest_plane_deg(direction, families) -> float:
    """The angle (degrees) between a direction and the nearest plane of the listed families."""
    sines = np.abs(_directions(families) @ (np.asarray(direction, float) / np.linalg.norm(direction)))
    return float(np.degrees(np.arcsin(min(sines.min(), 1.0))))


def random_orientation(rng: np.random.Generator, settings: dict, planes: bool = True) -> np.ndarray:
    """A uniform rotation (crystal → lab) whose beam direction is off every listed zone axis
    and, with ``planes``, also off every listed low-index plane (no planar channelling)."""
    from scipy.spatial.transform import Rotation

    while True:
        rotation = Rotation.random(random_state=rng).as_matrix()
        beam = rotation.T @ np.array([0.0, 0.0, 1.0])  # the beam in crystal coordinates
        if nearest_axis_deg(beam, settings["off_axis_avoid"]) < settings["off_axis_min_angle_deg"]:
            continue
        if not planes or nearest_plane_deg(beam, settings["off_axis_planes"]) >= settings["off_axis_plane_min_deg"]:
            return rotation


def rotated_slab(symbol: str, rotation: np.ndarray, box, rng: np.random.Generator):
    """ASE's fcc lattice, rotated and randomly shifted, cut to the periodic box (Å)."""
    from ase import Atoms
    from ase.build import bulk

    crystal = bulk(symbol, cubic=True)
    a = crystal.cell[0, 0]
    box = np.asarray(box, float)
    corners = np.array(np.meshgrid(*[[0, s] for s in box], indexing="ij")).reshape(3, -1).T
    inside = (corners - box / 2) @ rotation  # crystal coordinates of the box corners
    lo, hi = np.floor(inside.min(0) / a) - 1, np.ceil(inside.max(0) / a) + 1
    cells = np.stack(np.meshgrid(*[np.arange(l, h) for l, h in zip(lo, hi)], indexing="ij"), -1).reshape(-1, 3)
    points = (cells[:, None, :] * a + crystal.positions[None] + rng.uniform(0, a, 3)).reshape(-1, 3)
    lab = points @ rotation.T + box / 2
    keep = np.all((lab >= 0) & (lab < box), axis=1)
    return Atoms([symbol] * int(keep.sum()), positions=lab[keep], cell=box, pbc=True)


def amorphous_slab(symbol: str, box, rng: np.random.Generator):
    """Random atoms at the amorphous density, none closer than ``min_distance`` (Å)."""
    from ase import Atoms
    from scipy.spatial import cKDTree

    box = np.asarray(box, float)
    wanted = int(round(number_density(symbol) * 1e-3 * np.prod(box)))
    dmin = MATERIALS[symbol]["min_distance"]
    period = np.array([box[0], box[1], 4 * box[2]])  # periodic in x, y only
    points = np.empty((0, 3))
    while len(points) < wanted:
        new = rng.uniform(0, 1, (2 * (wanted - len(points)), 3)) * box
        if len(points):
            far = cKDTree(points, boxsize=period).query(new, distance_upper_bound=dmin)[0] > dmin
            new = new[far]
        keep = np.ones(len(new), bool)  # drop the later one of each close pair among the new ones
        for i, j in cKDTree(new, boxsize=period).query_pairs(dmin):
            if keep[i] and keep[j]:
                keep[max(i, j)] = False
        points = np.vstack([points, new[keep][: wanted - len(points)]])
    return Atoms([symbol] * len(points), positions=points, cell=box, pbc=True)


def _displaced(atoms, sigma: float, rng: np.random.Generator):
    atoms = atoms.copy()
    atoms.positions += rng.normal(0.0, sigma, atoms.positions.shape)
    atoms.positions[:, 2] = np.clip(atoms.positions[:, 2], 0.0, atoms.cell[2, 2] - 1e-6)
    return atoms


def build_case(material: str, orientation: str, settings: dict):
    """How to make one configuration of a case: ``make(rng) -> (atoms, note)``, the slice
    thickness (Å), the exit slices (counts of slices) and what was built (``info``)."""
    thick = max(settings["thicknesses_nm"]) * 10
    info: dict = {}
    if orientation in ("001", "011"):
        per_plane = settings.get("zone_slices_per_plane", 1)
        _, spacing = zone_axis_slab(material, orientation, 1, settings["lateral_A"])
        layers = int(np.round(thick / spacing))
        atoms, spacing = zone_axis_slab(material, orientation, layers, settings["lateral_A"], per_plane)
        dz = spacing / per_plane
        sigma = debye_waller_sigma(material, settings["temperature_K"])
        info.update(sigma_A=sigma, layers=layers, plane_spacing_A=spacing)

        def make(rng):
            return _displaced(atoms, sigma, rng), None
    else:
        if orientation == "amorphous":
            side = settings["lateral_A"]
        else:
            from ase.build import bulk

            a = bulk(material, cubic=True).cell[0, 0]
            side = np.ceil(settings["lateral_A"] / a - 1e-9) * a
        slices = int(np.ceil(thick / settings["off_axis_slice_A"]))
        dz = thick / slices
        box = (side, side, thick)
        info["bulk_atoms"] = number_density(material) * 1e-3 * np.prod(box)
        if orientation == "amorphous":
            def make(rng):
                return amorphous_slab(material, box, rng), None
        else:
            sigma = debye_waller_sigma(material, settings["temperature_K"])
            info["sigma_A"] = sigma

            def make(rng):
                rotation = random_orientation(rng, settings, planes=orientation == "off_axis")
                atoms = _displaced(rotated_slab(material, rotation, box, rng), sigma, rng)
                beam = rotation.T @ [0.0, 0.0, 1.0]
                return atoms, {"beam_direction_crystal": beam.round(4).tolist(),
                               "nearest_plane_deg": round(nearest_plane_deg(beam, settings["off_axis_planes"]), 2)}
    total = int(np.round(thick / dz))
    per_plane = settings.get("zone_slices_per_plane", 1) if orientation in ("001", "011") else 1
    exits = _targets(dz * per_plane, settings["thicknesses_nm"]) * per_plane  # whole atomic planes
    info["slice_A"] = float(dz)
    return make, float(dz), exits[exits <= total], info


def exact_potential(atoms, sampling: float, dz: float, exit_slices, parametrization: str = "lobato"):
    """The slices' projected potential with the structure factor summed exactly.

    abTEM's own ``Potential`` (infinite projection) places each atom on the grid by bilinear
    weights and divides by a sinc: at 0.02–0.04 Å that puts the 70–200 mrad signal 3–5 % high
    (see ``checks``).  Here each slice is V(k) = f(k) · Σ_j exp(−2πi k·r_j) with abTEM's
    projected scattering factors f (same parametrization, same units), a matrix product per
    slice; atoms go to the slice that holds their depth, as in abTEM's infinite projection.
    """
    import abtem
    from ase.data import chemical_symbols
    from abtem.integrals import ScatteringFactorProjectionIntegrals

    lengths = atoms.cell.lengths()
    gpts = tuple(int(np.ceil(lengths[i] / sampling - 1e-9)) for i in (0, 1))
    spacing = (lengths[0] / gpts[0], lengths[1] / gpts[1])
    slices = int(np.round(lengths[2] / dz))
    integrals = ScatteringFactorProjectionIntegrals(parametrization)
    kx, ky = np.fft.fftfreq(gpts[0]), np.fft.fftfreq(gpts[1])  # cycles per pixel
    array = np.zeros((slices, *gpts), np.float32)
    index = np.clip((atoms.positions[:, 2] // dz).astype(int), 0, slices - 1)
    for number in np.unique(atoms.numbers):
        factor = integrals.get_scattering_factor(chemical_symbols[number], gpts, spacing, "cpu")
        chosen = atoms.numbers == number
        for i in np.unique(index[chosen]):
            xy = atoms.positions[chosen & (index == i), :2]
            phase_x = np.exp(-2j * np.pi * np.outer(xy[:, 0] / spacing[0], kx))
            phase_y = np.exp(-2j * np.pi * np.outer(xy[:, 1] / spacing[1], ky))
            array[i] += np.fft.ifft2(factor * (phase_x.T @ phase_y)).real / (spacing[0] * spacing[1])
    return abtem.PotentialArray(array, slice_thickness=dz, sampling=spacing, exit_planes=tuple(exit_slices))


def aperture(potential, settings: dict):
    """The probe's reciprocal-space weights |A(k)|² (abTEM's aperture, summing to 1) and
    their frequency indices (signed), on the potential's grid."""
    import abtem

    probe = abtem.Probe(energy=settings["energy_eV"], semiangle_cutoff=settings["semiangle_mrad"])
    probe.grid.match(potential)
    outer = settings["detector_mrad"][1]
    if min(probe.cutoff_angles) < outer:
        raise ValueError(f"sampling_A: the grid reaches {min(probe.cutoff_angles):.0f} mrad, under {outer}")
    weights = np.abs(np.fft.fft2(np.asarray(probe.build(lazy=False).array))) ** 2
    index = np.argwhere(weights > 1e-9 * weights.max())
    gpts = np.array(weights.shape)
    signed = np.where(index > gpts // 2, index - gpts, index)
    return weights[index[:, 0], index[:, 1]] / weights.sum(), signed, float(min(probe.cutoff_angles))


def plane_wave_average(atoms, dz: float, exits, settings: dict, stride: int = 1, offset=(0, 0),
                       workers: int = 1, details: dict | None = None) -> np.ndarray:
    """HAADF of one configuration, averaged over probe positions, at each exit slice.

    Averaged over a whole period of the cell, the cross terms between the probe's plane-wave
    components vanish, so the mean over positions is Σ_k |A(k)|² D(k): the aperture-weighted
    detector signal of each tilted plane wave (exact; the aberrations drop out).  ``stride``
    keeps every stride-th frequency in each direction (from ``offset``), a systematic sample.
    """
    import abtem
    from abtem.core.axes import OrdinalAxis

    exit_slices = tuple(int(k) - 1 for k in exits)
    if settings["potential"] == "exact":
        potential = exact_potential(atoms, settings["sampling_A"], dz, exit_slices, settings["parametrization"])
    else:  # abTEM's own
        potential = abtem.Potential(atoms, sampling=settings["sampling_A"], slice_thickness=dz, exit_planes=exit_slices,
                                    parametrization=settings["parametrization"], projection="infinite")
    weights, k, max_angle = aperture(potential, settings)
    keep = np.all((k - np.asarray(offset)) % stride == 0, axis=1)
    if details is not None:
        details.update(gpts=[int(g) for g in potential.gpts], slices=potential.num_slices, max_angle_mrad=max_angle,
                       plane_waves_in_aperture=len(k), plane_waves=int(keep.sum()))
    weights, k = weights[keep], k[keep]
    nx, ny = potential.gpts
    x, y = np.arange(nx)[:, None] / nx, np.arange(ny)[None, :] / ny
    array = np.exp(2j * np.pi * (k[:, 0, None, None] * x + k[:, 1, None, None] * y)) / (nx * ny)
    waves = abtem.Waves(array.astype(np.complex64), energy=settings["energy_eV"], sampling=potential.sampling,
                        ensemble_axes_metadata=[OrdinalAxis(values=tuple(range(len(k))))])
    inner, outer = settings["detector_mrad"]
    detected = waves.multislice(potential, detectors=abtem.AnnularDetector(inner=inner, outer=outer))
    signal = np.asarray(detected.compute(scheduler="threads", num_workers=workers).array, dtype=float)
    signal = signal.reshape(len(exits), len(k))  # (exit planes, plane waves)
    return signal @ weights / weights.sum()


def thickness_series(material: str, orientation: str, settings: dict | None = None, workers: int = 1) -> dict:
    """abTEM HAADF (fraction of the incident beam) against thickness for one case.

    Every configuration is a new frozen-phonon draw (off axis: also a new orientation and
    lattice offset; carbon: a new amorphous structure) with its own random frequency offset.
    Returns thickness (nm), intensity (mean over configurations), sem, per_configuration and
    what was built (``info``).
    """
    import abtem

    settings = {**SETTINGS, **(settings or {})}
    abtem.config.set({"diagnostics.progress_bar": False, "precision": "float32"})
    rng = np.random.default_rng([settings["seed"], SEED_KEYS.get((material, orientation), 99)])
    make, dz, exits, info = build_case(material, orientation, settings)
    stride = settings["frequency_stride"]
    start, cpu = time.perf_counter(), time.process_time()
    rows, counts, notes, waves = [], [], [], []
    details: dict = {}
    for _ in range(settings["configurations"]):
        atoms, note = make(rng)
        offset = rng.integers(0, stride, 2)
        rows.append(plane_wave_average(atoms, dz, exits, settings, stride, offset, workers, details))
        counts.append(len(atoms))
        notes.append(note)
        waves.append(details.pop("plane_waves"))
    per_config, n = np.array(rows), len(rows)
    if "bulk_atoms" in info:
        info["count_over_bulk"] = float(np.mean(counts) / info.pop("bulk_atoms"))
    if notes[0] is not None:  # off axis and random: each configuration's orientation
        info["orientations"] = notes
    info.update(atoms=counts, cell_A=[float(v) for v in atoms.cell.lengths()], **details, plane_waves=waves,
                wall_s=time.perf_counter() - start, cpu_s=time.process_time() - cpu)
    return {
        "material": material, "orientation": orientation,
        "Z": MATERIALS[material]["Z"], "number_density_per_nm3": number_density(material),
        "thickness_nm": (exits * dz / 10).tolist(),
        "intensity": per_config.mean(0).tolist(),
        "sem": (per_config.std(0, ddof=1) / np.sqrt(n) if n > 1 else np.zeros(len(exits))).tolist(),
        "per_configuration": per_config.tolist(),
        "info": info,
    }


def versions() -> dict:
    import abtem, ase, scipy  # noqa: E401

    return {"abtem": abtem.__version__, "ase": ase.__version__, "numpy": np.__version__, "scipy": scipy.__version__,
            "python": platform.python_version(), "machine": f"{platform.machine()}, {os.cpu_count()} cores"}


CHECKS = {  # convergence, to 10 nm: one configuration, one setting changed from the reference
    "reference": ("Au", "001", {}),
    "sampling_0.015A": ("Au", "001", {"sampling_A": 0.015}),
    "lateral_16A": ("Au", "001", {"lateral_A": 16.0}),
    "abtem_potential": ("Au", "001", {"potential": "abtem"}),
    "abtem_potential_0.04A": ("Au", "001", {"potential": "abtem", "sampling_A": 0.04}),
    "off_axis_reference": ("Au", "random", {}),
    "off_axis_slice_1A": ("Au", "random", {"off_axis_slice_A": 1.0}),
    "off_axis_abtem_potential": ("Au", "random", {"potential": "abtem"}),
}
CHECK_THICKNESSES = tuple(t for t in THICKNESSES if t <= 10)


def run_checks(settings: dict, workers: int) -> dict:
    """Each check with one configuration (same seed: the same atoms where the cell is the same);
    ``change`` is I/I_reference − 1 at the reference's thicknesses."""
    checks, reference = {}, {}
    for name, (material, orientation, change) in CHECKS.items():
        same = {"thicknesses_nm": reference[orientation]["thickness_nm"] if orientation in reference
                else list(CHECK_THICKNESSES)}
        series = thickness_series(material, orientation, {**settings, **change, **same, "configurations": 1}, workers)
        base = reference.setdefault(orientation, series)
        entry = {"case": f"{material}:{orientation}", "setting": change, "thickness_nm": series["thickness_nm"],
                 "intensity": series["intensity"], "wall_s": series["info"]["wall_s"]}
        if series is not base:
            ratio = np.interp(base["thickness_nm"], series["thickness_nm"], series["intensity"]) / np.array(base["intensity"])
            entry["change"] = (ratio - 1).round(5).tolist()
            entry["max_abs_change"] = float(np.abs(ratio - 1).max())
        checks[name] = entry
        print(f"check {name}: {entry.get('max_abs_change', 0):.2%} ({entry['wall_s']:.0f} s)", file=sys.stderr)
    return checks


FULL_COMMAND = "python -m stemsim.benchmarks.fidelity_reference --out results/fidelity --checks"


def _merge(path: Path, payload: dict, run: dict) -> dict:
    """Put this run's cases (and checks) into the table at ``path``, made with the same settings."""
    old = json.loads(path.read_text())
    if old["settings"] != payload["settings"]:
        raise SystemExit(f"--update: {path} was made with other settings; rerun without --update")
    cases = {(c["material"], c["orientation"]): c for c in old["cases"]}
    cases.update({(c["material"], c["orientation"]): c for c in payload["cases"]})
    old["cases"] = [cases[key] for key in CASES if key in cases]
    old.update(versions=payload["versions"], command=FULL_COMMAND, runs=old.get("runs", []) + [run])
    if "checks" in payload:
        old["checks"] = payload["checks"]
    return old


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--configurations", type=int, default=SETTINGS["configurations"])
    parser.add_argument("--cases", default=None, help="comma-separated material:orientation (default: all)")
    parser.add_argument("--checks", action="store_true", help="also run the convergence checks (~5 min)")
    parser.add_argument("--update", action="store_true", help="merge these cases into OUT/thickness_law.json")
    parser.add_argument("--workers", type=int, default=1, help="threads for abTEM (default 1)")
    parser.add_argument("--refit", action="store_true",
                        help="no abTEM: refit the laws of OUT/thickness_law.json and rewrite the files")
    args = parser.parse_args(argv)
    path = args.out / "thickness_law.json"
    if args.refit:
        return write_outputs(args.out, refit(json.loads(path.read_text()))) or 0
    settings = {**SETTINGS, "configurations": args.configurations}
    chosen = [tuple(c.split(":")) for c in args.cases.split(",")] if args.cases else list(CASES)
    start, cpu = time.perf_counter(), time.process_time()
    cases = []
    for material, orientation in chosen:
        series = thickness_series(material, orientation, settings, workers=args.workers)
        cases.append(series)
        print(f"{material:2s} {orientation:9s} I/t {series['intensity'][0] / series['thickness_nm'][0]:.5f} -> "
              f"{series['intensity'][-1] / series['thickness_nm'][-1]:.5f} /nm ({series['info']['wall_s']:.0f} s)",
              file=sys.stderr)
    payload = {"description": __doc__.split("\n\n")[0].strip(), "command": FULL_COMMAND, "settings": settings,
               "versions": versions(), "cases": cases}
    if args.checks:
        payload["checks"] = run_checks(settings, args.workers)
    run = {"command": "python -m stemsim.benchmarks.fidelity_reference "
                      + " ".join(argv if argv is not None else sys.argv[1:]),
           "cases": [f"{m}:{o}" for m, o in chosen], "checks": args.checks, "workers": args.workers,
           "wall_s": time.perf_counter() - start, "cpu_s": time.process_time() - cpu}
    payload = _merge(path, payload, run) if args.update else {**payload, "runs": [run]}
    payload["wall_s"] = sum(r["wall_s"] for r in payload["runs"])
    payload["cpu_s"] = sum(r["cpu_s"] for r in payload["runs"])
    args.out.mkdir(parents=True, exist_ok=True)  # the points first: --refit redoes the rest
    path.write_text(json.dumps(payload, indent=1) + "\n")
    write_outputs(args.out, refit(payload))
    print(f"wrote {path} ({run['wall_s']:.0f} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
