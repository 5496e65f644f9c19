"""A shared run directory can never run code: a payload planted in each model file of a small
run of every kind is refused with one line (exit 2), and the payload never runs.

Every payload here is live: a control loads it the unsafe way and sees it run, so a test
whose payload had gone stale would fail rather than pass by accident.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest_classifiers import run_cli, write_stemsim_arrays
from PIL import Image
from test_pixelwise import cubes  # noqa: F401  (the tiny ground-truth dataset fixture)

MARKER = "STEMSIM_SECURITY_MARKER"


def touch_marker() -> None:
    Path(os.environ[MARKER]).write_text("the payload ran")


class PickleBomb:
    """Runs ``touch_marker`` when unpickled."""

    def __reduce__(self):
        return (touch_marker, ())


class StateBomb:
    """Runs ``touch_marker`` when skops (or pickle) restores its state."""

    def __init__(self):
        self.armed = True

    def __setstate__(self, state):
        touch_marker()


@pytest.fixture
def marker(tmp_path, monkeypatch):
    path = tmp_path / "payload-ran"
    monkeypatch.setenv(MARKER, str(path))
    return path


def train(experiment: dict, out: Path) -> Path:
    from stemsim.classifiers.training import train as train_run

    return train_run(experiment, out)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cubes):  # noqa: F811
    """One small trained run of each kind that stores a model file: geometric, texture, a CNN,
    and a two_stage run with its corner classifier (U-Net + three scikit-learn files)."""
    base = tmp_path_factory.mktemp("security")
    stripes = write_stemsim_arrays(base / "stripes", size=32, counts=(24, 8, 8))
    made = {
        "geometric": train({"model": {"name": "geometric", "min_samples_leaf": 4, "iterations": 20},
                            "data": {"kind": "stemsim", "path": str(cubes)}, "seed": 1}, base / "geometric"),
        "texture": train({"model": {"name": "texture", "iterations": 10, "min_samples_leaf": 4},
                          "data": {"kind": "stemsim", "path": str(stripes)}, "preprocess": {"input_size": 32},
                          "seed": 0}, base / "texture"),
        "cnn": train({"model": {"name": "convnet"}, "data": {"kind": "stemsim", "path": str(stripes)},
                      "preprocess": {"input_size": 32}, "training": {"epochs": 1, "batch_size": 16},
                      "seed": 0}, base / "cnn"),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("stemsim.classifiers.corners.CANDIDATE_THRESHOLD", 0.0)  # a 1-epoch U-Net's peaks are faint
        made["two_stage"] = train({"model": {"name": "two_stage", "min_samples_leaf": 4, "unet_epochs": 1,
                                             "unet_depth": 2, "unet_images": 8, "unet_val_images": 4,
                                             "iterations": 20, "corner_classifier": True},
                                   "data": {"kind": "stemsim", "path": str(cubes)}, "seed": 1}, base / "two_stage")
    image = base / "image.png"
    Image.fromarray(np.load(next((cubes / "arrays").glob("test-*.npz")))["images"][0]).save(image)
    made["image"] = image
    return made


@pytest.fixture
def copy_of(runs, tmp_path):
    def copy(kind: str) -> Path:
        return Path(shutil.copytree(runs[kind], tmp_path / kind))
    return copy


def refused(run: Path, image: Path, capsys) -> list[str]:
    """``evaluate`` and ``predict`` of ``run``: both exit 2 with one error line; the lines."""
    lines = []
    for argv in (["evaluate", run, "--out", run.parent / "report"], ["predict", run, image]):
        code, _, err = run_cli(argv, capsys)
        assert code == 2, err
        errors = [line for line in err.splitlines() if line.startswith("stemsim: error:")]
        assert len(errors) == 1 and "Traceback" not in err, err
        lines.append(errors[0])
    assert not (run.parent / "report").exists()
    return lines


def skops_dump(path: Path, data: dict) -> None:
    from stemsim.classifiers.model_files import _skops_io

    _skops_io().dump(data, path)


def test_the_payloads_are_live(tmp_path, marker):
    import joblib

    joblib.dump(PickleBomb(), tmp_path / "bomb.joblib")
    joblib.load(tmp_path / "bomb.joblib")
    assert marker.read_text() == "the payload ran"
    marker.unlink()
    skops_dump(tmp_path / "bomb.skops", {"format": 2, "extra": StateBomb()})
    from stemsim.classifiers.model_files import _skops_io

    skops = _skops_io()
    skops.load(tmp_path / "bomb.skops", trusted=skops.get_untrusted_types(file=tmp_path / "bomb.skops"))
    assert marker.is_file()


SKLEARN_FILES = [("geometric", "model.skops", "model"), ("texture", "model.skops", "model"),
                 ("two_stage", "model.skops", "model"), ("two_stage", "corner_model.skops", "corner classifier"),
                 ("two_stage", "views_model.skops", "view-pooling classifier"),
                 ("two_stage", "backprojection_model.skops", "back-projection classifier")]


@pytest.mark.parametrize("kind, name, what", SKLEARN_FILES)
def test_a_state_payload_beside_the_real_model_is_refused(runs, copy_of, marker, capsys, kind, name, what):
    """The quiet attack: the real model plus one extra key that runs code when restored."""
    from stemsim.classifiers.model_files import load_file

    run = copy_of(kind)
    real = load_file(run / "model.skops")
    skops_dump(run / name, {**real, "extra": StateBomb()})
    lines = refused(run, runs["image"], capsys)
    expected = (f"stemsim: error: {run / name}: refusing to load the {what}: it holds the untrusted type "
                "'test_security.StateBomb' (a stemsim model file holds only scikit-learn and stemsim classes)")
    assert lines == [expected, expected] and not marker.exists()


def _sklearn_function():
    from sklearn.utils.validation import check_array

    return check_array


@pytest.mark.parametrize("payload, type_name", [
    (os.system, "posix.system"), (eval, "builtins.eval"), (shutil.rmtree, "shutil.rmtree"),
    (_sklearn_function(), "sklearn.utils.validation.check_array"),  # inside scikit-learn, but not a class
])
def test_a_function_in_place_of_the_estimator_is_refused(runs, copy_of, marker, capsys, payload, type_name):
    run = copy_of("geometric")
    skops_dump(run / "model.skops", {"format": 2, "estimator": payload, "feature_names": []})
    assert refused(run, runs["image"], capsys)[0] == (
        f"stemsim: error: {run / 'model.skops'}: refusing to load the model: it holds the untrusted type "
        f"'{type_name}' (a stemsim model file holds only scikit-learn and stemsim classes)")


@pytest.mark.parametrize("kind", ["geometric", "texture", "two_stage"])
def test_a_pickle_is_never_loaded(runs, copy_of, marker, capsys, kind):
    """A run of before skops (or one that claims to be): run.json names a pickle."""
    import joblib

    run = copy_of(kind)
    joblib.dump(PickleBomb(), run / "model.joblib")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "model_file": "model.joblib"}))
    lines = refused(run, runs["image"], capsys)
    assert lines[0] == (f"stemsim: error: {run / 'model.joblib'}: a pickle model file of a run made before stemsim "
                        "stored models safely (loading it could run code); if you trust where the run came from, "
                        f"convert it with `stemsim convert-run {run} --trust`, or train the run again")
    assert not marker.exists()


def test_a_pickle_under_the_skops_name_or_the_keras_name_is_refused(runs, copy_of, marker, capsys):
    import joblib

    run = copy_of("geometric")
    joblib.dump(PickleBomb(), run / "model.skops")
    assert refused(run, runs["image"], capsys)[0].startswith(
        f"stemsim: error: {run / 'model.skops'}: not a stemsim model file (")
    # config.yaml says geometric, run.json names model.keras, which is a pickle
    joblib.dump(PickleBomb(), run / "model.keras")
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "model_file": "model.keras"}))
    assert refused(run, runs["image"], capsys)[0].startswith(
        f"stemsim: error: {run / 'model.keras'}: not a stemsim model file (")
    assert not marker.exists()


def test_a_missing_skops_file_beside_an_old_pickle_points_to_the_conversion(runs, copy_of, marker, capsys):
    import joblib

    run = copy_of("two_stage")
    (run / "corner_model.skops").unlink()
    joblib.dump(PickleBomb(), run / "corner_model.joblib")
    assert refused(run, runs["image"], capsys)[0].startswith(
        f"stemsim: error: {run / 'corner_model.joblib'}: a pickle model file of a run made before stemsim")
    assert not marker.exists()


@pytest.mark.parametrize("name, problem", [
    ("ABSOLUTE", "is not a file inside the run directory"),
    ("../outside.joblib", "is not a file inside the run directory"),
    ("sub/../../outside.joblib", "is not a file inside the run directory"),
    ("link.skops", "leads outside the run directory"),
    (7, "expected a file name, got 7"),
    ("", "expected a file name, got ''"),
])
def test_run_json_names_only_files_inside_the_run(runs, copy_of, marker, capsys, tmp_path, name, problem):
    import joblib

    run = copy_of("geometric")
    outside = tmp_path / "outside.joblib"
    joblib.dump(PickleBomb(), outside)
    (run / "link.skops").symlink_to(outside)
    name = str(outside) if name == "ABSOLUTE" else name
    info = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**info, "model_file": name}))
    shown = f"{name!r} " if isinstance(name, str) and name else ""
    expected = f"stemsim: error: {run / 'run.json'}: model_file: {shown if 'expected' not in problem else ''}{problem}"
    assert refused(run, runs["image"], capsys) == [expected, expected] and not marker.exists()


def test_keras_safe_mode_refuses_a_lambda_layer(runs, copy_of, marker, capsys):
    import keras

    run = copy_of("cnn")

    # a Python lambda is what Keras can store (as bytecode) and would run when the model is used
    bomb = lambda x: (__import__("pathlib").Path(__import__("os").environ["STEMSIM_SECURITY_MARKER"]).write_text("ran"), x)[1]  # noqa

    inputs = keras.Input((32, 32, 1))
    outputs = keras.layers.Dense(2, activation="softmax")(
        keras.layers.Flatten()(keras.layers.Lambda(bomb, output_shape=(32, 32, 1))(inputs)))
    keras.Model(inputs, outputs).save(run / "model.keras")
    lines = refused(run, runs["image"], capsys)
    assert lines == [f"stemsim: error: {run / 'model.keras'}: refusing to load the model: it holds Python code "
                     "(a Lambda layer or a reference to a function), which Keras' safe mode does not run"] * 2
    assert not marker.exists()
    # the control: without safe mode the same file runs the function once the model is used
    unsafe = keras.saving.load_model(run / "model.keras", compile=False, safe_mode=False)
    unsafe(np.zeros((1, 32, 32, 1), np.float32))
    assert marker.exists()


def test_every_kind_still_loads_and_predicts(runs, capsys):
    for kind in ("geometric", "texture", "cnn", "two_stage"):
        code, out, err = run_cli(["predict", runs[kind], runs["image"]], capsys)
        assert code == 0, err
        assert len(out.splitlines()) == 2


def test_convert_run_needs_trust_and_keeps_the_predictions(runs, copy_of, capsys):
    import joblib

    from stemsim.classifiers.model_files import load_file

    run = copy_of("two_stage")
    code, before, err = run_cli(["predict", run, runs["image"]], capsys)
    assert code == 0, err
    # make it a run of before skops: the same dicts as joblib (format 1) pickles
    names = sorted(p.name for p in run.glob("*.skops"))
    for name in names:
        data = load_file(run / name)
        joblib.dump({**data, "format": 1}, (run / name).with_suffix(".joblib"))
        (run / name).unlink()
    info = json.loads((run / "run.json").read_text())
    info["model_file"], info["corners"]["file"] = "model.joblib", "corner_model.joblib"
    (run / "run.json").write_text(json.dumps(info))
    code, _, err = run_cli(["convert-run", run], capsys)
    assert (code, err) == (2, f"stemsim: error: {run}: converting unpickles its .joblib files, which can run "
                              "code; pass --trust only for a run you made or whose source you trust\n")
    assert not list(run.glob("*.skops"))
    code, out, err = run_cli(["convert-run", run, "--trust"], capsys)
    assert code == 0, err
    assert sorted(p.name for p in run.glob("*.skops")) == names and not list(run.glob("*.joblib"))
    info = json.loads((run / "run.json").read_text())
    assert info["model_file"] == "model.skops" and info["corners"]["file"] == "corner_model.skops"
    code, after, err = run_cli(["predict", run, runs["image"]], capsys)
    assert code == 0 and after == before
    code, _, err = run_cli(["convert-run", run, "--trust"], capsys)
    assert (code, err) == (2, f"stemsim: error: {run}: has no .joblib model files to convert\n")


def test_no_pickle_on_any_load_path():
    """No module of the package unpickles, except the conversion the user asks for by name."""
    root = Path(__file__).resolve().parents[1]
    offenders = []
    for path in [*root.glob("classifiers/**/*.py"), *root.glob("stemsim/**/*.py"), *root.glob("benchmarks/**/*.py"),
                 *root.glob("simulator/**/*.py")]:
        text = path.read_text()
        for needle in ("joblib.load", "pickle.load", "allow_pickle=True", "import pickle", "cloudpickle"):
            if needle in text and not (path.name == "model_files.py" and needle == "joblib.load"):
                offenders.append(f"{path.relative_to(root)}: {needle}")
    assert offenders == []
    text = (root / "classifiers" / "model_files.py").read_text()
    assert text.count("joblib.load") == 1 and "def convert_legacy_run" in text
