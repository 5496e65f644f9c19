"""The ideal observer: the accuracy no classifier of a simulated test set can exceed.

    python -m stemsim.benchmarks.observer DATASET --out results/deformed/observer

A bench target that is not reached raises one question: is the label in the images at this
dose, or is the model the limit? This benchmark answers it from the physics. For every test
object it re-renders the noise-free expected electron counts (:class:`simulator.Measurement`
``signal`` × incident electrons per pixel) of one hypothesis per class, with everything else
the simulator drew for the object held fixed: its size, orientation, cut depth, microscope,
carbon film and scan distortion (the same acquisition stream, so the same film and scan).
An observer told all of that — and which cut set each class would be — is left with shot
noise alone; its Bayes error, averaged over the test objects, is a lower bound on the error of
any classifier of these images (knowing more never hurts), so one minus it bounds the accuracy.

The hypotheses (equally likely, as the classes are balanced):

* ``deformed``: each deformed test object's cuts, against the same object uncut (its twin);
* ``n_deformations``: the object's cut vertices in a random order, then the others: the
  first k of that order for every count k (a random order makes every cut set of k equally
  likely, as in the dataset);
* ``configuration``: the object's own cut set, and one drawn at random from each other class.

Noise model: Poisson counts in the equal-variance Gaussian approximation (the variance of a
pixel is its expected count averaged over the hypotheses), accurate at the particle, where the
counts are hundreds to thousands. The Bayes error of two hypotheses is Φ(−d′/2),
d′² = Σ (λ₁ − λ₀)² / λ̄ over pixels (and views); of more, a Monte-Carlo estimate of the
nearest-mean decision in the hypotheses' own coordinates. The dataset stores 8-bit images
made from these counts, so the bound holds for classifiers of the stored files too.

Multi-view datasets: d′² adds over views (independent noise); the bound is given for the view
subsets of the curves (:func:`stemsim.classifiers.views.view_indices`, first K and spread).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from stemsim.benchmarks.analysis import analysis_main
from stemsim.dataset.store import open_dataset
from stemsim.errors import InputError

LABELS = ("deformed", "n_deformations", "configuration")
DRAWS = 4000  # Monte-Carlo noise draws per hypothesis (more than two hypotheses)
VISIBLE = 2.0  # d′ below which a hypothesis pair is hard to tell apart (Φ(−1) = 16 % error)


def expected_counts(row: dict, cuts, kind: str, depth: float) -> np.ndarray:
    """The noise-free electron counts ``(H, W)`` of manifest ``row``'s acquisition with the
    vertices ``cuts`` deformed (``kind``, ``depth``) instead of the row's own."""
    from stemsim.dataset.sampling import generators, scene_and_microscope

    params = {**row, "deformed_vertices": " ".join(map(str, cuts)), "deformation_kind": kind, "depth": depth}
    scene, microscope = scene_and_microscope(params)
    _, rng = generators(int(row["seed"]))  # the row's film and scan distortion, drawn before any noise
    signal = dataclasses.replace(microscope, dose=None).acquire(scene, rng).signal
    return signal.astype(np.float64) * microscope.electrons_per_pixel


def squared_distances(counts: np.ndarray) -> np.ndarray:
    """``(M, H, W)`` expected counts of M hypotheses → ``(M, M)`` d′² between them, each pixel's
    variance the mean of its expected counts (at least 1 electron)."""
    flat = counts.reshape(len(counts), -1)
    scaled = flat / np.sqrt(np.maximum(flat.mean(axis=0), 1.0))
    gram = scaled @ scaled.T
    norms = np.diag(gram)
    return np.maximum(norms[:, None] + norms[None, :] - 2 * gram, 0.0)


def bayes_errors(d2: np.ndarray, rng: np.random.Generator, draws: int = DRAWS) -> np.ndarray:
    """``(M, M)`` d′² of equally likely hypotheses under unit white Gaussian noise → ``(M,)``
    the optimal (nearest-mean) decision's error rate with each hypothesis true: exact for M = 2,
    Monte-Carlo over ``draws`` noise draws otherwise. Identical hypotheses are told apart by
    chance alone ((M − 1)/M on average)."""
    from scipy.stats import norm

    m = len(d2)
    if m == 2:
        return np.full(2, norm.cdf(-np.sqrt(d2[0, 1]) / 2))
    centring = np.eye(m) - 1.0 / m
    values, vectors = np.linalg.eigh(-0.5 * centring @ d2 @ centring)
    points = vectors * np.sqrt(np.clip(values, 0.0, None))  # coordinates with these distances
    errors = np.empty(m)
    for h in range(m):
        noisy = points[h] + rng.standard_normal((draws, m))
        nearest = ((noisy[:, None, :] - points[None]) ** 2).sum(axis=-1).argmin(axis=1)
        errors[h] = np.mean(nearest != h)
    return errors


