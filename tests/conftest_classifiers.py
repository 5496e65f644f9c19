"""Helpers shared by tests/test_classifiers_*.py: tiny synthetic datasets and a CLI runner.

Imported explicitly by those modules (it is not a pytest conftest, so it never affects
other tests).
"""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from stemsim.errors import InputError  # noqa: E402

STM_ROOT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "stm_si100"


# ---- synthetic images -----------------------------------------------------------------


def stripes(n: int, size: int, seed: int = 0,
            period: tuple[float, float] = (3.0, 6.0)) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images: label 0 = horizontal stripes, 1 = vertical; random period (pixels)
    and phase, plus noise."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    images = np.empty((n, size, size), np.uint8)
    for i, label in enumerate(labels):
        length = rng.uniform(*period)
        wave = np.sin(2 * np.pi * ((y if label == 0 else x) / length + rng.uniform()))
        img = 0.5 + 0.35 * wave + rng.normal(0, 0.08, (size, size))
        images[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return images, labels.astype(np.int64)


def grid_scores(n: int, size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Multi-label images: horizontal stripes ("rows") and/or vertical stripes ("dimers"),
    each present with probability ½. Returns images and (n, 2) scores in {0.1, 0.9}."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    present = rng.random((n, 2)) < 0.5
    images = np.empty((n, size, size), np.uint8)
    for i, (rows, dimers) in enumerate(present):
        img = 0.5 + rng.normal(0, 0.05, (size, size))
        if rows:
            img += 0.25 * np.sin(2 * np.pi * (y / 4.0 + rng.uniform()))
        if dimers:
            img += 0.25 * np.sin(2 * np.pi * (x / 4.0 + rng.uniform()))
        images[i] = np.clip(img * 255, 0, 255).astype(np.uint8)
    return images, np.where(present, 0.9, 0.1)


def write_class_folders(root: Path, images: np.ndarray, labels: np.ndarray, classes=("horizontal", "vertical"),
                        ext: str = ".png") -> Path:
    """``root/<class>/<i>.png`` for every image."""
    for name in classes:
        (root / name).mkdir(parents=True, exist_ok=True)
    for i, (image, label) in enumerate(zip(images, labels)):
        Image.fromarray(image).save(root / classes[label] / f"img{i:04d}{ext}")
    return root


def write_stemsim_arrays(root: Path, size: int = 32, counts=(48, 16, 16), classes=("horizontal", "vertical"),
                         seed: int = 0) -> Path:
    """A `stemsim generate`-style dataset with only ``arrays/{split}-00000.npz`` shards."""
    (root / "arrays").mkdir(parents=True, exist_ok=True)
    start = 0
    for split, n in zip(("train", "val", "test"), counts):
        images, labels = stripes(n, size, seed + start)
        np.savez(root / "arrays" / f"{split}-00000.npz", images=images, labels=labels,
                 classes=np.array(classes), ids=np.array([f"{split}{start + i:05d}" for i in range(n)]))
        start += n
    return root


STM_HEADER = ["name", "n_responses", "asymmetries", "individual_atoms", "dimers", "rows", "tip_change",
              "bad_blurry", "agreement", "orig_height", "orig_width"]


def write_stm_folder(root: Path, images: np.ndarray, rows: list[dict]) -> Path:
    """The stm_si100 layout: ``images_<size>.npz`` + ``labels.csv`` (rows: dicts by STM_HEADER)."""
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / f"images_{images.shape[1]}.npz", images=images, names=np.array([r["name"] for r in rows]))
    with open(root / "labels.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=STM_HEADER)
        writer.writeheader()
        for r in rows:
            writer.writerow({k: r.get(k, 0) for k in STM_HEADER})
    return root


def stm_row(name: str, scores: dict | None = None, n: int = 3, height: int = 300, width: int = 300,
            agreement: float | None = None) -> dict:
    scores = scores or {}
    values = [scores.get(c, 0.0) for c in STM_HEADER[2:8]]
    if agreement is None:
        agreement = float(np.mean([2 * abs(v - 0.5) for v in values]))
    return {"name": name, "n_responses": n, **dict(zip(STM_HEADER[2:8], values)), "agreement": agreement,
            "orig_height": height, "orig_width": width}


# ---- a tiny TF-Hub-like SavedModel ----------------------------------------------------


def make_savedmodel(path: Path) -> Path:
    """A SavedModel callable on ``(B, H, W, 3)`` images in [0, 1] → 6 hand-made features
    (mean, std, mean |d/dx|, mean |d/dy|, and their difference and ratio), like a TF-Hub
    feature-vector module but tiny and able to tell horizontal from vertical stripes."""
    import tensorflow as tf

    class Features(tf.Module):
        def __init__(self):
            super().__init__()
            self.scale = tf.Variable([1.0, 1.0, 4.0, 4.0, 4.0, 1.0])

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
        def __call__(self, images):
            gray = tf.reduce_mean(images, axis=-1)
            dx = tf.reduce_mean(tf.abs(gray[:, :, 1:] - gray[:, :, :-1]), axis=[1, 2])
            dy = tf.reduce_mean(tf.abs(gray[:, 1:, :] - gray[:, :-1, :]), axis=[1, 2])
            mean = tf.reduce_mean(gray, axis=[1, 2])
            std = tf.math.reduce_std(gray, axis=[1, 2])
            feats = tf.stack([mean, std, dx, dy, dx - dy, dx / (dy + 1e-3)], axis=1)
            return feats * self.scale

    tf.saved_model.save(Features(), str(path))
    return path


# ---- the command line -----------------------------------------------------------------


def _fallback_main(argv: list[str]) -> None:
    """What ``stemsim.cli.main`` does, for when the rest of the program is not importable."""
    import click
    import typer

    from stemsim.classifiers.cli import register

    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(app)
    try:
        app(args=argv, standalone_mode=False)
    except InputError as error:
        typer.echo(f"stemsim: error: {error}", err=True)
        sys.exit(2)
    except click.exceptions.ClickException as error:
        error.show()
        sys.exit(error.exit_code)


def cli_main():
    """``stemsim.cli.main`` when the whole program imports, else :func:`_fallback_main`."""
    try:
        import stemsim.dataset.cli  # noqa: F401  (main() registers these verbs too)
        from stemsim.cli import main
    except ImportError:
        return _fallback_main
    return main


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run the ``stemsim`` program in-process; returns (exit status, stdout, stderr)."""
    capsys.readouterr()
    try:
        cli_main()([str(a) for a in argv])
        code = 0
    except SystemExit as exit_:
        code = exit_.code if isinstance(exit_.code, int) else 1
    out, err = capsys.readouterr()
    return code, out, err
