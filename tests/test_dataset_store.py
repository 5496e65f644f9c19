"""The dataset store: one reader of what `stemsim generate` writes (stemsim.dataset.store)."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from cli_runner import run

from stemsim.dataset.files import FORMAT_FILE, FORMAT_VERSION, format_bytes
from stemsim.dataset.generate import PARTS, generate, shards
from stemsim.dataset.spec import load_spec, resolve, spec_hash, tilt_angles
from stemsim.dataset.store import array_views, object_of, open_dataset, view_id
from stemsim.errors import InputError
from stemsim.simulator import IMAGE_MODEL_VERSION

TILT = {
    "name": "store-tilt",
    "seed": 3,
    "image": {"size": 24, "pixel_size": 0.8},
    "label": "n_deformations",
    "classes": {"values": [0, 2], "per_class": 3},
    "splits": {"train": 0.5, "val": 0.17, "test": 0.33},
    "object": {"shape": "cuboid", "size": {"uniform": [6, 8]}},
    "microscope": {"dose": 2.0e3},
    "views": {"count": 3, "mode": "tilt", "tilt": {"axis": [0, 1, 0], "range": [-30, 30]}},
    "output": {"formats": ["png", "npz"], "dtype": "uint8", "ground_truth": True, "shard_size": 6},
}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> tuple[dict, Path]:
    spec = resolve(TILT)
    out = tmp_path_factory.mktemp("store") / "ds"
    generate(spec, out)
    return spec, out


def copy_of(made, tmp_path: Path) -> Path:
    return Path(shutil.copytree(made[1], tmp_path / "ds"))


def test_the_store_gives_what_the_spec_and_the_files_hold(made):
    spec, root = made
    store = open_dataset(root)
    assert store.format_version == FORMAT_VERSION == 1
    assert (root / FORMAT_FILE).read_bytes() == format_bytes() == b'{"format_version": 1, "image_model_version": 2}\n'
    assert store.image_model_version == IMAGE_MODEL_VERSION == 2 and store.image_model_note is None
    assert store.pixel_size == 0.8 and store.image_size == 24
    assert store.classes == ["0", "2"]
    assert (store.views.count, store.views.mode) == (3, "tilt")
    assert store.views.angles == tuple(tilt_angles(spec["views"])) == (-30.0, 0.0, 30.0)
    assert store.views.axis == (0.0, 1.0, 0.0)
    with open(root / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert store.manifest == rows and len(rows) == 6 * 3
    assert store.rows("test") == [row for row in rows if row["split"] == "test"]
    assert store.spec == spec
    files = store.image_files("test")
    assert files == [root / row["path"] for row in store.rows("test")] and all(f.is_file() for f in files)
    assert files[0].relative_to(root).parts[-1] == "view_0.png" and store.image_files("test", "tiff") == []
    assert store.spec_hash == yaml.safe_load((root / "spec.yaml").read_text())["spec_hash"]
    assert list(store.planned) == [s.name for s in shards(spec)]
    assert store.complete() == set(store.planned)
    record = store.record()
    assert record.summary() == {"images": 18, "promised": 18, "shards": [len(store.planned)] * 2, "complete": True}


def test_shards_and_ground_truth_read_as_the_npz_files_hold_them(made):
    _, root = made
    store = open_dataset(root)
    record = store.record()
    files = store.readable_shards(record)
    assert [f.stem for f in files] == sorted(store.planned)
    read = list(store.labelled_shards(files, ("train", "val", "test"), record))
    for shard in read:
        with np.load(shard.path) as archive:
            np.testing.assert_array_equal(shard.images, archive["images"])
            assert shard.ids == [str(i) for i in archive["ids"]] == record.planned[shard.path.stem]
        assert shard.views == array_views(shard.images.shape) == store.views.count == 3
        assert shard.classes == store.classes
    test = [p for p in files if p.stem.startswith("test-")]
    truth = list(store.ground_truth("test", ("images", "labels", "thickness", "vertices")))
    assert len(truth) == len(test)
    with np.load(test[0]) as archive:
        ids = [str(i) for i in archive["ids"]]
        assert truth[0]["ids"] == [view_id(i, k) for i in ids for k in range(3)]
        np.testing.assert_array_equal(truth[0]["images"], archive["images"].reshape(-1, 24, 24))
        np.testing.assert_array_equal(truth[0]["thickness"], archive["thickness"].reshape(-1, 24, 24))
        np.testing.assert_array_equal(truth[0]["vertices"], archive["vertices"].reshape(-1, 8, 3))
        np.testing.assert_array_equal(truth[0]["labels"], np.repeat(archive["labels"], 3))
    assert {object_of(i) for i in truth[0]["ids"]} == set(ids)


def test_the_readers_give_the_numbers_they_gave_before(made):
    from stemsim.classifiers.data import dataset_record, recorded_spec_hash, shard_classes
    from stemsim.classifiers.pixelwise import dataset_pixel_size, load_maps, load_sites
    from stemsim.classifiers.tomography import TiltSeries

    spec, root = made
    raw = yaml.safe_load((root / "spec.yaml").read_text())
    assert dataset_pixel_size(root) == float(raw["image"]["pixel_size"])
    assert recorded_spec_hash(root) == raw["spec_hash"]
    assert TiltSeries.of_dataset(root) == TiltSeries.from_views(raw["views"])
    assert dataset_record(root).planned == open_dataset(root).planned
    assert shard_classes(sorted((root / "arrays").glob("*.npz"))[0]) == [str(v) for v in raw["classes"]["values"]]
    maps = load_maps(root, "test")
    ids, sites = load_sites(root, "test")
    assert maps.ids == ids and len(ids) == len(open_dataset(root).rows("test"))  # a row per view
    np.testing.assert_array_equal(maps.sites, sites)
    assert maps.pixel_size == 0.8


def test_incomplete_shards_are_told_apart(made, tmp_path):
    root = copy_of(made, tmp_path)
    store = open_dataset(root)
    names = list(store.planned)
    (root / PARTS / f"{names[-1]}.csv").unlink()
    assert open_dataset(root).complete() == set(names[:-1])
    record = open_dataset(root).record(allow_incomplete=True)
    assert record.complete == set(names[:-1]) and not record.summary()["complete"]
    with pytest.raises(InputError, match=rf"^{root}: incomplete stemsim dataset: {len(names) - 1} of {len(names)} "
                                         rf"shards complete \(\d+ of 18 images; missing {names[-1]}\)"):
        open_dataset(root).record()
    assert names[-1] not in [p.stem for p in open_dataset(root).readable_shards(record)]


def test_a_dataset_without_a_format_record_is_version_1(made, tmp_path):
    root = copy_of(made, tmp_path)
    (root / FORMAT_FILE).unlink()
    assert open_dataset(root).format_version == 1 and open_dataset(root).image_model_version == 1
    assert open_dataset(tmp_path / "nothing-here").format_version == 1  # lazy: nothing else is read


def as_made_by_image_model_1(root: Path, spec: dict) -> None:
    """Make ``root`` what the code before image model 2 wrote for ``spec``: the format record
    without the image model, and the spec hash without it."""
    (root / FORMAT_FILE).write_bytes(b'{"format_version": 1}\n')
    document = yaml.safe_load((root / "spec.yaml").read_text())
    document["spec_hash"] = spec_hash(spec, image_model=1)
    (root / "spec.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


def test_a_dataset_of_an_older_image_model_is_named_so_and_never_resumed_into(made, tmp_path, capsys):
    spec, _ = made
    root = copy_of(made, tmp_path)
    as_made_by_image_model_1(root, spec)
    assert spec_hash(spec, image_model=1) != spec_hash(spec)
    store = open_dataset(root)
    assert store.image_model_version == 1
    note = (f"{root}: made by an older version of the image model (1; this stemsim makes {IMAGE_MODEL_VERSION}): "
            f"its images differ from what its spec makes now; to remake it, "
            f"stemsim generate {root / 'spec.yaml'} --out ANOTHER_FOLDER")
    assert store.image_model_note == note
    assert run("info", root) == 0
    shown = " ".join(capsys.readouterr().out.split())
    assert "image model 1," in shown and " ".join(f"note: {note}".split()) in shown
    with pytest.raises(InputError) as caught:  # generate into it: refused, and why
        generate(spec, root)
    assert str(caught.value) == (
        f"{root}: holds a dataset made by an older version of the image model (1; this stemsim makes "
        f"{IMAGE_MODEL_VERSION}) (spec_hash {spec_hash(spec, image_model=1)}, this one {spec_hash(spec)}); its images "
        "would differ: choose another --out or delete it to make it anew")
    notes = []
    again = load_spec(root / "spec.yaml", warn=notes.append)  # its spec.yaml remakes it, with today's images
    assert again == spec and notes == [
        f"{root / 'spec.yaml'}: made by an older version of the image model (1; this stemsim makes "
        f"{IMAGE_MODEL_VERSION}): what it makes now differs from the dataset it describes"]
    generate(again, tmp_path / "anew")
    assert open_dataset(tmp_path / "anew").image_model_note is None
    assert open_dataset(tmp_path / "anew").spec_hash == spec_hash(spec) == open_dataset(made[1]).spec_hash


def test_an_older_image_model_with_another_spec_is_said_too(made, tmp_path):
    spec, _ = made
    root = copy_of(made, tmp_path)
    as_made_by_image_model_1(root, spec)
    other = resolve({**TILT, "seed": 4})
    with pytest.raises(InputError, match=r"made by an older version of the image model \(1; this stemsim makes 2\) "
                                         r"from a different spec or stemsim version \(spec_hash "):
        generate(other, root)
    (root / FORMAT_FILE).write_text(json.dumps({"format_version": 1, "image_model_version": "2"}))
    with pytest.raises(InputError, match=rf"^{root / FORMAT_FILE}: image_model_version: expected a whole number >= 1"):
        open_dataset(root)


def test_a_newer_format_is_refused_with_one_line(made, tmp_path, capsys):
    root = copy_of(made, tmp_path)
    (root / FORMAT_FILE).write_text(json.dumps({"format_version": FORMAT_VERSION + 1}))
    line = (f"{root}: dataset format version {FORMAT_VERSION + 1} is newer than this stemsim reads "
            f"(version {FORMAT_VERSION}); upgrade stemsim to read it")
    with pytest.raises(InputError) as caught:
        open_dataset(root)
    assert str(caught.value) == line
    assert run("info", root) == 2
    assert capsys.readouterr().err == f"stemsim: error: {line}\n"
    (root / FORMAT_FILE).write_text("{not json")
    with pytest.raises(InputError, match=rf"^{root / FORMAT_FILE}: not a dataset format record"):
        open_dataset(root)