def hypotheses(spec: dict, row: dict, rng: np.random.Generator) -> tuple[list[str], list[tuple[int, ...]], int]:
    """``(class names, one cut set per class, the object's own class index)`` for ``row``."""
    from stemsim.dataset.sampling import reference_space

    own = tuple(int(v) for v in str(row["deformed_vertices"]).split())
    values = [str(v) for v in spec["classes"]["values"]]
    space = reference_space(row["shape"])
    if spec["label"] == "deformed":
        return ["undeformed", "deformed"], [(), own], 1
    if spec["label"] == "n_deformations":
        others = [v for v in range(space.n) if v not in own]
        order = list(rng.permutation(own)) + list(rng.permutation(others))
        return values, [tuple(sorted(int(v) for v in order[:int(k)])) for k in values], values.index(str(len(own)))
    classes = {c.name: c for c in space.classes(len(own))}
    cuts = [own if name == row["label"] else tuple(space.sample(classes[name], rng)) for name in values]
    return values, cuts, values.index(str(row["label"]))


def _cut(spec: dict, row: dict, rng: np.random.Generator) -> tuple[str, float]:
    """The deformation kind and depth of ``row``'s cuts; for an object without any, drawn from
    the spec (the simulator draws both independently of the label)."""
    from stemsim.dataset.sampling import draw

    if str(row["deformed_vertices"]).split():
        return row["deformation_kind"], float(row["depth"])
    deformation = spec["object"]["deformation"]
    return draw(deformation["kind"], rng), draw(deformation["depth"], rng, low=0.0, high=0.5)


def read_dataset(root: str | Path, split: str = "test") -> tuple[dict, list[list[dict]]]:
    """``(resolved spec, objects)`` of a stemsim dataset; an object is its manifest rows in view
    order. InputError (one line) for a folder that is not a dataset this observer covers."""
    store = open_dataset(root)
    for path in (store.spec_file, store.manifest_file):
        if not path.is_file():
            raise InputError(f"{store.root}: not a stemsim dataset (no {path.name})")
    spec = store.document
    if spec.get("label") not in LABELS:
        raise InputError(f"{store.spec_file}: label: the ideal observer covers {', '.join(LABELS)}, "
                         f"got {spec.get('label')!r}")
    if spec["microscope"].get("dose") is None:
        raise InputError(f"{store.spec_file}: microscope.dose: the images are noise-free, so an observer "
                         f"that knows everything but the label makes no errors")
    rows = store.rows(split)
    if not rows:
        raise InputError(f"{store.manifest_file}: no images in split {split!r}")
    objects: dict[str, list[dict]] = {}
    for row in rows:
        objects.setdefault(row["object_id"], []).append(row)
    if spec["label"] == "deformed":  # the twins of the deformed objects are the undeformed hypotheses
        objects = {key: views for key, views in objects.items() if views[0]["label"] == "deformed"}
    return spec, [sorted(views, key=lambda r: int(r["view"])) for _, views in sorted(objects.items())]


