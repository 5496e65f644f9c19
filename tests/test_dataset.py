"""stemsim generate / preview / info: reproducible, resumable, strict about input."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from cli_runner import run
from stemsim.dataset import acquire, load_spec
from stemsim.dataset.generate import render
from stemsim.dataset.sampling import reference_space

TINY = {
    "name": "tiny",
    "seed": 7,
    "image": {"size": 32, "pixel_size": 0.6},
    "label": "n_deformations",
    "classes": {"values": [0, 2, 8], "per_class": 5},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "object": {"shape": "cuboid", "size": {"uniform": [6, 9]}, "deformation": {"kind": {"choice": ["truncate", "dent"]}}},
    "microscope": {"dose": 2.0e3, "scan_noise": 0.1},
    "output": {"formats": ["png", "npz"], "shard_size": 4},
}


def write_spec(tmp_path: Path, spec: dict, name="spec.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(spec))
    return path



def tree(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def manifest(directory: Path) -> list[dict]:
    with (directory / "manifest.csv").open() as handle:
        return list(csv.DictReader(handle))


def generate_once(tmp_path_factory, spec: dict, name: str) -> tuple[Path, Path]:
    """Write ``spec`` and generate it with one job: (spec file, dataset directory)."""
    base = tmp_path_factory.mktemp(name)
    path = write_spec(base, spec)
    assert run("generate", path, "--out", base / "one", "--jobs", 1) == 0
    return path, base / "one"


@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    return generate_once(tmp_path_factory, TINY, "tiny")


def test_layout_counts_and_labels_by_construction(tiny_dataset):
    _, out = tiny_dataset
    rows = manifest(out)
    assert len(rows) == 15
    counts = {(r["split"], r["label"]) for r in rows}
    assert counts == {(s, l) for s in ("train", "val", "test") for l in ("0", "2", "8")}
    for split, n in (("train", 3), ("val", 1), ("test", 1)):
        for label in ("0", "2", "8"):
            assert sum(r["split"] == split and r["label"] == label for r in rows) == n
            assert len(list((out / split / label).glob("*.png"))) == n
    for row in rows:
        assert int(row["n_deformed"]) == int(row["label"]) == len(row["deformed_vertices"].split())
        assert (out / row["path"]).is_file()
    shard = np.load(out / "arrays" / "train-00000.npz")
    assert shard["images"].shape == (4, 32, 32) and shard["images"].dtype == np.uint8
    assert list(shard["classes"]) == ["0", "2", "8"]
    assert shard["thickness"].shape == (4, 32, 32) and shard["mask"].dtype == bool
    assert shard["vertices"].shape == (4, 8, 3)
    ids = list(shard["ids"])
    by_id = {r["id"]: r for r in rows}
    assert [by_id[i]["shard_index"] for i in ids] == ["0", "1", "2", "3"]
    assert [int(by_id[i]["label_index"]) for i in ids] == shard["labels"].tolist()
    spec = yaml.safe_load((out / "spec.yaml").read_text())
    assert spec["stemsim_version"] and spec["spec_hash"] and spec["support"]["thickness"] == 3.0


def test_same_bytes_for_any_number_of_jobs(tiny_dataset, tmp_path):
    spec, one = tiny_dataset
    assert run("generate", spec, "--out", tmp_path / "two", "--jobs", 2) == 0
    assert tree(one) == tree(tmp_path / "two")


def test_manifest_row_regenerates_its_image_exactly(tiny_dataset):
    _, out = tiny_dataset
    row = manifest(out)[7]
    measurement = acquire(row)
    image = render(measurement, "uint8")
    np.testing.assert_array_equal(image, np.asarray(Image.open(out / row["path"])))
    shard = np.load(out / row["shard"])
    np.testing.assert_array_equal(image, shard["images"][int(row["shard_index"])])
    np.testing.assert_array_equal(measurement.thickness, shard["thickness"][int(row["shard_index"])])


def test_rerun_on_a_complete_dataset_changes_nothing(tiny_dataset, capsys):
    spec, out = tiny_dataset
    before = tree(out)
    assert run("generate", spec, "--out", out) == 0
    assert tree(out) == before
    assert "made 0 images" in capsys.readouterr().err


def test_resume_after_kill_gives_the_same_bytes(tmp_path):
    spec = dict(TINY, image={"size": 96, "pixel_size": 0.2}, classes={"values": [0, 1, 2, 3], "per_class": 40},
                output={"formats": ["png", "npz"], "shard_size": 4})
    path = write_spec(tmp_path, spec)
    reference, killed = tmp_path / "reference", tmp_path / "killed"
    assert run("generate", path, "--out", reference) == 0
    command = [sys.executable, "-c", "from stemsim.cli import main; main()", "generate", str(path), "--out", str(killed)]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    parts = killed / ".stemsim" / "parts"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("*.csv"))) < 3:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = len(list(parts.glob("*.csv")))
    assert 3 <= finished < 40, "the run must be killed midway for this test to mean anything"
    assert not (killed / "manifest.csv").exists()
    assert run("generate", path, "--out", killed) == 0
    assert tree(killed) == tree(reference)


def test_a_different_spec_is_refused_in_the_same_directory(tiny_dataset, tmp_path, capsys):
    _, out = tiny_dataset
    other = write_spec(tmp_path, dict(TINY, seed=8))
    before = tree(out)
    assert run("generate", other, "--out", out) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"stemsim: error: {out}: holds a dataset made from a different spec")
    assert tree(out) == before
    (tmp_path / "stranger").mkdir()
    (tmp_path / "stranger" / "notes.txt").write_text("mine")
    assert run("generate", other, "--out", tmp_path / "stranger") == 2
    assert "exists and is not a stemsim dataset" in capsys.readouterr().err


BAD = [
    ({"colour": "red"}, "colour: unknown key"),
    ({"object": {"shape": "cuboid", "sise": 5}}, "object.sise: unknown key"),
    ({"object": {"size": -3}}, "object.size: must be > 0, got -3"),
    ({"object": {"size": {"uniform": [9, 6]}}}, "object.size.uniform: low must be <= high, got [9, 6]"),
    ({"object": {"size": "big"}}, "object.size: expected a number or one of"),
    ({"object": {"material": "Kryptonite"}}, "object.material: unknown element 'Kryptonite'"),
    ({"object": {"shape": "blob"}}, "object.shape: unknown shape 'blob'"),
    ({"object": {"size": 30}}, "object.size: a cuboid of up to 30 nm spans up to 52.0 nm, more than the 19.2 nm field of view"),
    ({"object": {"deformation": {"depth": 0.7}}}, "object.deformation.depth: must be <= 0.5, got 0.7"),
    ({"classes": {"values": [0, 9]}}, "classes.values: 9 deformations asked, but a cuboid has 8 vertices"),
    ({"classes": {"per_class": 0}}, "classes.per_class: expected a positive integer, got 0"),
    ({"splits": {"train": 0.8, "val": 0.1}}, "splits: fractions must sum to 1, got 0.9"),
    ({"label": "colour"}, "label: expected one of deformed, n_deformations, configuration, shape, got 'colour'"),
    ({"image": {"size": "large"}}, "image.size: expected an integer number of pixels in 16..4096, got 'large'"),
    ({"microscope": {"z_exponent": 3}}, "microscope.z_exponent: must be <= 2, got 3"),
    ({"microscope": {"dose": {"gamma": [1, 2]}}}, "microscope.dose: unknown distribution 'gamma'"),
    ({"output": {"formats": ["jpeg"]}}, "output.formats: unknown format 'jpeg'"),
    ({"output": {"dtype": "float32"}}, "output.dtype: PNG holds integers"),
    ({"views": {"count": 0}}, "views.count: expected an integer number of views in 1..64, got 0"),
    ({"views": {"mode": "spiral"}}, "views.mode: expected one of random, tilt, jitter, got 'spiral'"),
    ({"views": {"angle": 3}}, "views.angle: unknown key"),
    ({"views": {"count": 8, "tilt": {"range": [-60, 60], "step": 30}}},
     "views.tilt.step: 8 views 30° apart end at 150°, beyond the range's 60°"),
    ({"views": {"tilt": {"range": [60, -60]}}}, "views.tilt.range: first must be <= last, got [60, -60]"),
    ({"views": {"tilt": {"axis": [0, 0, 0]}}}, "views.tilt.axis: expected a non-zero vector [x, y, z], got [0, 0, 0]"),
    ({"views": {"jitter": -1}}, "views.jitter: expected an rms angle in degrees in [0, 180], got -1"),
    ({"views": {"microscope": "each"}}, "views.microscope: expected object (one draw per object) or view"),
]


@pytest.mark.parametrize("change, message", BAD, ids=[m.split(":")[0] for _, m in BAD])
def test_bad_spec_exits_2_with_one_line_and_writes_nothing(change, message, tmp_path, capsys):
    spec = {"name": "bad", "label": "n_deformations", "image": {"size": 128, "pixel_size": 0.15}}
    for key, value in change.items():
        spec[key] = value if not isinstance(value, dict) or not isinstance(spec.get(key), dict) else {**spec[key], **value}
    path = write_spec(tmp_path, spec)
    out = tmp_path / "out"
    assert run("generate", path, "--out", out) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"stemsim: error: {message}"), err
    assert not out.exists()


def test_bad_files_and_options_exit_2(tmp_path, capsys):
    assert run("generate", tmp_path / "missing.yaml", "--out", tmp_path / "o") == 2
    assert f"{tmp_path / 'missing.yaml'}: no such spec file" in capsys.readouterr().err
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: [unclosed\n")
    assert run("generate", broken, "--out", tmp_path / "o") == 2
    assert "not valid YAML (line 2)" in capsys.readouterr().err
    assert run("generate", write_spec(tmp_path, TINY), "--out", tmp_path / "o", "--jobs", 0) == 2
    assert "--jobs: must be >= 1, got 0" in capsys.readouterr().err
    assert run("info", tmp_path / "o") == 2
    assert "not a stemsim dataset (no spec.yaml)" in capsys.readouterr().err
    assert run("info", tmp_path) == 2  # holds a user's spec.yaml, not a dataset
    assert "not a dataset's resolved spec (no spec_hash)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_configuration_labels_are_the_symmetry_classes(tmp_path):
    spec = dict(TINY, label="configuration", classes={"per_class": 6},
                object={"shape": "cuboid", "size": 7, "deformation": {"count": 2}})
    resolved = load_spec(write_spec(tmp_path, spec))
    assert resolved["classes"]["values"] == ["edge", "face-diagonal", "opposite"]
    assert run("generate", write_spec(tmp_path, spec), "--out", tmp_path / "out") == 0
    space = reference_space("cuboid")
    for row in manifest(tmp_path / "out"):
        vertices = [int(v) for v in row["deformed_vertices"].split()]
        assert len(vertices) == 2
        assert space.classify(vertices).name == row["label"] == row["configuration"]


def test_limit_and_seed_override_the_spec(tmp_path):
    path = write_spec(tmp_path, TINY)
    assert load_spec(path, seed=3, limit=2)["classes"]["per_class"] == 2
    assert run("generate", path, "--out", tmp_path / "small", "--limit", 2, "--seed", 3) == 0
    rows = manifest(tmp_path / "small")
    assert len(rows) == 6
    assert yaml.safe_load((tmp_path / "small" / "spec.yaml").read_text())["seed"] == 3


def test_png_tree_loads_with_keras_image_dataset_from_directory(tiny_dataset):
    import keras

    _, out = tiny_dataset
    dataset = keras.utils.image_dataset_from_directory(out / "train", color_mode="grayscale", image_size=(32, 32),
                                                       batch_size=64, shuffle=False)
    assert dataset.class_names == ["0", "2", "8"]
    images, labels = next(iter(dataset))
    assert images.shape == (9, 32, 32, 1)
    assert np.bincount(np.asarray(labels)).tolist() == [3, 3, 3]


def test_info_and_preview(tiny_dataset, tmp_path, capsys):
    spec, out = tiny_dataset
    assert run("info", out) == 0
    text = capsys.readouterr().out
    assert "tiny" in text and "shards complete: 5/5" in text and "15" in text
    assert run("preview", spec, "-n", 4, "--out", tmp_path / "grid.png") == 0
    grid = Image.open(tmp_path / "grid.png")
    assert grid.size[0] > 100
    assert list(tmp_path.glob("**/*.npz")) == []  # preview writes no dataset


def test_dask_backend_writes_the_same_dataset(tiny_dataset, tmp_path):
    distributed = pytest.importorskip("dask.distributed")
    spec, one = tiny_dataset
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, host="127.0.0.1", dashboard_address=None,
                                  processes=True) as cluster:
        assert run("generate", spec, "--out", tmp_path / "dask", "--backend", "dask",
                   "--scheduler", cluster.scheduler_address) == 0
    assert tree(one) == tree(tmp_path / "dask")


def test_progress_counts_images_not_shards(tmp_path):
    """The bar moves per image: the parent counts the image files of unfinished shards (workers
    cannot call back into it), and the callback ends at the total."""
    from stemsim.dataset import generate
    from stemsim.dataset.generate import _ImageCounter, image_markers, shards

    spec = load_spec(write_spec(tmp_path, TINY))
    todo = shards(spec)
    total = sum(len(s.items) for s in todo)
    calls = []
    counter = _ImageCounter(spec, tmp_path / "out", todo, 0, total, lambda done, all_: calls.append((done, all_)))
    for marker in image_markers(spec, todo[0])[:3]:
        (tmp_path / "out" / marker).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "out" / marker).write_bytes(b"")
    counter.scan()
    assert calls == [(3, total)]  # three images of a four-image shard, before the shard is done
    counter.shard_done(todo[0].name, len(todo[0].items))
    assert calls[-1] == (len(todo[0].items), total)

    seen = []
    generate(spec, tmp_path / "made", progress=lambda done, all_: seen.append(done))
    assert seen[-1] == total and seen == sorted(seen)


def test_preview_display_shows_the_support(tmp_path):
    """uint8/min-max leaves the carbon support nearly black; preview's default log display
    lifts it; --display minmax is the stored scaling."""
    from stemsim.dataset import plan, sample_views
    from stemsim.dataset.display import display_scaled

    spec = load_spec("configs/quickstart.yaml")
    measurement = acquire(sample_views(spec, plan(spec)[0])[0])
    background = ~measurement.mask.astype(bool)
    minmax = display_scaled(measurement.image, "minmax")
    stored = measurement.normalized(np.uint8)
    assert np.abs(np.rint(minmax * 255) - stored).max() <= 1  # minmax is what uint8 stores
    assert np.median(stored[background]) < 10
    assert np.median(display_scaled(measurement.image, "log")[background]) > 10 / 255
    percentile = display_scaled(measurement.image, "percentile")
    assert percentile.min() == 0 and percentile.max() == 1

    path = write_spec(tmp_path, TINY)
    for display in ("log", "minmax", "percentile"):
        assert run("preview", path, "-n", 1, "--display", display, "--out", tmp_path / f"{display}.png") == 0
    assert (tmp_path / "log.png").read_bytes() != (tmp_path / "minmax.png").read_bytes()
