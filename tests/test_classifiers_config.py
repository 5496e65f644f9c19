"""Experiment YAML: defaults, and bad input → one InputError line naming the key (CLI: exit 2)."""

from __future__ import annotations

import re

from conftest_classifiers import run_cli, stripes, write_class_folders

import pytest
import yaml

from stemsim.classifiers.config import load_experiment
from stemsim.errors import InputError


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    images, labels = stripes(12, 16)
    return write_class_folders(tmp_path_factory.mktemp("cfg") / "data", images, labels)


def experiment(folder, **sections):
    base = {"model": {"name": "convnet"}, "data": {"kind": "folder", "path": str(folder)}}
    for key, value in sections.items():
        base[key] = value
    return base


def test_defaults_follow_the_model(folder):
    cfg = load_experiment(experiment(folder, model={"name": "deepdog"}))
    assert cfg["training"]["optimizer"] == {"name": "rmsprop", "learning_rate": 1e-3, "momentum": 0.0,
                                            "nesterov": False}
    assert cfg["preprocess"]["input_size"] == 128 and cfg["preprocess"]["normalize"] == "none"
    assert cfg["training"]["loss"] == "categorical_crossentropy"
    vgg = load_experiment(experiment(folder, model="vgg_like"))["training"]["optimizer"]
    assert vgg == {"name": "sgd", "learning_rate": 0.01, "momentum": 0.9, "nesterov": True}
    rw = load_experiment(experiment(folder, model="rashidi_wolkow"))["training"]["optimizer"]
    assert rw["name"] == "adam" and rw["learning_rate"] == 1e-4
    fam = load_experiment(experiment(folder, model={"name": "family", "member": "convnet"}))
    assert fam["training"]["loss"] == "binary_crossentropy" and fam["preprocess"]["input_size"] == 224
    assert fam["preprocess"]["normalize"] == "imagenet" and fam["model"]["group_size"] == 3


def test_resolved_config_round_trips(folder):
    cfg = load_experiment(experiment(folder, training={"optimizer": {"learning_rate": "1e-4"}}))
    assert cfg["training"]["optimizer"]["learning_rate"] == 1e-4  # YAML 1.1 reads 1e-4 as text
    assert load_experiment(yaml.safe_load(yaml.safe_dump(cfg))) == cfg


