"""
# Train a classifier and predict

The `geometric` classifier (hand-crafted features of each particle's outline and thickness,
scikit-learn gradient boosting: no network, no download) trained on a small dataset made from
a spec dict, scored on the held-out test split next to the constant baseline, then asked to
label image files. The same steps on the command line are the
[tutorial](../../tutorial.md)'s `stemsim train`, `evaluate` and `predict`.
"""

import atexit
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from stemsim.classifiers import evaluate, predict_files, train
from stemsim.dataset import generate, resolve

work = Path(tempfile.mkdtemp())
atexit.register(shutil.rmtree, work, ignore_errors=True)

spec = resolve({
    "name": "small", "seed": 3,
    "image": {"size": 64, "pixel_size": 0.3},  # pixels; nm per pixel
    "label": "deformed",
    "classes": {"values": ["undeformed", "deformed"], "per_class": 100},
    "splits": {"train": 0.7, "val": 0.15, "test": 0.15},
    "object": {"shape": "cuboid", "size": {"uniform": [6, 9]}, "material": "Au",
               "deformation": {"kind": "truncate", "depth": {"uniform": [0.25, 0.4]}, "count": {"uniform": [1, 8]}}},
    "microscope": {"probe_fwhm": 0.12, "dose": 5.0e3},  # nm, e/Å²
    "support": {"thickness": 3.0, "roughness": 0.5},  # nm
    "output": {"formats": ["png", "npz"], "ground_truth": True},
})
data = work / "small"
print(f"dataset: {generate(spec, data).made} images")

# %%
# An experiment is a dict (or `configs/experiments/*.yaml`): the model and the data it learns.

experiment = {"model": {"name": "geometric", "min_samples_leaf": 5},
              "data": {"kind": "stemsim", "path": str(data)}, "seed": 0}
run = train(experiment, work / "run")
report = evaluate(run)
metrics = report["metrics"]
print(f"test accuracy {metrics['accuracy']:.3f} (the constant predictor's: {report['constant_baseline']['accuracy']:.3f})")

# %%
# Label a few test images, as `stemsim predict RUN IMAGE... --pixel-size 0.3` does.

files = sorted((data / "test" / "deformed").glob("*.png"))[:3] + sorted((data / "test" / "undeformed").glob("*.png"))[:3]
rows = predict_files(run, files, pixel_size=0.3)  # nm per pixel of the files
fig, axes = plt.subplots(1, len(rows), figsize=(12, 2.4))
for ax, row in zip(axes, rows):
    truth = Path(row["file"]).parent.name
    ax.imshow(plt.imread(row["file"]), cmap="gray")
    ax.set_title(f"true: {truth}\npredicted: {row['label']} ({row['probabilities'][row['label']]:.2f})", fontsize=8)
    ax.set_axis_off()
    print(f"{Path(row['file']).name}: {truth:>10} → {row['label']}")
fig.tight_layout()
plt.show()
