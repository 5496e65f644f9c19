"""Training: every architecture learns a tiny separable set; train → evaluate → predict from the
command line; multi-label family; schedules; bad runs/models/labels → exit 2."""

from __future__ import annotations

from conftest_classifiers import grid_scores, run_cli, stm_row, stripes, write_class_folders, write_stemsim_arrays, \
    write_stm_folder

import csv
import json

import numpy as np
import pytest
import yaml
from PIL import Image

from stemsim.classifiers.data import Dataset, Split
from stemsim.classifiers.inference import Predictor
from stemsim.classifiers.run import open_run
from stemsim.classifiers.training import _sample_weights, train
from stemsim.errors import InputError

SIZE = 16  # small images keep the whole suite within a few minutes on 2 CPU cores


@pytest.fixture(scope="module")
def stemsim_data(tmp_path_factory):
    return write_stemsim_arrays(tmp_path_factory.mktemp("stemsim") / "ds", size=SIZE, counts=(48, 16, 32), seed=4)


def experiment(data, model, epochs, lr, batch=16, **extra):
    return {"model": model, "data": {"kind": "stemsim", "path": str(data)}, "preprocess": {"input_size": SIZE},
            "training": {"epochs": epochs, "batch_size": batch, "optimizer": {"name": "adam", "learning_rate": lr}},
            "seed": 1, **extra}


def test_accuracy(run_dir, data_path, split="test"):
    """Accuracy of a run on a split of a stemsim dataset (decisions as in evaluate/predict)."""
    run = open_run(run_dir)
    predictor = Predictor(run)
    from stemsim.classifiers.data import load_dataset

    ds = load_dataset({**run.config["data"], "path": str(data_path)}, predictor.pre, (split,))
    _, decisions = run.decide(predictor.outputs(ds.splits[split].images))
    return float(np.mean(decisions == ds.splits[split].targets.argmax(1)))


test_accuracy.__test__ = False  # a helper, not a test

ARCHITECTURES = {
    "deepdog": ({"name": "deepdog", "batchnorm_momentum": 0.9}, 8, 3e-3, 8),
    "vgg_like": ({"name": "vgg_like"}, 6, 1e-3, 16),
    "rashidi_wolkow": ({"name": "rashidi_wolkow"}, 5, 1e-3, 16),
    "convnet": ({"name": "convnet"}, 5, 3e-3, 16),
    "resnet18": ({"name": "resnet18", "weights": "none"}, 3, 1e-3, 16),
    "featurenet": ({"name": "featurenet", "weights": "none"}, 8, 1e-2, 16),  # frozen random features + head
    "finenet": ({"name": "finenet", "weights": "none"}, 3, 1e-3, 16),
    "family": ({"name": "family", "member": "convnet", "group_size": 3}, 5, 3e-3, 16),
}


