"""Bad runs, incomplete datasets and decompression bombs given to train / evaluate / predict /
bench: each exits 2 with one line naming the file and the key, no traceback, nothing written.

One tiny stemsim dataset (generated, with its spec.yaml, shard parts and manifest), a bare set
of npz shards, and three small runs (a CNN, a family of CNNs, a geometric model) are made once
per module; every case copies what it breaks into its own tmp_path.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import yaml
from conftest_classifiers import run_cli, write_stemsim_arrays
from crafted_files import png_header_bomb, tiff_bomb, write_npz_bomb, zip_of
from PIL import Image

from stemsim.classifiers.limits import MAX_IMAGE_PIXELS
from stemsim.classifiers.models import MODELS

SPEC = {
    "name": "bad-runs", "seed": 7, "image": {"size": 32, "pixel_size": 0.6}, "label": "n_deformations",
    "classes": {"values": [0, 2, 8], "per_class": 6}, "splits": {"train": 0.5, "val": 0.25, "test": 0.25},
    "object": {"shape": "cuboid", "size": {"uniform": [6, 9]}, "deformation": {"kind": {"choice": ["truncate", "dent"]}}},
    "microscope": {"dose": 2.0e3, "scan_noise": 0.1},
    "output": {"formats": ["png", "npz"], "shard_size": 4},
}
SIZE = 16


def _experiment(data: Path, model: dict, **extra) -> dict:
    return {"model": model, "data": {"kind": "stemsim", "path": str(data)}, "preprocess": {"input_size": SIZE},
            "training": {"epochs": 1, "batch_size": 8}, "seed": 0, **extra}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """The module's datasets and runs (never changed: cases copy them)."""
    from stemsim.classifiers.training import train
    from stemsim.dataset import generate, load_spec

    base = tmp_path_factory.mktemp("bad-runs")
    (base / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    data = base / "data"
    generate(load_spec(base / "spec.yaml"), data, jobs=1)
    bare = write_stemsim_arrays(base / "bare", size=SIZE, counts=(16, 8, 8))
    runs = {"cnn": train(_experiment(data, {"name": "convnet"}), base / "cnn"),
            "family": train(_experiment(data, {"name": "family", "member": "convnet", "group_size": 3}),
                            base / "family"),
            "geometric": train({"model": {"name": "geometric", "min_samples_leaf": 2, "iterations": 5},
                                "data": {"kind": "stemsim", "path": str(data)}, "seed": 0}, base / "geometric")}
    image = base / "image.png"
    Image.fromarray(np.load(data / "arrays" / "test-00000.npz")["images"][0]).save(image)
    return {"base": base, "data": data, "bare": bare, "image": image, **runs}


# ---- what a case breaks -------------------------------------------------------------------


@dataclass
class Context:
    made: dict
    tmp: Path

    def run(self, kind: str = "cnn") -> Path:
        """A copy of a module run, its own to break."""
        return Path(shutil.copytree(self.made[kind], self.tmp / kind))

    def data(self, which: str = "data") -> Path:
        return Path(shutil.copytree(self.made[which], self.tmp / which))


def edit_yaml(path: Path, change: Callable[[dict], None]) -> None:
    document = yaml.safe_load(path.read_text())
    change(document)
    path.write_text(yaml.safe_dump(document, sort_keys=False))


def edit_json(path: Path, change: Callable[[dict], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document))


def config(change: Callable[[dict], None], kind: str = "cnn", verb: str = "evaluate"):
    """A case: ``verb`` on a copy of run ``kind`` whose config.yaml ``change`` edits."""
    def prepare(ctx: Context):
        run = ctx.run(kind)
        edit_yaml(run / "config.yaml", change)
        return _verb(verb, run, ctx), {"RUN": run}
    return prepare


def info(change: Callable[[dict], None], kind: str = "cnn", verb: str = "evaluate"):
    """A case: ``verb`` on a copy of run ``kind`` whose run.json ``change`` edits."""
    def prepare(ctx: Context):
        run = ctx.run(kind)
        edit_json(run / "run.json", change)
        return _verb(verb, run, ctx), {"RUN": run}
    return prepare


def raw(name: str, content: bytes, kind: str = "cnn", verb: str = "evaluate"):
    """A case: ``verb`` on a copy of run ``kind`` whose file ``name`` is replaced by ``content``."""
    def prepare(ctx: Context):
        run = ctx.run(kind)
        if content is None:
            (run / name).unlink()
        else:
            (run / name).write_bytes(content(run) if callable(content) else content)
        return _verb(verb, run, ctx), {"RUN": run}
    return prepare


def _verb(verb: str, run: Path, ctx: Context) -> list:
    if verb == "predict":
        return ["predict", run, ctx.made["image"]]
    return ["evaluate", run]


def pop(*keys: str):
    def change(document: dict) -> None:
        *path, last = keys
        for key in path:
            document = document[key]
        del document[last]
    return change


def put(value, *keys: str):
    def change(document: dict) -> None:
        *path, last = keys
        for key in path:
            document = document[key]
        document[last] = value
    return change


def classes(names: list[str]):
    """run.json ``classes`` → ``names``, the training counts made to fit."""
    def change(document: dict) -> None:
        document["classes"] = names
        document["train_label_counts"]["positives"] = {c: 1 for c in names}
    return change


def on_data(break_it: Callable[[Path], None], verb: str = "evaluate", which: str = "data", extra: tuple = ()):
    """A case: ``verb`` (evaluate --data, train --data, bench) on a broken copy of a dataset."""
    def prepare(ctx: Context):
        data = ctx.data(which)
        break_it(data)
        names = {"DS": data, "OUT": ctx.tmp / "out"}
        if verb == "evaluate":
            return ["evaluate", ctx.made["cnn"], "--data", data, "--out", ctx.tmp / "out", *extra], names
        if verb == "train":
            experiment = ctx.tmp / "experiment.yaml"
            experiment.write_text(yaml.safe_dump(_experiment(data, {"name": "convnet"})))
            return ["train", experiment, "--out", ctx.tmp / "out", "--quiet", *extra], names
        bench = ctx.tmp / "bench.yaml"
        bench.write_text(yaml.safe_dump({
            "name": "bad", "dataset": {"data": {"kind": "stemsim", "path": str(data)}},
            "models": [{"name": "cnn", "experiment": {"model": {"name": "convnet"},
                                                      "training": {"epochs": 1}}}]}))
        return ["bench", bench, "--out", ctx.tmp / "out"], names
    return prepare


# ---- dataset breakers ---------------------------------------------------------------------

PARTS = Path(".stemsim") / "parts"


def stop_after(n: int):
    """A ``generate`` stopped after its first ``n`` shards: later parts, arrays, manifest gone."""
    from stemsim.classifiers.data import dataset_record

    def break_it(data: Path) -> None:
        for name in list(dataset_record(data).planned)[n:]:  # in the order generate makes them
            (data / PARTS / f"{name}.csv").unlink()
            (data / "arrays" / f"{name}.npz").unlink()
        (data / "manifest.csv").unlink()
    return break_it


def remove(*names: str):
    def break_it(data: Path) -> None:
        for name in names:
            path = data / name
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    return break_it


def foreign_shard(data: Path) -> None:
    shutil.copy(data / "arrays" / "test-00000.npz", data / "arrays" / "test-00099.npz")


def other_ids(data: Path) -> None:
    shard = data / "arrays" / "test-00000.npz"
    arrays = dict(np.load(shard))
    arrays["ids"] = np.array([f"x{i}" for i in range(len(arrays["ids"]))])
    np.savez(shard, **arrays)


def png_only(break_it: Callable[[Path], None] | None = None):
    """The dataset read through its class folders (arrays/ removed), then ``break_it``."""
    def prepare(data: Path) -> None:
        shutil.rmtree(data / "arrays")
        if break_it:
            break_it(data)
    return prepare


def delete_a_test_png(data: Path) -> None:
    sorted((data / "test").rglob("*.png"))[0].unlink()


def extra_png(data: Path) -> None:
    Image.fromarray(np.zeros((32, 32), np.uint8)).save(data / "test" / "0" / "extra.png")


def npz_bomb(split: str):
    """A shard whose ``images.npy`` header claims 2.6 GB (what its deflated zeros would unpack to)."""
    def break_it(data: Path) -> None:
        write_npz_bomb(data / "arrays" / f"{split}-00000.npz")
    return break_it


def spec_edit(change: Callable[[dict], None]):
    def break_it(data: Path) -> None:
        edit_yaml(data / "spec.yaml", change)
    return break_it


def predict_with(make_bad: Callable[[Path], Path]):
    """predict on a good image and a bad one: the good one is still predicted."""
    def prepare(ctx: Context):
        bad = make_bad(ctx.tmp)
        return ["predict", ctx.made["cnn"], ctx.made["image"], bad], {"BAD": bad}
    return prepare


def object_with(make_bad: Callable[[Path], Path]):
    def prepare(ctx: Context):
        folder = ctx.tmp / "object"
        folder.mkdir()
        shutil.copy(ctx.made["image"], folder / "view_0.png")
        bad = make_bad(folder)
        return ["predict", ctx.made["cnn"], "--object", folder], {"BAD": bad}
    return prepare


# ---- the table ----------------------------------------------------------------------------

KNOWN_MODELS = ", ".join(MODELS)
TOO_LARGE = f"(the limit is {MAX_IMAGE_PIXELS:,} pixels, 8192²)"
INCOMPLETE = ("DS: incomplete stemsim dataset: 3 of 6 shards complete (10 of 18 images; missing train-00001 "
              "and 2 more); finish it with `stemsim generate` (it resumes), or use --allow-incomplete")
NO_SPEC = ("DS: incomplete stemsim dataset: spec.yaml is missing (it holds manifest.csv and .stemsim), so what it "
           "should hold is unknown; use --allow-incomplete to read it as it is")
NO_MANIFEST = ("DS: incomplete stemsim dataset: manifest.csv is missing (every shard is complete: `stemsim generate` "
               "writes it), or use --allow-incomplete")
NPZ_BOMB = ("images would unpack to 2.4 GiB (10000×512×512 uint8; the limit is 1.0 GiB per array)")

CASES = {
    # config.yaml of a run: checked as the experiment it resolves
    "config-no-model": (config(pop("model")), "RUN/config.yaml: model: required key is missing"),
    "config-no-data": (config(pop("data")), "RUN/config.yaml: data: required key is missing"),
    "config-normalize-bogus": (config(put("bogus", "preprocess", "normalize")),
                               "RUN/config.yaml: preprocess.normalize: expected one of auto, none, inception, "
                               "imagenet, standardize, got 'bogus'"),
    "config-input-size-text": (config(put("x", "preprocess", "input_size")),
                               "RUN/config.yaml: preprocess.input_size: expected an integer, got 'x'"),
    "config-unknown-key": (config(put(2, "training", "bogus")),
                           "RUN/config.yaml: training.bogus: unknown key (known here: batch_size, class_weights, "
                           "early_stopping, epochs, loss, monitor, optimizer, schedule)"),
    "config-unknown-model": (config(put("resnet99", "model", "name")),
                             f"RUN/config.yaml: model.name: unknown model 'resnet99' (known: {KNOWN_MODELS})"),
    "config-other-kind": (config(put("vgg_like", "model", "name")),
                          "RUN/config.yaml: model.name: vgg_like, but run.json says the run trained a 'convnet' "
                          "model (the files are of different runs, or edited)"),
    "config-geometric-for-cnn": (config(put("geometric", "model", "name"), verb="predict"),
                                 "RUN/config.yaml: model.name: geometric, but run.json says the run trained a "
                                 "'convnet' model (the files are of different runs, or edited)"),
    "config-cnn-for-geometric": (config(lambda d: d.update(model={"name": "convnet"}), kind="geometric"),
                                 "RUN/config.yaml: model.name: convnet, but run.json says the run trained a "
                                 "'geometric' model (the files are of different runs, or edited)"),
    "config-rgb": (config(put("rgb", "preprocess", "color"), kind="geometric"),
                   "RUN/run.json: channels: 1, but config.yaml (model.name geometric, preprocess.color rgb) takes 3"),
    "config-group-size": (config(put(5, "model", "group_size"), kind="family"),
                          "RUN/run.json: group_size: 3, but config.yaml gives model.group_size 5"),
    "config-a-list": (raw("config.yaml", b"- model\n- data\n"),
                      "RUN/config.yaml: expected a mapping of experiment keys, got list"),
    "config-not-yaml": (raw("config.yaml", b"model: [convnet\n"), "RUN/config.yaml: not valid YAML (line 2): "
                        "expected ',' or ']', but got '<stream end>'"),
    "config-missing": (raw("config.yaml", None, verb="predict"), "RUN: not a run directory (config.yaml is missing)"),
    # run.json: what evaluation reads, of the right types, agreeing with config.yaml and the model
    "info-channels-text": (info(put("x", "channels")), "RUN/run.json: channels: expected 1 or 3, got 'x'"),
    "info-channels-predict": (info(put("x", "channels"), verb="predict"),
                              "RUN/run.json: channels: expected 1 or 3, got 'x'"),
    "info-channels-other": (info(put(1, "channels")),
                            "RUN/run.json: channels: 1, but config.yaml (model.name convnet, preprocess.color gray) "
                            "takes 3"),
    "info-classes-for-outputs": (info(classes(["0", "2"])),
                                 "RUN/model.keras: the model has 3 outputs, but run.json's 2 classes need 2"),
    "info-classes-family": (info(classes(["0", "2"]), kind="family"),
                            "RUN/model.keras: the model has 9 outputs, but run.json's 2 classes × group_size 3 "
                            "need 6"),
    "info-classes-family-predict": (info(classes(["0", "2", "8", "9"]), kind="family", verb="predict"),
                                    "RUN/model.keras: the model has 9 outputs, but run.json's 4 classes × "
                                    "group_size 3 need 12"),
    "info-classes-geometric": (info(classes(["8", "2", "0"]), kind="geometric", verb="predict"),
                               "RUN/model.skops: the model decides the classes ['0', '2', '8'], but run.json says "
                               "['8', '2', '0']"),
    "info-classes-text": (info(put("horizontal", "classes")),
                          "RUN/run.json: classes: expected a list of class names, got 'horizontal'"),
    "info-classes-repeat": (info(classes(["0", "0", "8"])), "RUN/run.json: classes: names must not repeat"),
    "info-one-class": (info(classes(["0"])), "RUN/run.json: classes: a single-label run needs at least 2, got 1"),
    "info-multilabel-text": (info(put("yes", "multilabel")),
                             "RUN/run.json: multilabel: expected true or false, got 'yes'"),
    "info-multilabel-true": (info(put(True, "multilabel")),
                             "RUN/run.json: multilabel: true does not fit config.yaml's data.kind stemsim "
                             "(single-label data)"),
    "info-group-size": (info(put(3, "group_size")),
                        "RUN/run.json: group_size: 3, but config.yaml gives no family (null)"),
    "info-pipeline": (info(put("geometric", "pipeline")),
                      "RUN/run.json: pipeline: 'geometric' is not what a convnet run makes (images)"),
    "info-model": (info(put("geometric", "model")),
                   "RUN/config.yaml: model.name: convnet, but run.json says the run trained a 'geometric' model "
                   "(the files are of different runs, or edited)"),
    "info-no-counts": (info(pop("train_label_counts")),
                       "RUN/run.json: train_label_counts: required key is missing"),
    "info-counts-class": (info(put({"cat": 3}, "train_label_counts", "positives")),
                          "RUN/run.json: train_label_counts.positives: 'cat' is not one of the classes"),
    "info-input-shape": (info(put([32, 32, 3], "input_shape")),
                         "RUN/run.json: input_shape: [32, 32, 3], but config.yaml gives [16, 16, 3]"),
    "info-not-json": (raw("run.json", b"{classes: }"),
                      "RUN/run.json: not readable JSON (Expecting property name enclosed in double quotes: line 1 "
                      "column 2 (char 1))"),
    "info-a-list": (raw("run.json", b"[1, 2]", verb="predict"),
                    "RUN/run.json: expected a JSON object of run facts, got list"),
    # model.keras damaged: said so (Keras itself says "File not found")
    "keras-truncated": (raw("model.keras", lambda run: (run / "model.keras").read_bytes()[:3000]),
                        "RUN/model.keras: cannot load the model: not a Keras model file (corrupt zip: File is not "
                        "a zip file)"),
    "keras-text": (raw("model.keras", b"garbage", verb="predict"),
                   "RUN/model.keras: cannot load the model: not a Keras model file (not a zip archive)"),
    "keras-other-zip": (raw("model.keras", lambda run: zip_of({"notes.txt": b"hi"})),
                        "RUN/model.keras: cannot load the model: not a Keras model file (no config.json and no "
                        "model.weights.h5 in the archive)"),
    # incomplete stemsim datasets: refused unless --allow-incomplete
    "data-stopped-evaluate": (on_data(stop_after(3)), INCOMPLETE),
    "data-stopped-train": (on_data(stop_after(3), "train"), INCOMPLETE),
    "data-stopped-bench": (on_data(stop_after(3), "bench"), INCOMPLETE),
    "data-no-spec-evaluate": (on_data(remove("spec.yaml")), NO_SPEC),
    "data-no-spec-train": (on_data(remove("spec.yaml"), "train"), NO_SPEC),
    "data-no-spec-bench": (on_data(remove("spec.yaml"), "bench"), NO_SPEC),
    "data-no-manifest-evaluate": (on_data(remove("manifest.csv")), NO_MANIFEST),
    "data-no-manifest-train": (on_data(remove("manifest.csv"), "train"), NO_MANIFEST),
    "data-no-parts": (on_data(remove(".stemsim")),
                      "DS: incomplete stemsim dataset: 0 of 6 shards complete (0 of 18 images; missing test-00000 "
                      "and 5 more); finish it with `stemsim generate` (it resumes), or use --allow-incomplete"),
    "data-foreign-shard": (on_data(foreign_shard),
                           "DS/arrays/test-00099.npz: not a shard of the dataset that DS/spec.yaml plans (a file of "
                           "another dataset?)"),
    "data-foreign-shard-allowed": (on_data(foreign_shard, extra=("--allow-incomplete",)),
                                   "DS/arrays/test-00099.npz: not a shard of the dataset that DS/spec.yaml plans (a "
                                   "file of another dataset?)"),
    "data-other-ids": (on_data(other_ids),
                       "DS/arrays/test-00000.npz: holds other images than DS/spec.yaml plans for this shard (its "
                       "ids differ)"),
    "data-png-deleted": (on_data(png_only(delete_a_test_png)),
                         "DS: the 'test' split holds 5 of the 6 images its complete shards record (files deleted?); "
                         "use --allow-incomplete to read it as it is"),
    "data-png-extra": (on_data(png_only(extra_png)),
                       "DS/test/0/extra.png: not an image of the dataset that DS/spec.yaml plans (a file of another "
                       "dataset?)"),
    "data-spec-no-hash": (on_data(spec_edit(pop("spec_hash"))),
                          "DS/spec.yaml: not a dataset's resolved spec (no spec_hash)"),
    "data-spec-bad-key": (on_data(spec_edit(put("many", "classes", "per_class"))),
                          "DS/spec.yaml: classes.per_class: "),
    # decompression bombs: sized from the header, refused before decoding
    "npz-bomb-evaluate": (on_data(npz_bomb("test"), which="bare"), f"DS/arrays/test-00000.npz: {NPZ_BOMB}"),
    "npz-bomb-train": (on_data(npz_bomb("train"), "train", which="bare"), f"DS/arrays/train-00000.npz: {NPZ_BOMB}"),
    "tiff-bomb-predict": (predict_with(lambda tmp: tiff_bomb(tmp / "bomb.tif")),
                          f"BAD: image too large to read: 50000×50000 pixels {TOO_LARGE}"),
    "png-bomb-predict": (predict_with(lambda tmp: png_header_bomb(tmp / "bomb.png", 50000, 50000)),
                         f"BAD: image too large to read: 2,500,000,000 pixels {TOO_LARGE}"),
    "png-over-limit-predict": (predict_with(lambda tmp: png_header_bomb(tmp / "big.png", 8193, 8192)),
                               f"BAD: image too large to read: 8193×8192 pixels {TOO_LARGE}"),
    "tiff-bomb-object": (object_with(lambda folder: tiff_bomb(folder / "view_1.tif", 20000)),
                         f"BAD: image too large to read: 20000×20000 pixels {TOO_LARGE}"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_exits_2_with_one_line(case, made, tmp_path, capsys):
    prepare, message = CASES[case]
    argv, names = prepare(Context(made, tmp_path))
    for name, path in names.items():  # RUN, DS, BAD, OUT: the case's paths
        message = message.replace(name, str(path))
    code, out, err = run_cli(argv, capsys)
    errors = [line for line in err.splitlines() if line.startswith("stemsim: error:")]
    assert code == 2, err
    assert "Traceback" not in err
    if argv[0] == "predict" and len(argv) > 3 and "--object" not in argv:  # one bad file of two
        assert errors == [f"stemsim: error: {message}",
                          "stemsim: error: 1 of 2 file(s) could not be read; the others were predicted"], err
        rows = out.splitlines()
        assert len(rows) == 3 and rows[1].split(",")[1] in ("0", "2", "8") and message in rows[2]
        return
    if message.endswith(": "):  # the key is named; the problem is resolve's own words
        assert len(errors) == 1 and errors[0].startswith(f"stemsim: error: {message}"), err
    else:
        assert errors == [f"stemsim: error: {message}"], err
    if argv[0] != "bench":  # (bench logs its steps)
        assert err.count("\n") == 1  # nothing else on stderr
    assert not (names.get("OUT", tmp_path / "out")).exists()  # nothing half-written
    assert not list(tmp_path.glob(".out.*"))  # not even the staging folder
    for run in (names.get("RUN"),):
        if run is not None:
            assert not (run / "evaluation").exists()


def test_the_table_is_large_enough():
    assert len(CASES) >= 35


# ---- what is used, of how many: always said ----------------------------------------------


def test_complete_data_says_how_many_images_of_how_many(made, tmp_path, capsys):
    code, out, err = run_cli(["evaluate", made["cnn"], "--out", tmp_path / "report"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "evaluate: 18 of 18 images (test split: 6)"
    report = json.loads((tmp_path / "report" / "metrics.json").read_text())
    assert report["data"]["record"] == {"images": 18, "promised": 18, "shards": [6, 6], "complete": True}
    experiment = tmp_path / "experiment.yaml"
    experiment.write_text(yaml.safe_dump(_experiment(made["data"], {"name": "convnet"})))
    code, out, err = run_cli(["train", experiment, "--out", tmp_path / "run", "--quiet"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "train: 18 of 18 images (train split: 9, val split: 3)"
    assert json.loads((tmp_path / "run" / "run.json").read_text())["data"]["record"]["complete"] is True


def test_allow_incomplete_uses_the_complete_shards_and_says_so(made, tmp_path, capsys):
    data = Path(shutil.copytree(made["data"], tmp_path / "data"))
    stop_after(3)(data)  # test-00000, test-00001, train-00000 complete
    code, out, err = run_cli(["evaluate", made["cnn"], "--data", data, "--out", tmp_path / "report",
                              "--allow-incomplete"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == "evaluate: 10 of 18 images, an incomplete dataset (3 of 6 shards) (test split: 6)"
    # a shard in the middle lost (its part gone: the arrays and PNGs of it are not read)
    data = Path(shutil.copytree(made["data"], tmp_path / "data2"))
    (data / PARTS / "train-00001.csv").unlink()
    experiment = tmp_path / "experiment.yaml"
    exp = _experiment(data, {"name": "convnet"})
    exp["data"]["format"] = "png"
    experiment.write_text(yaml.safe_dump(exp))
    code, out, err = run_cli(["train", experiment, "--out", tmp_path / "run", "--quiet", "--allow-incomplete"], capsys)
    assert code == 0, err
    assert out.splitlines()[0] == ("train: 14 of 18 images, an incomplete dataset (5 of 6 shards) "
                                   "(train split: 5, val split: 3)")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["data"]["record"] == {"images": 14, "promised": 18, "shards": [5, 6], "complete": False}
    assert info["train_label_counts"]["n_images"] == 5


def test_data_without_a_record_is_read_and_said_to_be_uncounted(made, tmp_path, capsys):
    data = Path(shutil.copytree(made["data"], tmp_path / "data"))
    (data / "spec.yaml").unlink()
    code, out, err = run_cli(["evaluate", made["cnn"], "--data", data, "--out", tmp_path / "r1",
                              "--allow-incomplete", "--split", "test"], capsys)  # not known as the run's own
    assert code == 0, err
    assert out.splitlines()[0] == "evaluate: 6 images (test split: 6; no spec.yaml to count against)"
    # bare npz shards (no spec.yaml, manifest.csv or .stemsim/): not a generated dataset, read as they are
    bare = write_stemsim_arrays(tmp_path / "bare", size=SIZE, counts=(4, 4, 4), classes=("0", "8"))
    code, out, err = run_cli(["evaluate", made["cnn"], "--data", bare, "--out", tmp_path / "r2"], capsys)
    assert code == 0, err  # other data: every image (--split auto)
    assert out.splitlines()[0] == ("evaluate: 12 images (train split: 4, val split: 4, test split: 4; no spec.yaml "
                                   "to count against)")


def test_a_shared_run_needs_none_of_its_authors_paths(made, tmp_path, capsys):
    run = Path(shutil.copytree(made["cnn"], tmp_path / "cnn"))
    edit_yaml(run / "config.yaml", put("/nowhere/data", "data", "path"))
    code, out, err = run_cli(["predict", run, made["image"]], capsys)
    assert code == 0, err
    assert out.splitlines()[1].split(",")[1] in ("0", "2", "8")
    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 2 and err == "stemsim: error: data.path: the run's data /nowhere/data is gone; give --data\n"
    code, out, err = run_cli(["evaluate", run, "--data", made["data"], "--out", tmp_path / "report"], capsys)
    assert code == 0 and out.splitlines()[0] == "evaluate: 18 of 18 images (test split: 6)", err