BAD = [
    ({"training": {"optimiser": {"name": "sgd"}}}, r"^training\.optimiser: unknown key"),
    ({"training": {"epochs": 0}}, r"^training\.epochs: must be >= 1, got 0$"),
    ({"training": {"batch_size": 2.5}}, r"^training\.batch_size: expected an integer"),
    ({"training": {"optimizer": {"name": "adam", "momentum": 0.9}}}, r"^training\.optimizer\.momentum: adam has"),
    ({"training": {"optimizer": {"name": "rmsprop", "nesterov": True, "momentum": 0.9}}},
     r"^training\.optimizer\.nesterov: only sgd"),
    ({"training": {"optimizer": {"learning_rate": -1}}}, r"^training\.optimizer\.learning_rate: must be > 0"),
    ({"training": {"schedule": {"kind": "cosine"}}}, r"^training\.schedule\.kind: expected one of none, step, plateau"),
    ({"training": {"schedule": {"factor": 1.5}}}, r"^training\.schedule\.factor: must be < 1"),
    ({"training": {"loss": "categorical_crossentropy"}, "model": {"name": "family", "member": "convnet"}},
     r"^training\.loss: categorical_crossentropy needs single-label"),
    ({"model": {"name": "alexnet"}}, r"^model\.name: unknown model 'alexnet'"),
    ({"model": {"name": "family", "group_size": 4}}, r"^model\.group_size: must be odd"),
    ({"model": {"name": "family", "member": "family"}}, r"^model\.member: expected one of"),
    ({"model": {"name": "family", "member": "deepdog", "member_options": {"dropout": 2}}},
     r"^model\.member_options\.dropout: must be < 1"),
    ({"model": {"name": "featurenet"}}, r"^model\.weights: required key is missing"),
    ({"model": {"name": "finenet", "weights": "nowhere.npz"}}, r"^model\.weights: no such file: nowhere\.npz"),
    ({"model": {"name": "convnet", "weights": "none"}}, r"^model\.weights: unknown key"),
    ({"model": {"name": "inception_v3", "extractor": "/no/such/dir"}}, r"^model\.extractor: not 'keras'"),
    ({"model": {"name": "inception_v3", "fine_tune_blocks": 12}}, r"^model\.fine_tune_blocks: must be <= 11"),
    ({"model": {"name": "inception_v3"}, "preprocess": {"input_size": 32}}, r"^preprocess\.input_size: Inception"),
    ({"augment": {"crop": True}}, r"^augment\.crop: random crops need preprocess\.resize_short"),
    ({"augment": {"hflip": "yes"}}, r"^augment\.hflip: expected true or false"),
    ({"preprocess": {"input_size": 64, "resize_short": 32}}, r"^preprocess\.resize_short: must be >= input_size"),
    ({"data": {"kind": "folder", "path": "/no/such/place"}}, r"^data\.path: no such directory"),
    ({"data": {"kind": "folder", "path": "."}}, None),  # valid: checked when loaded
    ({"data": {"kind": "csv", "path": "."}}, r"^data\.kind: expected one of stemsim, folder, stm"),
    ({"data": {"kind": "folder", "path": ".", "threshold": 0.5}}, r"^data\.threshold: unknown key"),
    ({"data": {"kind": "stm", "path": ".", "categories": ["rows", "stripes"]}}, r"^data\.categories: unknown name"),
    ({"data": {"kind": "stm", "path": ".", "val_fraction": 0.5, "test_fraction": 0.5}},
     r"^data\.test_fraction: val_fraction \+ test_fraction"),
    ({"data": {"kind": "stm", "path": "."}, "training": {"class_weights": "balanced"}},
     r"^training\.class_weights: only for single-label"),
    ({"training": {"class_weights": {"horizontal": -1}}}, r"^training\.class_weights\.horizontal: must be > 0"),
    ({"seed": -3}, r"^seed: must be >= 0"),
    ({"colour": "red"}, r"^colour: unknown key"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_experiments_name_the_key(folder, change, message):
    raw = experiment(folder, **change)
    if message is None:
        load_experiment(raw)
        return
    with pytest.raises(InputError) as error:
        load_experiment(raw)
    assert "\n" not in str(error.value)
    assert re.search(message, str(error.value)), str(error.value)


def test_missing_sections(folder):
    with pytest.raises(InputError, match=r"^model: required key is missing"):
        load_experiment({"data": {"kind": "folder", "path": str(folder)}})
    with pytest.raises(InputError, match=r"^data\.kind: required key is missing"):
        load_experiment({"model": "convnet", "data": {"path": str(folder)}})


def test_cli_bad_yaml_exit_2_one_line(folder, tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(experiment(folder, training={"epochs": 0})))
    code, out, err = run_cli(["train", bad, "--out", tmp_path / "run"], capsys)
    assert code == 2
    assert err.strip() == "stemsim: error: training.epochs: must be >= 1, got 0"
    assert not (tmp_path / "run").exists()  # nothing half-written

    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed\n")
    code, out, err = run_cli(["train", broken, "--out", tmp_path / "run"], capsys)
    assert code == 2 and err.startswith(f"stemsim: error: {broken}: not valid YAML") and "Traceback" not in err

    code, out, err = run_cli(["train", tmp_path / "absent.yaml", "--out", tmp_path / "run"], capsys)
    assert code == 2 and "absent.yaml: no such experiment file" in err


def test_cli_refuses_non_empty_out(folder, tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(experiment(folder)))
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "keep.txt").write_text("mine")
    code, out, err = run_cli(["train", good, "--out", tmp_path / "busy"], capsys)
    assert code == 2 and "already exists and is not empty" in err
    code, out, err = run_cli(["train", good, "--out", tmp_path / "busy", "--overwrite"], capsys)
    assert code == 2 and "not an earlier output (run.json missing); refusing to replace it" in err
    assert (tmp_path / "busy" / "keep.txt").read_text() == "mine"
