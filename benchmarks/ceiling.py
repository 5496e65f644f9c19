"""How well the 3-D back-projection counts deformed corners with a perfect stage 1.

    python -m stemsim.benchmarks.ceiling DATASET --out results/multiview_n_deformations/ceiling

The two-stage model's ``backprojection`` fusion reads the number of deformed corners from its
U-Net's vertex heat-maps back-projected along the tilt angles. This benchmark gives it the
ground-truth heat-maps instead (what the U-Net is trained to predict, rendered from the
dataset's vertex sites, :func:`stemsim.classifiers.pixelwise.vertex_heatmaps`) and counts the 3-D
deformed peaks above a level (``bp_deformed_peaks_above_<level>`` of
:func:`stemsim.classifiers.tomography.tilt_features`), with no classifier. The fraction of test objects
whose count is their label says how much of the gap to a target is the U-Net's and how much
the views' (too few, or too close in angle, to place corners in depth).

The dataset: a stemsim tilt series (``views.mode: tilt``) with npz shards and ground truth,
labelled by ``n_deformations``. View subsets: the first K and K spread over the series
(:func:`stemsim.classifiers.views.view_indices`), K = 1, 2, V/2, V.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from stemsim.benchmarks.analysis import analysis_main
from stemsim.dataset.store import open_dataset
from stemsim.errors import InputError

LEVELS = (0.5, 0.6, 0.7, 0.8)


def count_accuracy(root: str | Path, split: str = "test") -> dict:
    """``{dataset, split, n_objects, tilt_series, levels, subsets}``: per view subset
    (``{selection, views, indices, accuracy}``), the fraction of objects whose 3-D deformed
    peak count above each level equals their label."""
    from stemsim.classifiers.pixelwise import load_maps, vertex_heatmaps
    from stemsim.classifiers.tomography import TILT_FEATURE_NAMES, TiltSeries, tilt_features
    from stemsim.classifiers.views import curve_subsets

    root = Path(root)
    store = open_dataset(root)
    series = TiltSeries.of_dataset(root)
    if series is None:
        raise InputError(f"{root}: not a stemsim tilt series (a spec.yaml with views.mode: tilt)")
    spec = store.document
    if spec.get("label") != "n_deformations":
        raise InputError(f"{store.spec_file}: label: the ceiling counts deformed corners, so it needs "
                         f"label: n_deformations, got {spec.get('label')!r}")
    data = load_maps(root, split)
    views = store.views.count
    n_objects = len(data.labels) // views
    # labels index the class names, which are the counts ('0', '2', ...): a label is not itself a count
    counts = np.array([int(c) for c in store.classes])[data.labels[::views]]
    projections = series.projections()
    columns = [TILT_FEATURE_NAMES.index(f"bp_deformed_peaks_above_{level:g}") for level in LEVELS]
    subsets = []
    for selection, index in curve_subsets(views):
        k = len(index)
        found = np.array([tilt_features(vertex_heatmaps(data.sites[o * views + index], data.images.shape[1:3]),
                                        data.thickness[o * views + index], projections[index],
                                        data.pixel_size)[columns] for o in range(n_objects)])
        accuracy = (found == counts[:, None]).mean(axis=0)
        subsets.append({"selection": selection, "views": k, "indices": [int(i) for i in index],
                        "accuracy": {f"{level:g}": round(float(a), 4) for level, a in zip(LEVELS, accuracy)}})
    return {"dataset": str(root), "split": split, "n_objects": n_objects,
            "tilt_series": series.describe(), "levels": list(LEVELS), "subsets": subsets}


def markdown(results: dict) -> str:
    """The results as a table (rows: view subsets; columns: peak levels)."""
    levels = [f"{level:g}" for level in results["levels"]]
    lines = ["# Counting deformed corners from ground-truth heat-maps back-projected in 3-D", "",
             f"Command: `{results['command']}`", "",
             f"{results['n_objects']} {results['split']} objects of `{results['dataset']}` "
             f"({results['tilt_series']}); no classifier: the count is the number of 3-D deformed peaks above "
             "the level, scored against the label.", "",
             "| views | indices | " + " | ".join(f"peaks above {level}" for level in levels) + " |",
             "|---|---|" + "---|" * len(levels)]
    for subset in results["subsets"]:
        which = f"{subset['views']} ({subset['selection']})"
        lines.append(f"| {which} | {', '.join(map(str, subset['indices']))} | "
                     + " | ".join(f"{100 * subset['accuracy'][level]:.1f} %" for level in levels) + " |")
    return "\n".join(lines + [""])


def main() -> None:
    analysis_main("ceiling", __doc__.splitlines()[0], count_accuracy, markdown)


if __name__ == "__main__":
    main()
