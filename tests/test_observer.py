"""The ideal observer (stemsim.benchmarks.observer): its hypotheses, its noise model, its bound."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import yaml
from scipy.stats import norm

from cli_runner import run

from stemsim.benchmarks.observer import bayes_errors, expected_counts, hypotheses, observe, squared_distances


def _dataset(tmp_path, name, label="deformed", dose=5.0e3, views=None, **classes):
    spec = {"name": name, "seed": 5, "image": {"size": 48, "pixel_size": 0.3}, "label": label,
            "classes": {"per_class": 4, **classes}, "splits": {"train": 0.5, "val": 0.0, "test": 0.5},
            "object": {"shape": "cuboid", "size": {"uniform": [5, 7]}, "orientation": "random",
                       "deformation": {"kind": "truncate", "depth": {"uniform": [0.15, 0.35]}}},
            "microscope": {"probe_fwhm": 0.3, "dose": dose},
            "support": {"thickness": 3, "roughness": 0.5},
            "output": {"formats": ["npz"], "dtype": "uint8", "ground_truth": False}}
    if views:
        spec["views"] = views
    (tmp_path / f"{name}.yaml").write_text(yaml.safe_dump(spec))
    assert run("generate", tmp_path / f"{name}.yaml", "--out", tmp_path / name, "--jobs", "1") == 0
    return tmp_path / name


def test_bayes_errors_two_hypotheses_exact_and_many_by_monte_carlo():
    """Two hypotheses d′ apart err Φ(−d′/2); with a third far away, the Monte-Carlo estimate of
    the first two agrees; identical hypotheses are told apart by chance alone."""
    rng = np.random.default_rng(0)
    d = 1.5
    assert bayes_errors(np.array([[0, d * d], [d * d, 0]]), rng) == pytest.approx([norm.cdf(-d / 2)] * 2)
    far = 1.0e4
    errors = bayes_errors(np.array([[0, d * d, far], [d * d, 0, far], [far, far, 0]]), rng, draws=40000)
    assert errors[:2] == pytest.approx([norm.cdf(-d / 2)] * 2, abs=0.006) and errors[2] == 0.0
    assert bayes_errors(np.zeros((3, 3)), rng).mean() == pytest.approx(2 / 3)
    assert bayes_errors(np.zeros((2, 2)), rng).mean() == pytest.approx(1 / 2)


def test_twin_differs_only_at_the_particle_and_d2_scales_with_dose(tmp_path):
    """An object and its uncut twin share the carbon film and scan (counts equal away from the
    particle); d′² grows in proportion to the dose (shot noise: signal ∝ dose, variance ∝ dose)."""
    import csv

    root = _dataset(tmp_path, "twins")
    row = next(r for r in csv.DictReader(open(root / "manifest.csv")) if r["label"] == "deformed")
    cut = expected_counts(row, row["deformed_vertices"].split(), "truncate", float(row["depth"]))
    whole = expected_counts(row, (), "truncate", float(row["depth"]))
    difference = np.abs(cut - whole)
    # the cuts remove gold: hundreds of electrons less at the corners; the film and scan agree
    # elsewhere (beyond the ~0.1 % ringing of a probe narrower than a pixel, blurred by FFT)
    assert difference.max() > 100.0 and np.count_nonzero(difference > 1.0) < 0.1 * difference.size
    d2 = squared_distances(np.stack([cut, whole]))
    assert d2[0, 0] == d2[1, 1] == 0.0 and d2[0, 1] == d2[1, 0] > 0
    quadrupled = {**row, "dose": 4 * float(row["dose"])}
    d2_4 = squared_distances(np.stack([expected_counts(quadrupled, c, "truncate", float(row["depth"]))
                                       for c in (row["deformed_vertices"].split(), ())]))
    assert d2_4[0, 1] == pytest.approx(4 * d2[0, 1], rel=1e-3)  # only pixels under 1 electron deviate


def test_hypotheses_one_cut_set_per_class():
    """Counting: nested cut sets, the object's own among them; configuration: one pair per
    symmetry class, the object's own for its class."""
    from stemsim.dataset.sampling import reference_space

    rng = np.random.default_rng(1)
    spec = {"label": "n_deformations", "classes": {"values": [0, 1, 2, 3]}}
    row = {"deformed_vertices": "2 5", "shape": "cuboid", "label": "2"}
    classes, cuts, own = hypotheses(spec, row, rng)
    assert classes == ["0", "1", "2", "3"] and own == 2 and cuts[2] == (2, 5)
    assert [len(c) for c in cuts] == [0, 1, 2, 3] and set(cuts[1]) < set(cuts[2]) < set(cuts[3])
    space = reference_space("cuboid")
    names = [c.name for c in space.classes(2)]
    spec = {"label": "configuration", "classes": {"values": names}}
    row = {"deformed_vertices": "0 1", "shape": "cuboid", "label": space.classify((0, 1)).name}
    classes, cuts, own = hypotheses(spec, row, rng)
    assert [space.classify(c).name for c in cuts] == names and cuts[own] == (0, 1)


def test_bound_falls_with_dose_and_rises_with_views(tmp_path):
    """At 10⁴× less dose the shot noise hides cuts that the full dose shows; with more views of a
    tilt series the nearest other class is never closer (d′² adds over views)."""
    high = observe(_dataset(tmp_path, "high"))
    low = observe(_dataset(tmp_path, "low", dose=0.5))
    assert high["n_objects"] == low["n_objects"] == 2  # the deformed test objects: 4 per class, half in test
    assert high["classes"] == ["undeformed", "deformed"]
    assert low["subsets"][0]["accuracy_bound"] < high["subsets"][0]["accuracy_bound"]
    assert 0.5 <= low["subsets"][0]["accuracy_bound"] and high["subsets"][0]["accuracy_bound"] <= 1.0
    tilt = observe(_dataset(tmp_path, "tilt", label="n_deformations", dose=20.0, values=[0, 2, 4],
                            views={"count": 4, "mode": "tilt", "tilt": {"axis": [0, 1, 0], "range": [-60, 60]}}))
    first = [s for s in tilt["subsets"] if s["selection"] == "first"]
    assert [s["views"] for s in first] == [1, 2, 4] and tilt["n_objects"] == 6
    medians = [s["nearest_d"]["median"] for s in first]
    assert medians == sorted(medians) and medians[0] < medians[-1]


def test_bad_datasets_get_one_line(tmp_path):
    root = _dataset(tmp_path, "shapes", label="shape", values=["cuboid", "sphere"])

    def observer(path):
        return subprocess.run([sys.executable, "-m", "stemsim.benchmarks.observer", str(path), "--out", str(tmp_path / "out")],
                              capture_output=True, text=True)

    done = observer(root)
    assert done.returncode == 2 and not (tmp_path / "out").exists()
    assert done.stderr == (f"observer: error: {root / 'spec.yaml'}: label: the ideal observer covers deformed, "
                           "n_deformations, configuration, got 'shape'\n")
    done = observer(tmp_path)
    assert done.returncode == 2 and done.stderr == f"observer: error: {tmp_path}: not a stemsim dataset (no spec.yaml)\n"
