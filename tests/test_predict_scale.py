"""The newcomer's path (issue 30): predict at the training pixel size, the backend said truly
(and TensorFlow neither imported nor heard for scikit-learn runs), evaluate on other data,
calibration error, API errors in API words, tidy help."""

from __future__ import annotations

from conftest_classifiers import run_cli
from test_dataset import generate_once

import csv
import json
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import sklearn
from PIL import Image

from stemsim.classifiers.metrics import calibration
from stemsim.classifiers.scale import ScaleWarning, TrainingScale, check_pixel_size, fit_field, to_training_scale
from stemsim.errors import InputError

SPEC = {
    "name": "scale-test", "seed": 3,
    "image": {"size": 32, "pixel_size": 0.35},
    "label": "shape", "classes": {"values": ["sphere", "cuboid"], "per_class": 30},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "object": {"shape": "cuboid", "size": {"uniform": [5, 6]}, "orientation": "random",
               "deformation": {"count": 0}},
    "microscope": {"probe_fwhm": 0.2, "dose": 5.0e3},
    "support": {"thickness": 2.0, "roughness": 0.3},
    "output": {"formats": ["png", "npz"], "dtype": "uint8", "ground_truth": False},
}
UNKNOWN = "pixel size unknown; assuming the training pixel size 0.35 nm (pass --pixel-size)"


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny stemsim dataset (30 spheres, 30 cuboids, 32² px at 0.35 nm; the spec lists sphere
    first), a geometric run on it, and its first five test images as PNGs and as ×2 copies."""
    from stemsim.classifiers.training import train

    data = generate_once(tmp_path_factory, SPEC, "scale")[1]
    base = tmp_path_factory.mktemp("scale-run")
    run = train({"model": {"name": "geometric", "min_samples_leaf": 4},
                 "data": {"kind": "stemsim", "path": str(data)}, "seed": 1}, base / "run")
    test = np.load(data / "arrays" / "test-00000.npz")
    originals, copies = [], []
    for i in range(5):
        image = test["images"][i]
        Image.fromarray(image).save(base / f"image{i}.png")
        Image.fromarray(np.kron(image, np.ones((2, 2), np.uint8))).save(base / f"double{i}.png")  # 64², ×2
        originals.append(base / f"image{i}.png")
        copies.append(base / f"double{i}.png")
    return {"data": data, "run": run, "base": base, "originals": originals, "copies": copies,
            "labels": [SPEC["classes"]["values"][k] for k in test["labels"][:5]]}


def rows_of(out: str) -> list[dict]:
    return list(csv.DictReader(out.splitlines()))


# ---- 1. predict at the training pixel size ---------------------------------------------------


def test_run_records_the_training_pixel_size_and_field_of_view(made):
    info = json.loads((made["run"] / "run.json").read_text())
    assert info["scale"] == {"pixel_size_nm": 0.35, "image_size_px": [32, 32],
                             "source": f"image.pixel_size and image.size of {made['data'] / 'spec.yaml'}"}
    assert info["classes"] == ["sphere", "cuboid"]  # the spec's order, not alphabetical


def test_a_doubled_copy_with_half_the_pixel_size_is_predicted_as_the_original(made, capsys):
    code, out, err = run_cli(["predict", made["run"], *made["originals"]], capsys)
    assert code == 0, err
    lines = err.splitlines()
    assert lines[:5] == [f"stemsim: warning: {f}: {UNKNOWN}" for f in made["originals"]]
    assert lines[5:] == [f"model: geometric (scikit-learn {sklearn.__version__}, cpu)"]
    original = rows_of(out)
    assert list(original[0]) == ["file", "label", "p_sphere", "p_cuboid", "pixel_size_nm", "error"]  # the run's class order
    assert [r["label"] for r in original] == made["labels"]

    code, out, err = run_cli(["predict", made["run"], *made["copies"], "--pixel-size", "0.175"], capsys)
    assert code == 0, err
    assert err.splitlines() == [f"model: geometric (scikit-learn {sklearn.__version__}, cpu)"]  # no warning
    doubled = rows_of(out)
    assert [r["label"] for r in doubled] == [r["label"] for r in original]
    for a, b in zip(original, doubled):
        assert abs(float(a["p_sphere"]) - float(b["p_sphere"])) < 0.01

    code, out, err = run_cli(["predict", made["run"], made["copies"][0], "--pixel-size", "1.4"], capsys)
    assert code == 0, err
    assert err.splitlines()[0] == (f"stemsim: warning: {made['copies'][0]}: pixel size 1.4 nm is far from the "
                                   "training pixel size 0.35 nm (4×, more than 2× coarser): the model never saw "
                                   "particles at this resolution")
    code, out, err = run_cli(["predict", made["run"], made["copies"][0], "--pixel-size", "-1"], capsys)
    assert code == 2 and err == "stemsim: error: --pixel-size: expected a positive number of nm per pixel, got -1.0\n"


def test_a_run_without_a_scale_resizes_as_before_and_says_pixel_size_is_unused(made, tmp_path, capsys):
    old = Path(shutil.copytree(made["run"], tmp_path / "old"))
    info = json.loads((old / "run.json").read_text())
    del info["scale"]  # a run made before the scale was recorded
    (old / "run.json").write_text(json.dumps(info))
    code, before, err = run_cli(["predict", old, *made["copies"]], capsys)
    assert code == 0 and "warning" not in err
    code, after, err = run_cli(["predict", old, *made["copies"], "--pixel-size", "0.175"], capsys)
    assert code == 0 and [r["pixel_size_nm"] for r in rows_of(after)] == ["0.175"] * len(made["copies"])
    assert [{**r, "pixel_size_nm": ""} for r in rows_of(after)] == rows_of(before)  # the same answers
    assert err.splitlines()[0] == (f"stemsim: warning: --pixel-size: {old} records no training pixel size (data "
                                   "without a spec.yaml, or a run made before it was recorded): the images are "
                                   "resized to the model's input as they are")


def test_resampling_cropping_and_padding_exactly():
    scale = TrainingScale(0.35, (32, 32))
    small = np.full((20, 20), 10, np.uint8)
    small[5:15, 5:15] = 200
    said: list[str] = []
    padded = to_training_scale(small, None, scale, "small.png", said.append)
    assert said == [f"small.png: {UNKNOWN.replace('--pixel-size', 'pixel_size')}"]  # the API's word
    assert padded.shape == (32, 32) and padded.dtype == np.uint8
    assert (padded[6:26, 6:26] == small).all() and (padded[:6] == 10).all() and (padded[26:] == 10).all()
    large = np.arange(40 * 40, dtype=np.uint16).reshape(40, 40)
    assert (to_training_scale(large, 0.35, scale, warn=said.append) == large[4:36, 4:36]).all()
    coarse = np.arange(16 * 16, dtype=np.float32).reshape(16, 16)
    doubled = to_training_scale(coarse, 0.7, scale, warn=said.append)  # 16 px of 0.7 nm → 32 of 0.35
    assert doubled.shape == (32, 32) and doubled.dtype == np.float32 and len(said) == 1
    rgb = np.zeros((2, 4, 3), np.uint8)
    rgb[..., 2] = 7
    wide = fit_field(rgb, (4, 2))  # crop the width, pad the height with each channel's border median
    assert wide.shape == (4, 2, 3) and (wide[..., 2] == 7).all() and (wide[..., :2] == 0).all()
    assert to_training_scale(small, 0.175, TrainingScale(None, None)) is small  # no scale: as it is
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        to_training_scale(small, None, scale)
    assert [w.category for w in caught] == [ScaleWarning]
    with pytest.raises(InputError, match=r"^pixel_size: expected a positive number of nm per pixel, got 'x'$"):
        check_pixel_size("x")


# ---- 3. the backend said truly, and the calibration error --------------------------------------


def test_geometric_report_says_scikit_learn_and_its_calibration_error(made, tmp_path, capsys):
    code, out, err = run_cli(["evaluate", made["run"], "--out", tmp_path / "report"], capsys)
    assert code == 0, err
    assert err == f"model: geometric (scikit-learn {sklearn.__version__}, cpu)\n"
    assert out.splitlines()[:2] == ["evaluate: 60 of 60 images (test split: 12)",
                                    "dropped by the run's data rules: none"]
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    env = report["inference"]
    assert (env["backend"], env["scikit-learn"], env["device"]) == ("scikit-learn", sklearn.__version__, "cpu")
    assert "keras" not in env and "tensorflow" not in env
    rows = list(csv.DictReader((tmp_path / "report" / "predictions.csv").read_text().splitlines()))
    probs = np.array([[float(r["p_sphere"]), float(r["p_cuboid"])] for r in rows])
    classes = ["sphere", "cuboid"]
    truth = np.array([classes.index(r["true"]) for r in rows])
    decided = np.array([classes.index(r["predicted"]) for r in rows])
    expected = calibration(truth, probs, decided)["expected_calibration_error"]
    assert report["metrics"]["expected_calibration_error"] == pytest.approx(expected, abs=1e-5)
    assert sum(b["count"] for b in report["metrics"]["calibration_bins"]) == 12
    text = (tmp_path / "report" / "report.md").read_text()
    assert f"| expected calibration error (10 bins) | {report['metrics']['expected_calibration_error']:.4f} | – |" \
        in text
    assert "are not calibrated: they sit near 0 or 1 even for wrong decisions" in text
    assert f"scikit-learn {sklearn.__version__}, cpu; feature extraction + classifier" in text


def test_calibration_error_by_hand():
    probs = np.array([[0.95, 0.05], [0.95, 0.05], [0.6, 0.4], [0.3, 0.7]])
    result = calibration(np.array([0, 1, 0, 1]), probs, probs.argmax(axis=1))
    # (0.9, 1]: 2 of 0.95, half right → 2/4 · 0.45; (0.5, 0.6]: 1 right → 1/4 · 0.4; (0.6, 0.7]: 1/4 · 0.3
    assert result["expected_calibration_error"] == pytest.approx(0.4)
    assert [b["count"] for b in result["calibration_bins"]] == [0, 0, 0, 0, 0, 1, 1, 0, 0, 2]
    assert calibration(np.zeros(0, int), np.zeros((0, 2)), np.zeros(0, int))["expected_calibration_error"] is None


# ---- 4. quiet, and no TensorFlow for scikit-learn runs ----------------------------------------


def _clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "STEMSIM_"))}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")])
    return env


def test_predict_of_a_geometric_run_prints_no_tensorflow_lines(made):
    done = subprocess.run([sys.executable, "-m", "stemsim.cli", "predict", str(made["run"]), str(made["originals"][0]),
                           "--pixel-size", "0.35"], capture_output=True, text=True, env=_clean_env(), timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [f"model: geometric (scikit-learn {sklearn.__version__}, cpu)"]
    for noise in ("cuInit", "absl", "oneDNN", "tensorflow", "E0000", "I0000"):
        assert noise not in done.stderr
    assert done.stdout.splitlines()[1].split(",")[1] == made["labels"][0]


def test_a_keras_run_is_quiet_too_and_says_its_backend(made, tmp_path):
    import keras

    from stemsim.classifiers.training import train

    run = train({"model": {"name": "convnet"}, "data": {"kind": "stemsim", "path": str(made["data"])},
                 "preprocess": {"input_size": 16}, "training": {"epochs": 1, "batch_size": 16}, "seed": 0},
                tmp_path / "cnn")
    done = subprocess.run([sys.executable, "-m", "stemsim.cli", "predict", str(run), str(made["originals"][0]),
                           "--pixel-size", "0.35"], capture_output=True, text=True, env=_clean_env(), timeout=180)
    assert done.returncode == 0, done.stderr
    import tensorflow as tf

    device = f"{len(tf.config.list_physical_devices('GPU'))} GPU(s)" if tf.config.list_physical_devices("GPU") \
        else "cpu"
    assert done.stderr.splitlines() == [f"model: convnet (keras {keras.__version__} on tensorflow {tf.__version__}, "
                                        f"{device})"]


def test_scikit_learn_runs_never_import_tensorflow(made, tmp_path):
    code = f"""
