"""A bench report's figures: ``samples.png``, ``confusion/<model>.png``, ``curves/<model>.png``,
``views.png`` and, for two-stage rows, ``maps/<model>.png``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from stemsim.benchmarks.datafiles import is_stm_folder, stm_scores_and_images, test_images_by_class


def use_agg() -> None:
    """Draw without a display (reports are written on machines with none)."""
    import matplotlib

    matplotlib.use("Agg")


def write_figures(results: dict, out: Path, dataset: Path) -> None:
    """Every figure of a run's report into ``out``; figures of models the results no longer
    hold are removed."""
    use_agg()
    out.mkdir(parents=True, exist_ok=True)
    for sub in ("confusion", "curves"):
        (out / sub).mkdir(exist_ok=True)
    for row in results["models"]:
        confusion = Path(row["evaluation_dir"]) / "confusion.png"
        if confusion.is_file():
            shutil.copyfile(confusion, out / "confusion" / f"{row['name']}.png")
        plot_curves(Path(row["run_dir"]) / "history.json", out / "curves" / f"{row['name']}.png", row["name"])
    sample_grid(dataset, out / "samples.png")
    plot_views(results, out / "views.png")
    drop_stale_figures(results, out)
    for row in results["models"]:
        # a row kept from an earlier run may have no run folder here; its figure stays as it was
        if "mask_iou" in row.get("maps", {}) and (Path(row["run_dir"]) / "run.json").is_file():
            (out / "maps").mkdir(exist_ok=True)
            plot_maps(Path(row["run_dir"]), dataset, out / "maps" / f"{row['name']}.png")


def drop_stale_figures(results: dict, out: Path) -> None:
    """Remove the per-model figures of models the results no longer hold."""
    names = {r["name"] for r in results["models"]}
    for sub in ("confusion", "curves", "maps"):
        for figure in (out / sub).glob("*.png"):
            if figure.stem not in names:
                figure.unlink()


def plot_views(results: dict, target: Path) -> None:
    """Test accuracy against views per object: one line per model and fusion (spread views dashed)."""
    import matplotlib.pyplot as plt

    rows = [r for r in results["models"] if r.get("by_views")]
    if not rows:
        return
    figure, axis = plt.subplots(figsize=(8, 4))
    colours: dict[tuple[str, str], str] = {}  # a model's fusion keeps its colour; spread views are dashed
    for row in rows:
        for curve in row["by_views"]:
            spread = curve.get("selection") == "spread"
            key = (row["name"], curve["fusion"])
            colour = colours.setdefault(key, f"C{len(colours) % 10}")
            axis.plot([p["views"] for p in curve["points"]], [p["accuracy"] for p in curve["points"]],
                      "s--" if spread else "o-", color=colour,
                      label=f"{row['name']} ({curve['fusion']}{', spread' * spread})")
    base = rows[0]["baseline"].get("accuracy")
    if base is not None:
        axis.axhline(base, color="gray", linestyle=":", label="constant predictor")
    axis.set_xscale("log", base=2)
    axis.set_xticks(results["bench"]["views"]["counts"], [str(k) for k in results["bench"]["views"]["counts"]])
    axis.set_xlabel("views per object")
    axis.set_ylabel("test accuracy")
    axis.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
    figure.tight_layout()
    figure.savefig(target, dpi=90)
    plt.close(figure)


def plot_curves(history_file: Path, target: Path, title: str) -> None:
    """Training and validation loss and accuracy per epoch of a run's ``history.json``."""
    import matplotlib.pyplot as plt

    if not history_file.is_file():
        return
    history = json.loads(history_file.read_text())
    if not history:
        return
    epochs = [row["epoch"] for row in history]
    figure, axes = plt.subplots(1, 2, figsize=(8, 3))
    for axis, key in zip(axes, ("loss", "accuracy")):
        for prefix, style in (("", "-"), ("val_", "--")):
            values = [row.get(prefix + key) for row in history]
            if any(v is not None for v in values):
                axis.plot(epochs, values, style, label=f"{'validation' if prefix else 'training'}")
        axis.set_xlabel("epoch")
        axis.set_ylabel(key)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(target, dpi=80)
    plt.close(figure)