@pytest.mark.parametrize("name", sorted(ARCHITECTURES))
def test_architecture_learns_separable_set(name, stemsim_data, tmp_path):
    model, epochs, lr, batch = ARCHITECTURES[name]
    run = train(experiment(stemsim_data, model, epochs, lr, batch), tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert info["classes"] == ["horizontal", "vertical"] and info["best"]["monitor"] == "val_loss"
    assert "random initialisation" in info["weights"]
    if name in ("featurenet", "finenet"):
        assert "as asked (weights: none)" in info["weights"]
    accuracy = test_accuracy(run, stemsim_data)
    assert accuracy >= 0.8, f"{name}: test accuracy {accuracy} (chance 0.5)"


def test_cli_train_evaluate_predict(stemsim_data, tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(experiment("elsewhere", {"name": "convnet"}, 4, 3e-3,
                                             augment={"hflip": True, "vflip": True})))
    code, out, err = run_cli(["train", exp, "--out", tmp_path / "run", "--quiet", "--data", stemsim_data], capsys)
    assert code == 0, err
    run = tmp_path / "run"
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml", "history.csv", "history.json", "model.keras",
                                                     "run.json"]
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["training"]["optimizer"]["learning_rate"] == 3e-3 and config["augment"]["hflip"] is True
    assert config["data"]["path"] == str(stemsim_data.resolve())  # --data replaced data.path
    history = json.loads((run / "history.json").read_text())
    assert [row["epoch"] for row in history] == [1, 2, 3, 4]
    assert "val_loss" in history[0] and "learning_rate" in history[0]
    best = json.loads((run / "run.json").read_text())["best"]
    assert f"kept epoch {best['epoch']} (val_loss {best['value']:.4g})" in out.splitlines()

    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0, err
    report = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    m = report["metrics"]
    assert report["data"]["n_images"] == 32 and m["accuracy"] >= 0.8 and m["balanced_accuracy"] >= 0.8
    assert set(m["per_class"]) == {"horizontal", "vertical"} and m["roc_auc_macro"] >= 0.8
    assert np.array(m["confusion_matrix"]).sum() == 32
    assert report["constant_baseline"]["accuracy"] == pytest.approx(0.5, abs=0.1)
    assert report["model_size"]["model_file_bytes"] == (run / "model.keras").stat().st_size
    assert report["inference"]["images_per_second"] > 0 and report["weights"].startswith("none")
    md = (run / "evaluation" / "test" / "report.md").read_text()
    assert "constant baseline" in md and "| horizontal |" in md and "images/s" in md
    rows = list(csv.reader(open(run / "evaluation" / "test" / "confusion.csv")))
    assert rows[0] == ["true \\ predicted", "horizontal", "vertical"]
    assert sum(int(x) for r in rows[1:] for x in r[1:]) == 32
    assert (run / "evaluation" / "test" / "confusion.png").stat().st_size > 1000
    assert len(list(csv.reader(open(run / "evaluation" / "test" / "predictions.csv")))) == 33
    assert f"accuracy {m['accuracy']:.4f}" in out

    # predict: any size, 8/16-bit, one unreadable file → its error line, others predicted, exit 2
    images, labels = stripes(2, 40, seed=9, period=(7.5, 15.0))  # resized to 16: the training periods
    Image.fromarray(images[0]).save(tmp_path / "a.png")
    Image.fromarray(images[1].astype(np.uint16) * 257).save(tmp_path / "b16.png")
    (tmp_path / "broken.png").write_bytes(b"\x89PNG garbage")
    code, out, err = run_cli(["predict", run, tmp_path / "a.png", tmp_path / "broken.png", tmp_path / "b16.png"],
                             capsys)
    assert code == 2
    lines = list(csv.reader(out.splitlines()))
    assert lines[0] == ["file", "label", "p_horizontal", "p_vertical", "pixel_size_nm", "error"]
    assert [row[1] for row in lines[1:]] == [["horizontal", "vertical"][labels[0]], "",
                                             ["horizontal", "vertical"][labels[1]]]
    assert abs(float(lines[1][2]) + float(lines[1][3]) - 1) < 1e-4 and "not a readable image" in lines[2][5]
    err_lines = [line for line in err.splitlines() if line.startswith("stemsim: error:")]
    assert err_lines[0] == f"stemsim: error: {tmp_path / 'broken.png'}: " + lines[2][5].split(": ", 1)[1]
    assert "1 of 3 file(s) could not be read" in err_lines[-1] and "Traceback" not in err
    code, out, err = run_cli(["predict", run, tmp_path / "a.png", "--out", tmp_path / "p.json"], capsys)
    assert code == 0
    rows = json.loads((tmp_path / "p.json").read_text())
    assert rows[0]["label"] in ("horizontal", "vertical") and set(rows[0]["probabilities"]) == {"horizontal",
                                                                                                "vertical"}