import sys
from stemsim.classifiers.evaluation import evaluate
from stemsim.classifiers.prediction import predict_files
from stemsim.classifiers.training import train
train({{"model": {{"name": "geometric", "min_samples_leaf": 4, "iterations": 5}},
       "data": {{"kind": "stemsim", "path": {str(made['data'])!r}}}}}, {str(tmp_path / 'run')!r})
predict_files({str(made['run'])!r}, [{str(made['copies'][0])!r}], pixel_size=0.175)
evaluate({str(made['run'])!r}, out={str(tmp_path / 'report')!r})
print(sorted(m for m in ("tensorflow", "keras") if m in sys.modules))
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_clean_env(),
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "[]"


# ---- 5. evaluate on other data: every image, and what was dropped ----------------------------


def test_other_data_is_scored_whole_and_unknown_classes_are_counted(made, tmp_path, capsys):
    test = np.load(made["data"] / "arrays" / "test-00000.npz")
    other = tmp_path / "other"
    (other / "arrays").mkdir(parents=True)
    for split, picks in (("train", [0, 1, 2, 3]), ("val", [4, 5]), ("test", [6, 7, 8])):
        labels = np.array([*test["labels"][picks], 2, 2])  # + two images of a class the model does not know
        np.savez(other / "arrays" / f"{split}-00000.npz", images=test["images"][[*picks, 9, 10]], labels=labels,
                 classes=np.array(["sphere", "cuboid", "octahedron"]),
                 ids=np.array([f"{split}{i}" for i in range(len(labels))]))
    code, out, err = run_cli(["evaluate", made["run"], "--data", other], capsys)
    assert code == 0, err
    assert out.splitlines()[:3] == [
        "evaluate: 15 images (train split: 6, val split: 4, test split: 5; no spec.yaml to count against)",
        "dropped by the run's data rules: 6 images of classes the model does not know (octahedron: 6)",
        "9 images: accuracy 0.8889 (baseline 0.5556), balanced accuracy 0.8750"]
    report = json.loads((made["run"] / "evaluation" / "other-all" / "metrics.json").read_text())
    assert report["data"]["split"] == "all" and report["data"]["split_asked"] == "auto"
    assert report["data"]["dropped"] == {"unknown_classes": {"octahedron": 6}}
    code, out, err = run_cli(["evaluate", made["run"], "--data", other, "--split", "test"], capsys)
    assert code == 0 and out.splitlines()[0].startswith("evaluate: 5 images (test split: 5;")
    # the run's own dataset in another folder (the same spec_hash): its test split, as without --data
    moved = Path(shutil.copytree(made["data"], tmp_path / "moved"))
    code, out, err = run_cli(["evaluate", made["run"], "--data", moved, "--out", tmp_path / "r"], capsys)
    assert code == 0 and out.splitlines()[0] == "evaluate: 60 of 60 images (test split: 12)", err