def sample_grid(dataset: Path, target: Path, per_class: int = 6) -> None:
    """One row of test images per class (stemsim datasets: the class folders)."""
    import matplotlib.pyplot as plt

    if is_stm_folder(dataset):  # the real STM set: images of each category
        category_grid(dataset, target, per_class)
        return
    images = test_images_by_class(dataset, per_class)
    if not images:
        return
    figure, axes = plt.subplots(len(images), per_class, figsize=(1.4 * per_class, 1.5 * len(images)),
                                squeeze=False)
    for r, (name, files) in enumerate(images.items()):
        for c in range(per_class):
            axis = axes[r, c]
            axis.axis("off")
            if c < len(files):
                axis.imshow(files[c], cmap="gray")
            if c == 0:
                axis.set_title(name, fontsize=8, loc="left")
    figure.tight_layout()
    figure.savefig(target, dpi=70)
    plt.close(figure)


def category_grid(dataset: Path, target: Path, per_class: int) -> None:
    """Images whose mean score for each category is highest (STM set: ``labels.csv`` + npz)."""
    import matplotlib.pyplot as plt

    from stemsim.classifiers.config import STM_CATEGORIES

    found = stm_scores_and_images(dataset)
    if found is None:
        return
    rows, images = found
    figure, axes = plt.subplots(len(STM_CATEGORIES), per_class, figsize=(1.4 * per_class, 1.5 * len(STM_CATEGORIES)),
                                squeeze=False)
    for r, name in enumerate(STM_CATEGORIES):
        scores = np.array([float(row[name]) for row in rows])
        for c, index in enumerate(np.argsort(-scores, kind="stable")[:per_class]):
            axes[r, c].imshow(images[index], cmap="gray")
            axes[r, c].axis("off")
        axes[r, 0].set_title(name, fontsize=8, loc="left")
    figure.tight_layout()
    figure.savefig(target, dpi=70)
    plt.close(figure)


def plot_maps(run_dir: Path, dataset: Path, target: Path, n: int = 4) -> None:
    """Test images, true and predicted thickness, predicted vertex heat (red all, green deformed)."""
    import matplotlib.pyplot as plt

    from stemsim.classifiers.pixelwise import load_maps, vertex_heatmaps
    from stemsim.classifiers.run import open_run

    data = load_maps(dataset, "test", n)
    model = open_run(run_dir).load_model()
    maps = model.maps(list(data.images))
    truth_heat = vertex_heatmaps(data.sites, data.images.shape[1:])
    figure, axes = plt.subplots(len(data), 5, figsize=(9, 1.9 * len(data)), squeeze=False)
    top = float(max(data.thickness.max(), 1e-6))
    for i in range(len(data)):
        rgb_true = np.concatenate([truth_heat[i], np.zeros_like(truth_heat[i][..., :1])], axis=-1)
        rgb_pred = np.clip(np.concatenate([maps["vertices"][i], np.zeros_like(rgb_true[..., :1])], axis=-1), 0, 1)
        panels = [(data.images[i], "image", "gray", None), (data.thickness[i], "true t (nm)", "magma", top),
                  (maps["thickness"][i], "predicted t (nm)", "magma", top), (rgb_true, "true vertices", None, None),
                  (rgb_pred, "predicted vertices", None, None)]
        for axis, (image, title, cmap, vmax) in zip(axes[i], panels):
            axis.imshow(image, cmap=cmap, vmin=0 if vmax else None, vmax=vmax)
            axis.set_title(title, fontsize=7)
            axis.axis("off")
    figure.tight_layout()
    figure.savefig(target, dpi=70)
    plt.close(figure)
