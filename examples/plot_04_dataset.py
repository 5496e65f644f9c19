"""
# A tiny dataset from a spec

A spec is a dict (or a YAML file, `stemsim generate SPEC.yaml`): here 40 images of 64² of
gold cubes, half of them with 1–8 corners cut. `resolve` fills in the defaults and checks every
key; `generate` writes class folders of PNG files, npz shards with the ground truth and
`manifest.csv`, one row per image with every sampled parameter. Then we read it back.
Every key of a spec: [Datasets](../../datasets.md).
"""

import atexit
import shutil
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from stemsim.dataset import generate, resolve
from stemsim.dataset.store import open_dataset

raw = {
    "name": "tiny",
    "seed": 1,
    "image": {"size": 64, "pixel_size": 0.3},  # pixels; nm per pixel
    "label": "deformed",
    "classes": {"values": ["undeformed", "deformed"], "per_class": 20},
    "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "object": {"shape": "cuboid", "size": {"uniform": [6, 9]}, "material": "Au",
               "deformation": {"kind": "truncate", "depth": {"uniform": [0.25, 0.4]}, "count": {"uniform": [1, 8]}}},
    "microscope": {"probe_fwhm": 0.12, "dose": 5.0e3},  # nm, e/Å²
    "support": {"thickness": 3.0, "roughness": 0.5},  # nm
    "output": {"formats": ["png", "npz"], "ground_truth": True},
}
spec = resolve(raw)
work = Path(tempfile.mkdtemp())
atexit.register(shutil.rmtree, work, ignore_errors=True)  # a temporary folder: nothing is left behind
out = work / "tiny"
summary = generate(spec, out)
print(f"made {summary.made} images in {summary.seconds:.1f} s; {summary.bytes_on_disk / 1e3:.0f} kB on disk")
print(sorted(str(path.relative_to(out)) for path in out.iterdir() if not path.name.startswith(".")))

# %%
# Read it back with `open_dataset`, the one reader of the format: the spec, the pixel size, the
# views, the manifest rows (where each image is and every parameter that made it) and the
# npz shards with the ground truth.

store = open_dataset(out)
print(f"{store.spec['name']}: {store.image_size}² px at {store.pixel_size} nm, classes {store.classes}, "
      f"{store.views.count} view(s) per object")
rows = store.rows("train")
print(len(store.manifest), "rows; the first:", {key: rows[0][key] for key in ("id", "label", "path", "n_deformed", "size")})
truth = next(store.ground_truth("train", ["images", "labels", "thickness", "mask", "vertices"]))
for name, value in truth.items():
    print(f"{name:>10}: {np.shape(value)} {getattr(value, 'dtype', 'str')}")

# %%
# The first training images with their labels.

train = rows[:8]
fig, axes = plt.subplots(1, len(train), figsize=(12, 2))
for ax, row in zip(axes, train):
    ax.imshow(plt.imread(out / row["path"]), cmap="gray")
    ax.set_title(f"{row['label']}\n{row['n_deformed']} cut", fontsize=9)
    ax.set_axis_off()
fig.tight_layout()
plt.show()
