"""Inception-v3 transfer learning end to end with a tiny SavedModel the test makes itself,
the on-disk bottleneck cache, and the keras.applications extractor with fine-tuning."""

from __future__ import annotations

from conftest_classifiers import make_savedmodel, run_cli, stripes, write_stemsim_arrays

import json

import numpy as np
import pytest
import yaml
from PIL import Image

from stemsim.classifiers.training import train

SIZE = 24


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_stemsim_arrays(tmp_path_factory.mktemp("incep") / "ds", size=SIZE, counts=(40, 12, 24), seed=8)


@pytest.fixture(scope="module")
def savedmodel(tmp_path_factory):
    return make_savedmodel(tmp_path_factory.mktemp("hub") / "features")


def hub_experiment(data, extractor, cache, **model):
    return {"model": {"name": "inception_v3", "extractor": str(extractor), "cache_dir": str(cache), **model},
            "data": {"kind": "stemsim", "path": str(data)}, "preprocess": {"input_size": SIZE},
            "augment": {"hflip": True},
            "training": {"epochs": 30, "batch_size": 16, "optimizer": {"name": "adam", "learning_rate": 0.05}}}


def cache_files(cache):
    return {p: p.stat().st_mtime_ns for p in cache.rglob("*.npy")}


def test_savedmodel_extractor_end_to_end_with_cache_reuse(data, savedmodel, tmp_path, capsys):
    cache = tmp_path / "cache"
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(hub_experiment(data, savedmodel, cache)))
    code, out, err = run_cli(["train", exp, "--out", tmp_path / "run1", "-q"], capsys)
    assert code == 0, err
    info = json.loads((tmp_path / "run1" / "run.json").read_text())
    assert info["pipeline"] == "features" and info["feature_dim"] == 6
    assert info["weights"].startswith(f"SavedModel {savedmodel}") and "cached bottlenecks" in info["weights"]
    # every training image under both transforms of {identity, hflip}, plus the validation images
    assert info["bottleneck_cache"]["computed"] == 2 * 40 + 12 and info["bottleneck_cache"]["reused"] == 0
    first = cache_files(cache)
    assert len(first) == 92

    # a second run with the same extractor and images computes nothing and rewrites nothing
    code, out, err = run_cli(["train", exp, "--out", tmp_path / "run2", "-q"], capsys)
    assert code == 0, err
    info2 = json.loads((tmp_path / "run2" / "run.json").read_text())
    assert info2["bottleneck_cache"]["computed"] == 0 and info2["bottleneck_cache"]["reused"] == 92
    assert cache_files(cache) == first
    assert info2["extractor_key"] == info["extractor_key"]

    # evaluation reuses the same extractor (test images are computed once, then cached)
    code, out, err = run_cli(["evaluate", tmp_path / "run1"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "run1" / "evaluation" / "test" / "metrics.json").read_text())
    assert report["metrics"]["accuracy"] >= 0.8 and report["weights"] == info["weights"]
    assert report["model_size"]["extractor_bytes"] > 0
    assert report["model_size"]["total_bytes"] == report["model_size"]["model_file_bytes"] + \
        report["model_size"]["extractor_bytes"]
    assert len(cache_files(cache)) == 92 + 24

    # predict: any image size, resized as in training
    images, labels = stripes(2, 48, seed=3, period=(6.0, 12.0))
    for i, image in enumerate(images):
        Image.fromarray(image).save(tmp_path / f"p{i}.png")
    code, out, err = run_cli(["predict", tmp_path / "run1", tmp_path / "p0.png", tmp_path / "p1.png"], capsys)
    assert code == 0, err
    predicted = [line.split(",")[1] for line in out.strip().splitlines()[1:]]
    assert predicted == [["horizontal", "vertical"][k] for k in labels]


def test_changed_extractor_is_refused(data, tmp_path, capsys):
    extractor = make_savedmodel(tmp_path / "features")
    run = train({**hub_experiment(data, extractor, tmp_path / "cache"), "training": {"epochs": 1}}, tmp_path / "run")
    import tensorflow as tf

    module = tf.saved_model.load(str(extractor))
    module.scale.assign([2.0, 1.0, 4.0, 4.0, 4.0, 1.0])
    tf.saved_model.save(module, str(extractor))
    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 2 and "is not the one this run was trained with" in err


def test_random_crops_are_refused_with_the_cache(data, savedmodel, tmp_path, capsys):
    exp = hub_experiment(data, savedmodel, tmp_path / "cache")
    exp["preprocess"]["resize_short"] = SIZE + 4
    exp["augment"]["crop"] = True
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    code, out, err = run_cli(["train", tmp_path / "exp.yaml", "--out", tmp_path / "run"], capsys)
    assert code == 2 and "augment.crop: random crops cannot use the bottleneck cache" in err
    assert not (tmp_path / "run").exists() and not list(tmp_path.glob(".run.*"))


def test_keras_extractor_fine_tuning_with_weights_none(tmp_path):
    data = write_stemsim_arrays(tmp_path / "ds", size=32, counts=(8, 4, 4), seed=1)
    exp = {"model": {"name": "inception_v3", "weights": "none", "fine_tune_blocks": 1, "fine_tune_epochs": 1,
                     "cache_dir": str(tmp_path / "cache")},
           "data": {"kind": "stemsim", "path": str(data)}, "preprocess": {"input_size": 75},
           "training": {"epochs": 1, "batch_size": 8}}
    run = train(exp, tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert "keras.applications InceptionV3, weights none (random initialisation, as asked)" in info["weights"]
    assert info["feature_dim"] == 2048 and info["bottleneck_cache"]["computed"] == 12
    history = json.loads((run / "history.json").read_text())
    assert [row["stage"] for row in history] == ["head", "fine_tune"] and history[1]["epoch"] == 2
    assert history[1]["learning_rate"] == pytest.approx(1e-4)
    # whichever stage won on validation, the saved model is consistent with run.json
    import keras

    model = keras.saving.load_model(run / "model.keras", compile=False)
    expected = (2048,) if info["pipeline"] == "features" else (75, 75, 3)
    assert tuple(model.input_shape[1:]) == expected
    assert np.all(np.isfinite(np.asarray(model.predict(np.zeros((1, *expected), np.float32), verbose=0))))