def test_bad_runs_models_and_labels_exit_2(stemsim_data, tmp_path, capsys):
    run = train(experiment(stemsim_data, {"name": "convnet"}, 1, 1e-3), tmp_path / "run")
    # data whose labels differ from the model's
    other = write_stemsim_arrays(tmp_path / "other", size=SIZE, counts=(4, 2, 4), classes=("round", "square"))
    code, out, err = run_cli(["evaluate", run, "--data", other], capsys)
    assert code == 2 and "do not match the model's ['horizontal', 'vertical']" in err and len(err.splitlines()) == 1
    # data of the same kind holding a subset of the model's classes is fine
    images, labels = stripes(12, SIZE, seed=2)
    (tmp_path / "sub" / "arrays").mkdir(parents=True)
    for split in ("train", "val", "test"):
        np.savez(tmp_path / "sub" / "arrays" / f"{split}-00000.npz", images=images[labels == 1],
                 labels=np.zeros(int((labels == 1).sum()), np.int64), classes=np.array(["vertical"]),
                 ids=np.array([f"{split}{i}" for i in range(int((labels == 1).sum()))]))
    code, out, err = run_cli(["evaluate", run, "--data", tmp_path / "sub", "--split", "all"], capsys)
    assert code == 0, err
    report = json.loads((run / "evaluation" / "sub-all" / "metrics.json").read_text())
    assert report["data"]["n_images"] == 18 and report["metrics"]["per_class"]["horizontal"]["support"] == 0
    # a folder of class folders is not the run's data kind (stemsim)
    folder = write_class_folders(tmp_path / "folder", images, labels)
    code, out, err = run_cli(["evaluate", run, "--data", folder], capsys)
    assert code == 2 and "is not a stemsim dataset" in err
    # model file corrupt / missing, not a run directory
    (run / "model.keras").write_bytes(b"PK\x03\x04 not really a zip")
    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 2 and err.startswith(f"stemsim: error: {run / 'model.keras'}: cannot load the model")
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    (run / "model.keras").unlink()
    code, out, err = run_cli(["predict", run, tmp_path / "x.png"], capsys)
    assert code == 2 and "model.keras: model file is missing" in err
    code, out, err = run_cli(["evaluate", tmp_path], capsys)
    assert code == 2 and "not a run directory (config.yaml is missing)" in err
    code, out, err = run_cli(["evaluate", tmp_path / "nope"], capsys)
    assert code == 2 and "no such run directory" in err
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    code, out, err = run_cli(["evaluate", run, "--out", tmp_path / "mine"], capsys)
    assert code == 2 and "refusing to replace it" in err and (tmp_path / "mine" / "notes.txt").exists()
    code, out, err = run_cli(["evaluate", run, "--split", "dev"], capsys)
    assert code == 2 and "--split: expected auto, train, val, test or all" in err


def test_step_schedule_and_early_stopping(stemsim_data, tmp_path):
    exp = experiment(stemsim_data, {"name": "convnet"}, 3, 1e-3)
    exp["training"]["schedule"] = {"kind": "step", "every": 1, "factor": 0.5}
    run = train(exp, tmp_path / "step")
    lrs = [row["learning_rate"] for row in json.loads((run / "history.json").read_text())]
    np.testing.assert_allclose(lrs, [1e-3, 5e-4, 2.5e-4], rtol=1e-5)
    # with a vanishing learning rate nothing improves: patience 1 stops after epoch 2
    exp = experiment(stemsim_data, {"name": "convnet"}, 6, 1e-12)
    exp["training"]["early_stopping"] = {"patience": 1}
    exp["training"]["monitor"] = "val_accuracy"
    run = train(exp, tmp_path / "stop")
    info = json.loads((run / "run.json").read_text())
    assert info["epochs_run"] == 2 and info["best"]["epoch"] == 1