def observe(root: str | Path, split: str = "test", limit: int | None = None) -> dict:
    """The ideal observer's bound on ``split`` of dataset ``root`` (first ``limit`` objects):
    ``{dataset, split, label, classes, n_objects, views, subsets, least_visible}``; per view
    subset ``{selection, views, indices, accuracy_bound, error_by_class, nearest_d}``."""
    from stemsim.dataset.sampling import generators
    from stemsim.classifiers.views import curve_subsets

    spec, objects = read_dataset(root, split)
    objects = objects[:limit] if limit else objects
    subsets = curve_subsets(len(objects[0]))
    errors = [[None] * len(objects) for _ in subsets]  # per subset and object: (classes,) error rates
    nearest = np.zeros((len(subsets), len(objects)))  # d′ to the nearest other class
    for o, views in enumerate(objects):
        rng, _ = generators(int(views[0]["object_seed"]))  # the object's own draws: any subset, any order
        classes, cuts, own = hypotheses(spec, views[0], rng)
        kind, depth = _cut(spec, views[0], rng)
        per_view = [squared_distances(np.stack([expected_counts(row, c, kind, depth) for c in cuts])) for row in views]
        for s, (_, index) in enumerate(subsets):
            d2 = np.sum([per_view[v] for v in index], axis=0)
            errors[s][o] = bayes_errors(d2, rng)
            nearest[s, o] = np.sqrt(min(d2[own, h] for h in range(len(cuts)) if h != own))
    results = []
    for s, (selection, index) in enumerate(subsets):
        error = np.array(errors[s])
        results.append({
            "selection": selection, "views": len(index), "indices": [int(i) for i in index],
            "accuracy_bound": round(float(1 - error.mean()), 6),
            "error_by_class": {name: round(float(e), 6) for name, e in zip(classes, error.mean(axis=0))},
            "nearest_d": {"p5": round(float(np.percentile(nearest[s], 5)), 2),
                          "median": round(float(np.median(nearest[s])), 2),
                          f"below_{VISIBLE:g}": int(np.sum(nearest[s] < VISIBLE))}})
    order = np.argsort(nearest[0])[:5]
    least = [{"object_id": objects[o][0]["object_id"], "label": objects[o][0]["label"],
              "deformed_vertices": objects[o][0]["deformed_vertices"], "depth": round(float(objects[o][0]["depth"]), 3),
              "nearest_d": round(float(nearest[0, o]), 2)} for o in order]
    return {"dataset": str(root), "split": split, "label": spec["label"], "classes": classes,
            "n_objects": len(objects), "views": len(objects[0]), "subsets": results, "least_visible": least}


def summary(folder: str | Path) -> dict | None:
    """What a bench report cites of the observer results in ``folder`` (``results.json``, as
    :func:`main` writes them): ``{file, n_objects, bounds: [{views, selection, accuracy_bound}]}``,
    or None when there are none."""
    path = Path(folder) / "results.json"
    if not path.is_file():
        return None
    results = json.loads(path.read_text())
    return {"file": f"{Path(folder).name}/results.md", "n_objects": results["n_objects"],
            "bounds": [{key: subset[key] for key in ("views", "selection", "accuracy_bound")}
                       for subset in results["subsets"]]}


def markdown(results: dict) -> str:
    """The bound per view subset, the error by class and the least visible objects."""
    what = {"deformed": "each deformed object against its uncut twin",
            "n_deformations": "every count k as the first k of a random order of the vertices (own cuts first)",
            "configuration": "the object's own cut pair against one random pair of each other class"}[results["label"]]
    several = results["views"] > 1
    lines = ["# The ideal observer: the accuracy no classifier can exceed", "",
             f"Command: `{results['command']}`", "",
             f"{results['n_objects']} {results['split']} objects of `{results['dataset']}` (label "
             f"`{results['label']}`; hypotheses: {what}). The observer knows everything the simulator drew but the "
             "label (size, orientation, cut depth, microscope, carbon film, scan distortion) and faces the shot noise "
             "alone, so no classifier of these images can do better (`benchmarks/observer.py`).", "",
             f"| {'views | ' if several else ''}bound on accuracy | nearest other class: d′ 5th percentile | median "
             f"| objects with d′ < {VISIBLE:g} |",
             f"|{'---|' if several else ''}---|---|---|---|"]
    for subset in results["subsets"]:
        which = f"{subset['views']} ({subset['selection']}: {', '.join(map(str, subset['indices']))}) | " \
            if several else ""
        near = subset["nearest_d"]
        lines.append(f"| {which}{100 * subset['accuracy_bound']:.2f} % | {near['p5']:g} | {near['median']:g} "
                     f"| {near[f'below_{VISIBLE:g}']} |")
    first = results["subsets"][0]
    lines += ["", f"Error by true class ({first['views']} view{'s' if first['views'] > 1 else ''}):", "",
              "| " + " | ".join(results["classes"]) + " |", "|" + "---|" * len(results["classes"]),
              "| " + " | ".join(f"{100 * first['error_by_class'][c]:.2f} %" for c in results["classes"]) + " |", "",
              f"Least visible ({first['views']} view{'s' if first['views'] > 1 else ''}): "
              + "; ".join(f"object {o['object_id']} ({o['label']}, cut vertices {o['deformed_vertices'] or 'none'}, "
                          f"depth {o['depth']:g}): d′ {o['nearest_d']:g}" for o in results["least_visible"]) + ".", ""]
    return "\n".join(lines)


def main() -> None:
    analysis_main("observer", __doc__.splitlines()[0], observe, markdown,
                  lambda parser: parser.add_argument("--limit", type=int, default=None,
                                                     help="only the first LIMIT objects"))


if __name__ == "__main__":
    main()