# ---- 6. API errors in API words, CLI errors in CLI words -------------------------------------


def test_errors_name_the_api_argument_or_the_option(made, tmp_path, capsys):
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.training import train

    experiment = {"model": {"name": "geometric", "iterations": 5},
                  "data": {"kind": "stemsim", "path": str(made["data"])}}
    with pytest.raises(InputError, match=r"already exists and is not empty \(choose another out or overwrite=True\)$"):
        train(experiment, made["run"])
    with pytest.raises(InputError, match=r"^data: no such directory: /nowhere$"):
        evaluate(made["run"], data="/nowhere")
    with pytest.raises(InputError, match=r"^split: expected auto, train, val, test or all, got 'dev'$"):
        evaluate(made["run"], split="dev")
    (tmp_path / "exp.yaml").write_text(json.dumps(experiment))
    code, out, err = run_cli(["train", tmp_path / "exp.yaml", "--out", made["run"]], capsys)
    assert code == 2 and err == (f"stemsim: error: {made['run']}: already exists and is not empty (choose another "
                                 "--out or --overwrite)\n")
    code, out, err = run_cli(["evaluate", made["run"], "--data", "/nowhere"], capsys)
    assert code == 2 and err == "stemsim: error: --data: no such directory: /nowhere\n"


# ---- 7. help: whole paragraphs, no <bool> ---------------------------------------------------


def test_help_has_whole_paragraphs_and_no_bool_metavar(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    for verb in ("train", "evaluate", "predict"):
        code, out, err = run_cli([verb, "--help"], capsys)
        assert code == 0 and "<bool>" not in out, out
    code, out, err = run_cli(["evaluate", "--help"], capsys)
    assert ("Multi-view data is scored per object: a multiview model pools its views itself, any other model's "
            "per-view outputs are fused (--fusion).") in out  # one line, not the source's line breaks
    code, out, err = run_cli(["predict", "--help"], capsys)
    assert "--pixel-size" in out and "<nm>" in out


# ---- 2. the class order, said by info ---------------------------------------------------------


def test_info_says_the_label_order_differs_from_keras(made, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    code, out, err = run_cli(["info", made["data"]], capsys)
    assert code == 0, err
    assert ("label indices (manifest label_index, npz labels) in the spec's order: 0 = sphere, 1 = cuboid; "
            "keras.utils.image_dataset_from_directory numbers class folders alphabetically (here cuboid, sphere)"
            ) in out
