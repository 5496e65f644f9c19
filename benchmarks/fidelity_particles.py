"""Multislice references of whole particles (#26 §4): abTEM HAADF images on stemsim's scan grid.

    OMP_NUM_THREADS=1 nice -n 5 python -m stemsim.benchmarks.fidelity_particles --out results/fidelity/particles

writes one ``<case>.npz`` per case of :data:`CASES` (skipping those present: resumable), then
``cases.json`` (the human-readable list) and ``probe.npz`` (abTEM's probe intensity, that the
bench ``stemsim.benchmarks.fidelity`` fits stemsim's ``Probe`` to).

**Optics** (as the slab reference, ``fidelity_reference.SETTINGS``): 200 kV, a 20 mrad
aberration-free probe at focus on the entrance surface, HAADF = fraction of the beam on
70–200 mrad.

**Atoms**, built here and not by stemsim's atom filler: ASE's cubic cell of the element
(``ase.build.bulk(symbol, cubic=True)``), tiled, with its axes along the shape's axes and a
lattice point at the shape's centre; an atom is kept when it lies inside the stemsim solid (the
half-spaces and piece table of ``shape.kernel_layout``, tolerance 1e-9 nm). The cube edges are
(n + ½)·a, so that the faces lie half-way between atomic planes and the projected thickness of
stemsim's solid is the number of planes × their spacing. The atoms are turned by the case's
orientation matrix R (object → microscope, beam along z): identity on [001], 45° about x on
[011], a random rotation off every low-index axis (≥ 5°) and plane (≥ 2.5°) off axis
(``fidelity_reference.random_orientation``, seeded per case). Frozen phonons: independent
Gaussian displacements with the Debye σ at 293 K (``fidelity_reference.debye_waller_sigma``:
Au 0.090 Å, Pt 0.062 Å), one draw per configuration. Carbon cases: an amorphous slab under the
particle (after it along the beam), periodic across the box, 2.0 g/cm³, no two atoms closer
than 1.3 Å (``fidelity_reference.amorphous_slab``), redrawn per configuration.

**Numerics.** Potential: ``fidelity_reference.exact_potential`` (abTEM's Lobato scattering
factors, structure factor summed exactly: abTEM's own infinite projection is ~4 % high at
0.02–0.04 Å) at **0.02 Å**, as the slab reference. 0.04 Å (abTEM's antialiased grid then reaches
209 mrad, which looks enough for a 200 mrad detector) is not converged: on the same atoms the
HAADF signal is 9 % high on Au [001] (11-plane slab, position average 0.0299 against 0.0274 at
0.02 Å; the particle's interior 0.0292 against 0.0268) and 11.5 % high off axis (a 1.2–2.4 nm
slab), while 0.015 Å moves it by −0.9 % (the slab reference's check). The first set of these
references was made at 0.04 Å and is kept, marked, in ``results/fidelity/particles-0.04A``.
The S-matrix is propagated on the full grid and kept to 210 mrad (``downsample_mrad``; the
detector ends at 200): a quarter of the memory. Slices: one atomic plane each on the zone axes
(2.04 Å [001], 1.44 Å Au [011]; planes mid-slice), ≤ 2 Å off axis and in the carbon. PRISM
(``abtem.SMatrix``, ``interpolation`` f per axis: the largest divisor of the grid ≤ box/10 Å,
so each probe window is 10–16 Å): a 2.24 nm Au cube on [001], 30 positions, f = 2 (10 Å
window) against f = 1 (exact): max |Δ| 1.9 % of the peak, mean +1.4 % (a 6.8 Å window: 2.1 %;
5.1 Å: 2.6 %, 36 % at low pixels); f = 3 against the plain probe scan on 400 interior pixels:
mean +0.7 %. PRISM, not the plain probe scan: the scan propagates one wave per position
(2,400–6,400 here), PRISM 170–370 plane waves per configuration. Two frozen-phonon
configurations: 12–20 min per case on one core at 0.02 Å; more would not fit. Their images are
stored too: their difference is the reference's own noise (``fidelity.ceiling``: R² ceilings
~0.97 raw, ~0.99 smoothed). A mean over pixels is not a position average on a zone axis: 0.5 Å
pixels sample the 2.04 Å column period unevenly (on the Au cube 4.7 % above the average over
a period); the images are right at their pixels, a smooth model cannot follow that.

**Cases** (:data:`CASES`, 9): Au and Pt; cube, cuboctahedron (a cube truncated at depth 0.5 on
all 8 corners), truncated cube (depth 0.25) and tetrahedron (stemsim's ``Pyramid(sides=3)``,
registry ``tetrahedron``: base in the shape's xy plane, so with the lattice along the shape's
axes its faces are not {111}); cube edges 1.8–2.2 nm (4.5 or 5.5 a), tetrahedron edges 3 nm;
on [001], on [011] and off axis, four of them on 2 nm of carbon. 2–3 nm, not up to 6: the
cost grows as the box⁴, and the whole set had to fit ~50 min of one core (it took 38 min).

**Scan grid**: exactly stemsim's pixel centres, ``Microscope(pixel_size=0.05, size=(H, W))
.beam_positions()`` with the particle at (0, 0) and its centre at the box centre. The field
holds the projected particle plus 0.3 nm; the box adds 0.3 nm more per side (more than half a
probe window: no wrap-round of the window onto the particle).

Stored per case (``np.savez``, plain arrays; load with ``allow_pickle=False``): ``image``
(H, W) HAADF fraction (mean of the configurations), ``image_configs`` (C, H, W),
``positions`` (N, 3) nm of the undisplaced atoms in the microscope frame (origin: the particle
centre; carbon included), ``numbers`` (N,), ``pixel_size`` nm, ``size`` (H, W),
``beam_x``/``beam_y`` (H, W) nm, ``orientation`` (3, 3), ``shape_name``/``shape_size``/
``truncate_depth`` (``build_shape(name, size)``, every vertex truncated at that depth when > 0),
``material``, ``carbon_nm``, ``settings_json`` and ``wall_s``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from stemsim.benchmarks.fidelity_reference import (SETTINGS as SLAB_SETTINGS, amorphous_slab, debye_waller_sigma,
                                                  exact_potential, random_orientation, versions)
from stemsim.simulator.shapes import build_shape

A_AU, A_PT = 4.08, 3.92  # ASE's cubic lattice constants, Å (checked against bulk() at run time)
SETTINGS = {
    "energy_eV": 200e3, "semiangle_mrad": 20.0, "detector_mrad": [70.0, 200.0], "aberrations": "none",
    "pixel_size_nm": 0.05, "field_margin_nm": 0.3, "box_margin_nm": 0.3,
    "sampling_A": 0.02, "downsample_mrad": 210.0, "slice_A": 2.0, "window_A": 10.0, "configurations": 2, "temperature_K": 293.0,
    "carbon_density_g_cm3": 2.0, "carbon_min_distance_A": 1.3, "parametrization": "lobato",
    "potential": "exact (fidelity_reference.exact_potential)", "method": "PRISM (abtem.SMatrix)", "seed": 264,
}
FAST_SIZES = (480, 512, 540, 576, 600, 640, 675, 720, 768, 800, 864, 900, 960, 1000, 1024, 1080, 1152, 1200,
              1250, 1280, 1350, 1440, 1500, 1536, 1600, 1728, 1800, 1920, 2000, 2048, 2160, 2304, 2400, 2560,
              2592, 2700, 2880, 3000, 3072, 3200, 3456, 3600)
PROBE_SAMPLING_A = 0.04  # the probe profile's grid: 1024 points span 41 Å, enough for its 1.5 nm of tail
CASES = (  # cheapest first; sizes: the cube edges are (n + 1/2) a, the pyramids' base edge
    {"name": "au_cube_001", "material": "Au", "shape": "cuboid", "size": 5.5 * A_AU / 10, "truncate": 0.0,
     "orientation": "001", "carbon_nm": 0.0},
    {"name": "au_cuboctahedron_011", "material": "Au", "shape": "cuboid", "size": 5.5 * A_AU / 10,
     "truncate": 0.5, "orientation": "011", "carbon_nm": 0.0},
    {"name": "pt_tetrahedron_001", "material": "Pt", "shape": "tetrahedron", "size": 3.0, "truncate": 0.0,
     "orientation": "001", "carbon_nm": 0.0},
    {"name": "pt_truncated_cube_001_carbon", "material": "Pt", "shape": "cuboid", "size": 5.5 * A_PT / 10,
     "truncate": 0.25, "orientation": "001", "carbon_nm": 2.0},
    {"name": "au_truncated_cube_off_axis", "material": "Au", "shape": "cuboid", "size": 4.5 * A_AU / 10,
     "truncate": 0.25, "orientation": "off_axis", "carbon_nm": 0.0},
    {"name": "pt_cuboctahedron_011_carbon", "material": "Pt", "shape": "cuboid", "size": 5.5 * A_PT / 10,
     "truncate": 0.5, "orientation": "011", "carbon_nm": 2.0},
    {"name": "au_tetrahedron_off_axis_carbon", "material": "Au", "shape": "tetrahedron", "size": 3.0,
     "truncate": 0.0, "orientation": "off_axis", "carbon_nm": 2.0},
    {"name": "pt_cube_off_axis", "material": "Pt", "shape": "cuboid", "size": 4.5 * A_PT / 10, "truncate": 0.0,
     "orientation": "off_axis", "carbon_nm": 0.0},
    {"name": "au_cube_011_carbon", "material": "Au", "shape": "cuboid", "size": 4.5 * A_AU / 10, "truncate": 0.0,
     "orientation": "011", "carbon_nm": 2.0},
)
ZONE_SPACING = {"001": 0.5, "011": 0.5 / np.sqrt(2)}  # atomic-plane spacing along the beam / a (fcc)


def case_shape(case: dict):
    """The stemsim shape of a case: ``build_shape(shape, size)``, every vertex truncated at
    ``truncate`` (fraction of the adjacent edges) when it is > 0."""
    shape = build_shape(case["shape"], float(case["size"]))
    depth = float(case.get("truncate", 0.0))
    return shape.truncate(list(range(shape.n_sites)), depth) if depth > 0 else shape


def inside_solid(shape, points: np.ndarray, tolerance: float = 1e-9) -> np.ndarray:
    """Whether each point (n, 3) nm, object frame, lies in the solid of ``shape.kernel_layout``:
    the union of the + pieces minus the union of the − pieces (each piece: its half-spaces
    ``n·p <= d`` and its quadric ``(p - c)ᵀ A (p - c) <= 1``)."""
    layout = shape.kernel_layout
    points = np.asarray(points, float)
    added = np.zeros(len(points), bool)
    removed = np.zeros(len(points), bool)
    for first, end, quadric, sign in layout.table:
        inside = np.all(points @ layout.normals[first:end].T <= layout.offsets[first:end] + tolerance, axis=1)
        if quadric >= 0:
            centre, matrix = layout.quadrics[quadric]
            u = points - centre
            inside &= np.einsum("ni,ij,nj->n", u, matrix, u) <= 1 + tolerance
        if sign > 0:
            added |= inside
        else:
            removed |= inside
    return added & ~removed


def lattice_atoms(symbol: str, shape) -> np.ndarray:
    """ASE's cubic cell of ``symbol`` tiled with a lattice point at the origin, cut to the solid.

    Returns (n, 3) nm, object frame (lattice axes = the shape's axes)."""
    from ase.build import bulk

    cell = bulk(symbol, cubic=True)
    a = cell.cell[0, 0] / 10
    reach = int(np.ceil(shape.bounding_radius / a)) + 1
    grid = np.arange(-reach, reach + 1)
    corners = np.stack(np.meshgrid(grid, grid, grid, indexing="ij"), -1).reshape(-1, 3) * a
    points = (corners[:, None, :] + cell.positions[None] / 10).reshape(-1, 3)
    return points[inside_solid(shape, points)]


def orientation_matrix(kind: str, rng: np.random.Generator) -> np.ndarray:
    """R (3, 3), object → microscope frame: [001] identity, [011] 45° about x (the shape's
    (0, 1, 1) onto the beam), ``off_axis`` a random rotation off the low-index axes and planes."""
    if kind == "001":
        return np.eye(3)
    if kind == "011":
        c = s = np.sqrt(0.5)
        return np.array([[1.0, 0, 0], [0, c, -s], [0, s, c]])
    if kind == "off_axis":
        return random_orientation(rng, SLAB_SETTINGS, planes=True)
    raise ValueError(f"orientation: expected 001, 011 or off_axis, got {kind!r}")


def _fast(n: float) -> int:
    return next(s for s in FAST_SIZES if s >= n)


def layout(case: dict, settings: dict, rng: np.random.Generator) -> dict:
    """Everything but the multislice: atoms, orientation, field, box, grid and slices."""
    from ase.build import bulk

    a = bulk(case["material"], cubic=True).cell[0, 0]
    expected = {"Au": A_AU, "Pt": A_PT}[case["material"]]
    if abs(a - expected) > 1e-3:
        raise ValueError(f"lattice: ASE's {case['material']} constant {a} Å is not {expected}")
    shape = case_shape(case)
    rotation = orientation_matrix(case["orientation"], rng)
    atoms = lattice_atoms(case["material"], shape) @ rotation.T  # nm, microscope frame
    p = settings["pixel_size_nm"]
    extent = 2 * np.abs(atoms[:, :2]).max(0) + 2 * settings["field_margin_nm"]  # (x, y), centred
    width, height = (2 * np.ceil(extent / p / 2)).astype(int)
    field = np.array([width, height]) * p
    gpts = tuple(_fast((f + 2 * settings["box_margin_nm"]) * 10 / settings["sampling_A"]) for f in field)
    box = np.array(gpts) * settings["sampling_A"]  # Å: gpts · sampling exactly
    interpolation = tuple(max(1, int(b // settings["window_A"])) for b in box)
    interpolation = tuple(next(f for f in range(k, 0, -1) if g % f == 0) for k, g in zip(interpolation, gpts))
    if case["orientation"] in ZONE_SPACING:
        dz = ZONE_SPACING[case["orientation"]] * a
    else:
        height_a = np.ptp(atoms[:, 2]) * 10 + 1.0
        dz = height_a / np.ceil(height_a / settings["slice_A"])
    return {"shape": shape, "rotation": rotation, "atoms": atoms, "size": (int(height), int(width)), "gpts": gpts,
            "box_A": box, "interpolation": interpolation, "dz_A": float(dz), "a_A": float(a)}


def _section(positions_a: np.ndarray, numbers, box, dz: float, slices: int, settings: dict) -> np.ndarray:
    from ase import Atoms

    atoms = Atoms(numbers=numbers, positions=positions_a, cell=[box[0], box[1], dz * slices], pbc=True)
    return np.asarray(exact_potential(atoms, settings["sampling_A"] * (1 + 1e-12), dz, (slices - 1,),
                                      settings["parametrization"]).array)


def configuration_potential(plan: dict, case: dict, settings: dict, rng: np.random.Generator):
    """One frozen-phonon configuration: (PotentialArray, carbon atoms (m, 3) nm microscope frame)."""
    import abtem
    from ase.data import atomic_numbers

    box, dz = plan["box_A"], plan["dz_A"]
    sigma = debye_waller_sigma(case["material"], settings["temperature_K"])
    xyz = plan["atoms"] * 10 + rng.normal(0.0, sigma, plan["atoms"].shape)  # Å
    zone = case["orientation"] in ZONE_SPACING
    top = plan["atoms"][:, 2].min() * 10 - (dz / 2 if zone else 0.5)  # zone axis: planes mid-slice
    slices = int(np.round((plan["atoms"][:, 2].max() * 10 - top) / dz + (0.5 if zone else 0.0)))
    slices = max(slices, int(np.ceil((plan["atoms"][:, 2].max() * 10 + 0.5 - top) / dz - 1e-9)))
    local = xyz - [-box[0] / 2, -box[1] / 2, top]
    arrays = [_section(local, [atomic_numbers[case["material"]]] * len(xyz), box, dz, slices, settings)]
    thickness = [dz] * slices
    carbon = np.zeros((0, 3))
    if case["carbon_nm"] > 0:
        film = case["carbon_nm"] * 10
        slab = amorphous_slab("C", (box[0], box[1], film), rng).positions
        n_c = int(np.ceil(film / settings["slice_A"] - 1e-9))
        arrays.append(_section(slab, [6] * len(slab), box, film / n_c, n_c, settings))
        thickness += [film / n_c] * n_c
        carbon = (slab - [box[0] / 2, box[1] / 2, 0.0] + [0, 0, top + slices * dz]) / 10
    array = np.concatenate(arrays).astype(np.float32)
    potential = abtem.PotentialArray(array, slice_thickness=tuple(thickness),
                                     sampling=(box[0] / plan["gpts"][0], box[1] / plan["gpts"][1]))
    return potential, carbon


def run_case(case: dict, settings: dict | None = None) -> dict:
    """The abTEM HAADF image of one case on stemsim's scan grid (module docstring)."""
    import abtem

    from stemsim.simulator.microscope import Microscope

    settings = {**SETTINGS, **(settings or {})}
    abtem.config.set({"diagnostics.progress_bar": False, "precision": "float32", "fftw.threads": 1})
    start = time.perf_counter()
    rng = np.random.default_rng([settings["seed"], [c["name"] for c in CASES].index(case["name"])])
    plan = layout(case, settings, rng)
    scope = Microscope(pixel_size=settings["pixel_size_nm"], size=plan["size"])
    xs, ys = scope.beam_positions()
    box = plan["box_A"]
    scan = np.stack([box[0] / 2 + xs.ravel() * 10, box[1] / 2 + ys.ravel() * 10], axis=1)  # Å, row-major
    detector = abtem.AnnularDetector(*settings["detector_mrad"])
    images, carbon = [], np.zeros((0, 3))
    for _ in range(settings["configurations"]):
        potential, carbon = configuration_potential(plan, case, settings, rng)
        # propagated at the full grid, kept to 210 mrad (the detector ends at 200): a quarter of the memory
        smatrix = abtem.SMatrix(semiangle_cutoff=settings["semiangle_mrad"], energy=settings["energy_eV"],
                                potential=potential, interpolation=plan["interpolation"],
                                downsample=settings["downsample_mrad"])
        measured = smatrix.scan(scan=abtem.CustomScan(scan), detectors=detector)
        values = np.asarray(measured.compute(scheduler="threads", num_workers=1).array, dtype=float)
        images.append(values.reshape(plan["size"]))
    from ase.data import atomic_numbers

    numbers = np.concatenate([np.full(len(plan["atoms"]), atomic_numbers[case["material"]]),
                              np.full(len(carbon), 6)])
    used = {**settings, "gpts": list(plan["gpts"]), "box_A": [float(b) for b in box], "slice_A": plan["dz_A"],
            "interpolation": list(plan["interpolation"]), "probe_window_A": [float(b / f) for b, f in
                                                                             zip(box, plan["interpolation"])],
            "debye_sigma_A": debye_waller_sigma(case["material"], settings["temperature_K"]),
            "lattice_constant_A": plan["a_A"], "versions": versions()}
    return {"image": np.mean(images, axis=0), "image_configs": np.array(images),
            "positions": np.vstack([plan["atoms"], carbon]), "numbers": numbers.astype(np.int64),
            "particle_atoms": np.int64(len(plan["atoms"])), "pixel_size": np.float64(settings["pixel_size_nm"]),
            "size": np.array(plan["size"], np.int64), "beam_x": xs, "beam_y": ys, "orientation": plan["rotation"],
            "shape_name": np.str_(case["shape"]), "shape_size": np.float64(case["size"]),
            "truncate_depth": np.float64(case["truncate"]), "material": np.str_(case["material"]),
            "zone": np.str_(case["orientation"]), "carbon_nm": np.float64(case["carbon_nm"]),
            "settings_json": np.str_(json.dumps(used)), "wall_s": np.float64(time.perf_counter() - start)}


def probe_profile(settings: dict | None = None) -> dict:
    """abTEM's probe intensity (the 20 mrad aperture at 200 kV, no aberrations) on a 0.04 Å
    grid 41 Å wide: its radial encircled fraction ``encircled`` at ``r_nm``, and the
    intensity (fraction per nm²) along x through the centre."""
    import abtem

    settings = {**SETTINGS, **(settings or {})}
    abtem.config.set({"diagnostics.progress_bar": False})
    probe = abtem.Probe(energy=settings["energy_eV"], semiangle_cutoff=settings["semiangle_mrad"],
                        gpts=1024, sampling=PROBE_SAMPLING_A)
    intensity = np.abs(np.asarray(probe.build(lazy=False).array)) ** 2
    intensity /= intensity.sum()
    n = intensity.shape[0]
    centre = np.unravel_index(np.argmax(intensity), intensity.shape)
    grid = (np.arange(n) - centre[0])[:, None] ** 2 + (np.arange(n) - centre[1])[None, :] ** 2
    r = np.sqrt(grid) * PROBE_SAMPLING_A / 10  # nm
    radii = np.linspace(0, 1.5, 151)
    order = np.argsort(r.ravel())
    cumulative = np.cumsum(intensity.ravel()[order])
    encircled = np.interp(radii, r.ravel()[order], cumulative)
    line = intensity[centre[0]] / (PROBE_SAMPLING_A / 10) ** 2
    x = (np.arange(n) - centre[1]) * PROBE_SAMPLING_A / 10
    return {"r_nm": radii, "encircled": encircled, "x_nm": x, "intensity_per_nm2": line}


def case_summary(name: str, data) -> dict:
    """The human-readable entry of one stored case."""
    settings = json.loads(str(data["settings_json"]))
    return {"name": name, "material": str(data["material"]), "shape": str(data["shape_name"]),
            "shape_size_nm": float(data["shape_size"]), "truncate_depth": float(data["truncate_depth"]),
            "orientation": str(data["zone"]), "carbon_nm": float(data["carbon_nm"]),
            "size_px": data["size"].tolist(), "pixel_size_nm": float(data["pixel_size"]),
            "particle_atoms": int(data["particle_atoms"]), "atoms": int(len(data["numbers"])),
            "mean_haadf": float(data["image"].mean()), "max_haadf": float(data["image"].max()),
            "configurations": int(len(data["image_configs"])), "wall_s": round(float(data["wall_s"]), 1),
            "gpts": settings["gpts"], "slice_A": settings["slice_A"], "interpolation": settings["interpolation"],
            "orientation_matrix": np.round(data["orientation"], 6).tolist()}


def write_index(out: Path) -> list[dict]:
    """``cases.json``: every stored case, in :data:`CASES` order."""
    entries = []
    for case in CASES:
        path = out / f"{case['name']}.npz"
        if path.exists():
            with np.load(path, allow_pickle=False) as data:
                entries.append(case_summary(case["name"], data))
    (out / "cases.json").write_text(json.dumps({"command": COMMAND, "settings": SETTINGS, "cases": entries},
                                               indent=1) + "\n")
    return entries


COMMAND = ("OMP_NUM_THREADS=1 nice -n 5 python -m stemsim.benchmarks.fidelity_particles "
           "--out results/fidelity/particles")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("results/fidelity/particles"))
    parser.add_argument("--cases", default=None, help="comma-separated case names (default: all)")
    parser.add_argument("--plan", action="store_true", help="print each case's grid and slices; no multislice")
    args = parser.parse_args(argv)
    chosen = [c for c in CASES if args.cases is None or c["name"] in args.cases.split(",")]
    args.out.mkdir(parents=True, exist_ok=True)
    if not (args.out / "probe.npz").exists() and not args.plan:
        np.savez(args.out / "probe.npz", **probe_profile())
    for case in chosen:
        path = args.out / f"{case['name']}.npz"
        if args.plan:
            plan = layout(case, SETTINGS, np.random.default_rng([SETTINGS["seed"], CASES.index(case)]))
            print(case["name"], len(plan["atoms"]), plan["size"], plan["gpts"], plan["interpolation"],
                  round(plan["dz_A"], 3), round(np.ptp(plan["atoms"][:, 2]), 2), file=sys.stderr)
            continue
        if path.exists():
            continue
        result = run_case(case)
        np.savez(path.with_suffix(".tmp.npz"), **result)
        os.replace(path.with_suffix(".tmp.npz"), path)  # a killed run leaves no half-written case
        print(f"{case['name']}: {result['wall_s']:.0f} s, mean {result['image'].mean():.4f}", file=sys.stderr, flush=True)
        write_index(args.out)
    if not args.plan:
        write_index(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