def test_class_weights():
    split = Split([np.zeros((2, 2, 1))] * 4, np.eye(2, dtype=np.float32)[[0, 0, 0, 1]], list("abcd"))
    ds = Dataset(["a", "b"], False, {"train": split})
    cfg = {"training": {"class_weights": "balanced"}}
    np.testing.assert_allclose(_sample_weights(cfg, ds, split), [4 / 6, 4 / 6, 4 / 6, 2.0])
    cfg = {"training": {"class_weights": {"b": 3.0}}}
    np.testing.assert_allclose(_sample_weights(cfg, ds, split), [1, 1, 1, 3])
    with pytest.raises(InputError, match=r"^training\.class_weights\.c: not a class of the data"):
        _sample_weights({"training": {"class_weights": {"c": 2.0}}}, ds, split)


# three members sharing both categories learn the stripe-free images more slowly than six one-category ones
@pytest.mark.parametrize("members_learn, targets, min_accuracy", [("one", "binary", 0.8), ("all", "score", 0.75)])
def test_multilabel_family_on_stm_layout(members_learn, targets, min_accuracy, tmp_path, capsys):
    images, scores = grid_scores(96, SIZE, seed=5)
    rows = [stm_row(f"img_{i}.png", {"rows": s[0], "dimers": s[1]}) for i, s in enumerate(scores)]
    root = write_stm_folder(tmp_path / "stm", images, rows)
    exp = {"model": {"name": "family", "member": "convnet", "group_size": 3, "members_learn": members_learn},
           "data": {"kind": "stm", "path": str(root), "categories": ["dimers", "rows"], "weighting": "score",
                    "targets": targets, "val_fraction": 0.2, "test_fraction": 0.3},
           "preprocess": {"input_size": SIZE},
           "training": {"epochs": 6, "batch_size": 16, "optimizer": {"name": "adam", "learning_rate": 3e-3}}}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    code, out, err = run_cli(["train", tmp_path / "exp.yaml", "--out", tmp_path / "run", "-q"], capsys)
    assert code == 0, err
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["multilabel"] and info["group_size"] == 3 and info["classes"] == ["dimers", "rows"]
    # soft targets (0.1 or 0.9 here) never equal a 0/1 answer: training accuracy compares sides of 0.5
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert history[-1]["accuracy"] > 0.75
    code, out, err = run_cli(["evaluate", tmp_path / "run"], capsys)
    assert code == 0, err
    report = json.loads((tmp_path / "run" / "evaluation" / "test" / "metrics.json").read_text())
    m, b = report["metrics"], report["constant_baseline"]
    assert report["task"] == "multi-label" and report["family"]["group_size"] == 3
    assert report["family"]["members_learn"] == members_learn and report["targets"] == targets
    members = report["family"]["members"]
    assert set(members["per_category"]) == {"dimers", "rows"}
    assert all(len(v["member_roc_auc"]) == 3 for v in members["per_category"].values())
    assert 0 <= members["unanimous"] <= 1 and 0.5 < members["mean_member_roc_auc"] <= 1
    assert m["exact_match_accuracy"] >= 0.75 and m["exact_match_accuracy"] > b["exact_match_accuracy"] + 0.2
    assert set(m["per_category"]) == {"dimers", "rows"} and m["per_category"]["rows"]["accuracy"] >= min_accuracy
    conf = list(csv.reader(open(tmp_path / "run" / "evaluation" / "test" / "confusion.csv")))
    assert conf[0] == ["category", "tn", "fp", "fn", "tp"] and len(conf) == 3
    # predict gives the votes of each category's three members
    Image.fromarray(images[0]).save(tmp_path / "one.png")
    code, out, err = run_cli(["predict", tmp_path / "run", tmp_path / "one.png", "--format", "json"], capsys)
    assert code == 0, err
    row = json.loads(out)[0]
    assert set(row["votes"]) == {"dimers", "rows"} and all(0 <= v <= 3 for v in row["votes"].values())
    holds = [c for c in ("dimers", "rows") if row["votes"][c] >= 2]
    assert row["label"] == ";".join(holds)
