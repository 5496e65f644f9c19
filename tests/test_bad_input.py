"""Bad input to generate / preview / info, beyond tests/test_bad_specs.py: what a distribution
can draw, values that would make empty or blurred images, values too large to print, dataset
names, the options of each verb, a dataset's own spec.yaml, and a usage error of every verb.
Each is one line on stderr with the exact message, exit status 2, no traceback, nothing written.
Nothing here simulates an image (every input is refused while it is validated)."""

from __future__ import annotations

import os

import numpy as np
import pytest
import yaml
from cli_runner import run
from test_bad_specs import BILLION_LAUGHS, one_error_line, refused_by_generate_and_preview

from stemsim.dataset.spec import MAX_IMAGES, RANGES, dump_spec, load_spec, resolve, spec_hash

INF, NAN = float("inf"), float("nan")
TINY = {"name": "tiny", "label": "n_deformations", "image": {"size": 32, "pixel_size": 0.6},
        "classes": {"values": [0, 2], "per_class": 2}, "object": {"size": 6}}

# (change merged into test_bad_specs.BASE: 128 px of 0.15 nm, a 19.2 nm field; the exact message
# after "stemsim: error: ")
SPECS = [
    # a normal is redrawn into the parameter's range: its std is at most the range's width
    ({"microscope": {"scattering": {"normal": [1e-5, 1]}}},
     "microscope.scattering.normal: std must be <= 0.0009999, the width of the range [1e-07, 0.001] that draws "
     "are redrawn into, got 1"),
    ({"microscope": {"probe_fwhm": {"normal": [0.12, 100]}}},
     "microscope.probe_fwhm.normal: std must be <= 10, the width of the range [0, 10] that draws are redrawn "
     "into, got 100"),
    ({"object": {"aspect": {"normal": [1, 50]}}},
     "object.aspect.normal: std must be <= 19.95, the width of the range [0.05, 20] that draws are redrawn into, "
     "got 50"),
    ({"object": {"offset": {"normal": [0, 1e300]}}},
     "object.offset.normal: std must be <= 2000, the width of the range [-1000, 1000] that draws are redrawn "
     "into, got 1e+300"),
    ({"microscope": {"rotation_during_scan": {"normal": [0, 1e300]}}},
     "microscope.rotation_during_scan.normal: std must be <= 720, the width of the range [-360, 360] that draws "
     "are redrawn into, got 1e+300"),
    ({"microscope": {"drift": {"normal": [0, 1e300]}}},
     "microscope.drift.normal: std must be <= 8192, the width of the range [-4096, 4096] that draws are redrawn "
     "into, got 1e+300"),
    ({"support": {"thickness": {"normal": [3, 1e300]}}},
     "support.thickness.normal: std must be <= 100, the width of the range [0, 100] that draws are redrawn into, "
     "got 1e+300"),
    ({"microscope": {"probe_tail_weight": {"normal": [0.5, 2]}}},
     "microscope.probe_tail_weight.normal: std must be <= 1, the width of the range [0, 1] that draws are "
     "redrawn into, got 2"),
    ({"microscope": {"z_exponent": {"normal": [1.7, 1.5]}}},
     "microscope.z_exponent.normal: std must be <= 1, the width of the range [1, 2] that draws are redrawn into, "
     "got 1.5"),
    ({"microscope": {"dose": {"normal": [2e8, 1]}}}, "microscope.dose: must be <= 1e+08, got 2e+08"),
    ({"microscope": {"dose": {"normal": [5000, -1]}}}, "microscope.dose.normal: std must be >= 0, got -1"),
    # every value of a uniform, loguniform or choice is inside the range
    ({"microscope": {"dose": {"choice": [5000, 1e9]}}}, "microscope.dose: must be <= 1e+08, got 1e+09"),
    ({"microscope": {"scattering": {"uniform": [1e-5, 0.1]}}}, "microscope.scattering: must be <= 0.001, got 0.1"),
    ({"microscope": {"line_frequency": {"loguniform": [1, 1e6]}}},
     "microscope.line_frequency: must be <= 2048, got 1e+06"),
    ({"object": {"deformation": {"depth": {"uniform": [0, 0.3]}}}},
     "object.deformation.depth: must be >= 0.01, got 0"),
    ({"object": {"aspect": {"choice": [1, 0.01]}}}, "object.aspect: must be >= 0.05, got 0.01"),
    ({"microscope": {"z_exponent": {"choice": [1.7, 2.5]}}}, "microscope.z_exponent: must be <= 2, got 2.5"),
    # values that would make an empty, black or blurred image
    ({"microscope": {"dose": 1e-300}},
     "microscope.dose: down to 1e-300 e/Å² on 1.5 Å pixels is 2.25e-300 electrons per pixel, fewer than one: "
     "the image would be empty"),
    ({"microscope": {"dose": 0.1}},
     "microscope.dose: down to 0.1 e/Å² on 1.5 Å pixels is 0.225 electrons per pixel, fewer than one: the image "
     "would be empty"),
    ({"microscope": {"dose": {"loguniform": [0.01, 5000]}}},
     "microscope.dose: down to 0.01 e/Å² on 1.5 Å pixels is 0.0225 electrons per pixel, fewer than one: the "
     "image would be empty"),
    ({"microscope": {"dose": {"normal": [5000, 2000]}}},  # mean - 4 std, redrawn above 0
     "microscope.dose: down to 0 e/Å² on 1.5 Å pixels is 0 electrons per pixel, fewer than one: the image would "
     "be empty"),
    ({"microscope": {"scattering": 1e-300}}, "microscope.scattering: must be >= 1e-07, got 1e-300"),
    ({"microscope": {"scattering": 0}}, "microscope.scattering: must be >= 1e-07, got 0"),
    ({"object": {"deformation": {"depth": 1e-300}}}, "object.deformation.depth: must be >= 0.01, got 1e-300"),
    ({"microscope": {"z_exponent": 1e-300}}, "microscope.z_exponent: must be >= 1, got 1e-300"),
    ({"microscope": {"z_exponent": 0.5}}, "microscope.z_exponent: must be >= 1, got 0.5"),
    ({"image": {"pixel_size": 1e-9}, "object": {"size": 1e-8}}, "image.pixel_size: must be >= 0.01, got 1e-09"),
    ({"microscope": {"probe_fwhm": 9}},
     "microscope.probe_fwhm: up to 9 nm is more than a quarter of the 19.2 nm field of view "
     "(image.size × image.pixel_size): the image would be a blur"),
    ({"microscope": {"probe_fwhm": {"uniform": [0.1, 5]}}},
     "microscope.probe_fwhm: up to 5 nm is more than a quarter of the 19.2 nm field of view "
     "(image.size × image.pixel_size): the image would be a blur"),
    ({"microscope": {"probe_fwhm": {"normal": [4, 1]}}},
     "microscope.probe_fwhm: up to 8 nm is more than a quarter of the 19.2 nm field of view "
     "(image.size × image.pixel_size): the image would be a blur"),
    ({"image": {"size": 16}, "object": {"size": 1}, "microscope": {"probe_fwhm": 0.7}},
     "microscope.probe_fwhm: up to 0.7 nm is more than a quarter of the 2.4 nm field of view "
     "(image.size × image.pixel_size): the image would be a blur"),
    ({"image": {"size": 256}, "object": {"size": {"normal": [6, 2]}}},
     "object.size: down to 0 nm (× object.aspect) is less than one 0.15 nm pixel (image.pixel_size): the object "
     "would not be seen"),
    ({"views": {"count": 3, "mode": "tilt", "tilt": {"range": [-1e300, 1e300]}}},
     "views.tilt.range: angles must be in [-360, 360] degrees, got [-1e+300, 1e+300]"),
    ({"views": {"tilt": {"range": [0, 400]}}}, "views.tilt.range: angles must be in [-360, 360] degrees, got [0, 400]"),
    ({"views": {"count": 2, "mode": "tilt", "tilt": {"range": [-360, 360], "step": 1000}}},
     "views.tilt.step: must be <= 720 degrees, got 1000"),
    ({"splits": {f"s{i}": 1.0 if i == 0 else 0.0 for i in range(17)}}, "splits: at most 16 splits, got 17"),
    # integers too large for a float, or to print
    ({"object": {"deformation": {"count": -10**30}}}, "object.deformation.count: must be >= 0, got -1e+30"),
    ({"microscope": {"dose": 10**400}}, "microscope.dose: must be <= 1e+08, got <an integer of about 400 digits>"),
    ({"object": {"size": 10**30}}, "object.size: must be <= 1000, got 1e+30"),
    ({"object": {"deformation": {"count": 10**30}}},
     "object.deformation.count: must be <= 8 (the most vertices of any shape), got 1e+30"),
    ({"object": {"deformation": {"count": {"uniform": [0, 20]}}}},
     "object.deformation.count: must be <= 8 (the most vertices of any shape), got 20"),
    ({"classes": {"per_class": 10**30}},
     f"classes.per_class: 1e+30 images per class make 9e+30 images (views counted), more than the "
     f"{MAX_IMAGES:,} of one dataset: split it into several"),
    ({"seed": 10**30}, "seed: must be below 2^63, got 1000000000000000000000000000000"),
    ({"seed": 2**63}, "seed: must be below 2^63, got 9223372036854775808"),
    ({"output": {"shard_size": 10**30}},
     f"output.shard_size: must be <= {MAX_IMAGES:,} (the most images of a dataset), got 1e+30"),
    # a bool is not a number, spelt as the file spells it
    ({"object": {"aspect": True}}, "object.aspect: expected a number, got true"),
    ({"object": {"deformation": {"count": False}}}, "object.deformation.count: expected an integer, got false"),
    ({"microscope": {"dose": {"choice": [5000, False]}}},
     "microscope.dose.choice: expected a list of numbers, got [5000, false]"),
    ({"object": {"deformation": {"count": {"uniform": [0, True]}}}},
     "object.deformation.count.uniform: expected a list of numbers, got [0, true]"),
    ({"output": {"dtype": None}}, "output.dtype: expected one of uint8, uint16, float32, got null"),
    # a choice of names: a non-empty list
    ({"object": {"material": {"choice": []}}}, "object.material.choice: expected a non-empty list, got []"),
    ({"object": {"shape": {"choice": []}}}, "object.shape.choice: expected a non-empty list, got []"),
    ({"object": {"shape": {"choice": "cuboid"}}}, "object.shape.choice: expected a non-empty list, got 'cuboid'"),
    ({"object": {"deformation": {"kind": {"choice": []}}}},
     "object.deformation.kind.choice: expected a non-empty list, got []"),
    ({"object": {"shape": {"choice": ["cuboid"], "weights": [1]}}},
     "object.shape: expected a value or {choice: [v1, v2, ...]}, got {'choice': ['cuboid'], 'weights': [1]}"),
    ({"object": {"material": "x" * 10000}},
     "object.material: unknown element "
     "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"),
    ({"object": {"material": 10**30}}, "object.material: Z must be in 1..103, got 1000000000000000000000000000000"),
    ({"label": "shape", "classes": {"values": []}}, "classes.values: expected a non-empty list, got []"),
    ({"classes": {"values": "abc"}}, "classes.values: expected a non-empty list, got 'abc'"),
    ({"classes": {"values": {"a": 1}}}, "classes.values: expected a non-empty list, got {'a': 1}"),
    ({"output": {"formats": ["png", "png"]}}, "output.formats: a format is listed twice: ['png', 'png']"),
    # a dataset's name names folders (a bench's datasets/NAME-HASH)
    ({"name": "../../evil"},
     "name: expected at most 100 printable characters, no / or \\ (it names folders), got '../../evil'"),
    ({"name": "a\\b"}, "name: expected at most 100 printable characters, no / or \\ (it names folders), got 'a\\\\b'"),
    ({"name": ".."}, "name: expected at most 100 printable characters, no / or \\ (it names folders), got '..'"),
    ({"name": "a\x00b"},
     "name: expected at most 100 printable characters, no / or \\ (it names folders), got 'a\\x00b'"),
    ({"name": "x" * 101}, "name: expected at most 100 printable characters, no / or \\ (it names folders), got "
                          "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"),
]


@pytest.mark.parametrize("change, message", SPECS, ids=[m.split(":")[0][:40] for _, m in SPECS])
def test_bad_spec(change, message, tmp_path, capsys):
    refused_by_generate_and_preview(change, message, tmp_path, capsys)


def test_a_number_too_long_to_read_is_refused(tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text("name: a\nlabel: deformed\nseed: " + "9" * 5000 + "\n")
    assert run("generate", path, "--out", tmp_path / "out") == 2
    assert one_error_line(capsys) == f"{path}: not valid YAML (line 3): an integer of 5000 characters is too long"


# (argv, the message; {SPEC} a valid tiny spec, {OUT} a fresh folder, {FILE} a file, {DIR} a folder)
OPTIONS = [
    (["generate", "{SPEC}", "--out", "{OUT}", "--jobs", "-1"], "--jobs: must be >= 1, got -1"),
    (["generate", "{SPEC}", "--out", "{OUT}", "--jobs", "100000"],
     f"--jobs: at most {4 * (os.cpu_count() or 1)} worker processes here (4 per CPU core), got 100000"),
    (["generate", "{SPEC}", "--out", "{OUT}", "--backend", "threads"],
     "--backend: expected loky or dask, got 'threads'"),
    (["generate", "{SPEC}", "--out", "{OUT}", "--scheduler", "tcp://127.0.0.1:1"],
     "--scheduler: only with --backend dask"),
    (["generate", "{SPEC}", "--out", "{OUT}", "--seed", "-1"], "--seed: expected an integer in 0..2^63-1, got -1"),
    (["generate", "{SPEC}", "--out", "{OUT}", "--seed", str(2**63)],
     "--seed: expected an integer in 0..2^63-1, got 9223372036854775808"),
    (["generate", "{SPEC}", "--out", "{OUT}", "--limit", "0"], "--limit: must be >= 1, got 0"),
    (["generate", "{SPEC}", "--out", "{FILE}"], "{FILE}: is a file, not a folder; choose another --out"),
    (["generate", "{SPEC}", "--out", "{FILE}/sub"], "{FILE}/sub: cannot write the dataset (not a directory)"),
    (["generate", "{DIR}/missing.yaml", "--out", "{OUT}"], "{DIR}/missing.yaml: no such spec file"),
    (["preview", "{SPEC}", "-n", "0", "--out", "{OUT}/p.png"], "-n: must be >= 1, got 0"),
    (["preview", "{SPEC}", "-n", "1000000000", "--out", "{OUT}/p.png"], "-n: at most 256 images in a grid, got 1000000000"),
    (["preview", "{SPEC}", "--out", "{DIR}"], "{DIR}: is a folder; give --out the PNG file to write"),
    (["preview", "{SPEC}", "--out", "{FILE}/grid.png"], "{FILE}: is a file, not a folder; choose another --out"),
    (["preview", "{SPEC}", "--seed", "-2", "--out", "{OUT}/p.png"], "--seed: expected an integer in 0..2^63-1, got -2"),
    (["preview", "{DIR}", "--out", "{OUT}/p.png"],
     "{DIR}: is a folder; preview takes a spec file (a dataset's spec.yaml works too)"),
    (["preview", "{SPEC}"], "Missing option '--out' / '-o'. (see `stemsim preview --help`)"),
    (["preview", "{SPEC}", "--out", "{OUT}/p.png", "--display", "gamma"],
     "--display: expected log, percentile, minmax, got 'gamma'"),
    (["info", "{FILE}"], "{FILE}: not a stemsim dataset (no spec.yaml)"),
    (["info", "{DIR}/missing"], "{DIR}/missing: not a stemsim dataset (no spec.yaml)"),
]


@pytest.mark.parametrize("argv, message", OPTIONS, ids=[" ".join(a[:1] + a[2:])[:40] for a, _ in OPTIONS])
def test_bad_options(argv, message, tmp_path, capsys):
    (tmp_path / "spec.yaml").write_text(yaml.safe_dump(TINY))
    (tmp_path / "file").write_text("not a folder\n")
    (tmp_path / "dir").mkdir()
    names = {"SPEC": tmp_path / "spec.yaml", "OUT": tmp_path / "out", "FILE": tmp_path / "file",
             "DIR": tmp_path / "dir"}
    assert run(*(a.format(**names) for a in argv)) == 2
    assert one_error_line(capsys) == message.format(**names)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file", "spec.yaml"]  # nothing written
    assert list((tmp_path / "dir").iterdir()) == []


def _resolved_text(**changes) -> str:
    document = yaml.safe_load(dump_spec(resolve(TINY)))
    document.update(changes)
    return yaml.safe_dump(document, sort_keys=False)


# (the text of DATASET/spec.yaml, the message after "stemsim: error: DATASET/spec.yaml: ")
INFO = [
    ("spec_hash: x\n", "name: a dataset needs a name (a non-empty string)"),
    ("spec_hash: x\nname: a\n", "label: expected one of deformed, n_deformations, configuration, shape, got null"),
    ("- 1\n", "not a dataset's resolved spec (no spec_hash); is DATASET a dataset?"),
    ("name: a\nname: b\nspec_hash: x\n", "not valid YAML (line 2): duplicate key 'name'"),
    ("spec_hash: [\n", "not valid YAML (line 2): expected the node content, but found '<stream end>'"),
    (BILLION_LAUGHS + "spec_hash: x\n", "holds more than 1,000,000 values once its aliases are expanded"),
    ("spec_hash: x\nseed: " + "[" * 20000 + "]" * 20000 + "\n", "nested more than 50 levels deep"),
    (_resolved_text(spec_hash=12), "spec_hash: expected the string that stemsim wrote, got 12"),
    (_resolved_text(image={"size": "x", "pixel_size": 0.6}),
     "image.size: expected an integer number of pixels in 16..4096, got 'x'"),
    (_resolved_text(classes={"values": [0, 2], "per_class": 10**9}),
     f"classes.per_class: 1,000,000,000 images per class make 2,000,000,000 images (views counted), more than "
     f"the {MAX_IMAGES:,} of one dataset: split it into several"),
    (_resolved_text(bogus=1),
     "bogus: unknown key (allowed: name, seed, image, label, classes, splits, object, microscope, support, views, "
     "output)"),
]


@pytest.mark.parametrize("text, message", INFO, ids=[m[:30] for _, m in INFO])
def test_info_of_a_bad_dataset(text, message, tmp_path, capsys):
    dataset = tmp_path / "dataset"
    dataset.mkdir()
    (dataset / "spec.yaml").write_text(text)
    assert run("info", dataset) == 2
    assert one_error_line(capsys) == f"{dataset / 'spec.yaml'}: {message.replace('DATASET', str(dataset))}"


def test_info_of_a_binary_spec(tmp_path, capsys):
    (tmp_path / "spec.yaml").write_bytes(b"\xff\xfe\x00\x01")
    assert run("info", tmp_path) == 2
    assert one_error_line(capsys) == f"{tmp_path / 'spec.yaml'}: not a text file"


# one usage error of each verb: exit 2, one line, no traceback (typer's own words)
USAGE = [
    (["generate", "SPEC", "--out"], "Option '--out' requires an argument."),
    (["generate", "SPEC", "--out", "OUT", "--limit", "x"], "Invalid value for '--limit'"),
    (["generate", "SPEC", "--out", "OUT", "extra"], "Got unexpected extra argument(s) (extra)"),
    (["preview", "SPEC", "--bogus"], "No such option: --bogus"),
    (["preview", "SPEC", "-n", "1.5"], "Invalid value for '-n'"),
    (["info", "a", "b"], "Got unexpected extra argument(s) (b) (see `stemsim info --help`)"),
    (["info", "--bogus"], "No such option: --bogus"),
    (["train", "EXP", "--out", "OUT", "--bogus"], "No such option: --bogus"),
    (["evaluate", "RUN", "--bogus"], "No such option: --bogus"),
    (["predict", "RUN", "x.png", "--bogus"], "No such option: --bogus"),
    (["bench", "BENCH", "--bogus"], "No such option: --bogus"),
    (["convert-run", "RUN", "--bogus"], "No such option: --bogus"),
    (["import-stm", "--bogus"], "No such option: --bogus"),
    (["serve"], "Missing argument"),
    (["serve", "RUN", "--port", "x"], "Invalid value for '--port'"),
    (["previw"], "No such command 'previw'. Did you mean 'preview', 'predict'? (see `stemsim --help`)"),
    (["Generate"], "No such command 'Generate'."),
]


@pytest.mark.parametrize("argv, message", USAGE, ids=[" ".join(a)[:30] for a, _ in USAGE])
def test_usage_error_of_every_verb(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / a) if a in ("SPEC", "OUT", "EXP", "RUN", "BENCH") else a for a in argv]
    assert run(*argv) == 2
    assert one_error_line(capsys).startswith(message)


@pytest.mark.parametrize("verb", ["generate", "preview", "info", "train", "evaluate", "predict", "bench",
                                  "convert-run", "import-stm", "serve"])
def test_every_verb_has_help_exit_0(verb, capsys):
    assert run(verb, "--help") == 0
    assert "Usage" in capsys.readouterr().out


def test_a_normal_is_drawn_inside_the_range():
    from stemsim.dataset.sampling import drawn

    rng = np.random.default_rng(0)
    low, high, _ = RANGES["microscope.probe_fwhm"]
    values = [drawn({"normal": [9.5, 10]}, rng, "microscope.probe_fwhm") for _ in range(2000)]
    assert low <= min(values) and max(values) <= high and len(set(values)) == len(values)


def test_the_stamp_of_a_saved_spec_is_checked(tmp_path, capsys):
    from stemsim import __version__

    resolved = resolve(TINY)
    saved = tmp_path / "spec.yaml"
    saved.write_text(dump_spec(resolved))
    notes: list[str] = []
    assert load_spec(saved, warn=notes.append) == resolved and notes == []
    assert load_spec(saved, seed=4, limit=1, warn=notes.append)["seed"] == 4 and notes == []  # overrides: no edit

    document = yaml.safe_load(saved.read_text())
    edited = tmp_path / "edited.yaml"
    edited.write_text(yaml.safe_dump({**document, "seed": 8}, sort_keys=False))
    load_spec(edited, warn=notes.append)
    now = resolve({**TINY, "seed": 8})
    assert notes == [f"{edited}: spec_hash {document['spec_hash']} is not its spec's ({spec_hash(now)}): "
                     f"edited since stemsim wrote it, it makes another dataset"]

    older = tmp_path / "older.yaml"
    older.write_text(yaml.safe_dump({**document, "stemsim_version": "0.0.1"}, sort_keys=False))
    notes.clear()
    load_spec(older, warn=notes.append)
    assert notes == [f"{older}: written by stemsim 0.0.1, this is {__version__}: what it makes may differ from "
                     f"the dataset it describes"]

    # on the command line: a warning line, then the verb goes on (here to refuse a folder that is a file)
    (tmp_path / "FILE").write_text("x")
    assert run("generate", edited, "--out", tmp_path / "FILE") == 2
    err = capsys.readouterr().err.splitlines()
    assert err == [f"stemsim: warning: {edited}: spec_hash {document['spec_hash']} is not its spec's "
                   f"({spec_hash(now)}): edited since stemsim wrote it, it makes another dataset",
                   f"stemsim: error: {tmp_path / 'FILE'}: is a file, not a folder; choose another --out"]


def test_every_shipped_and_benched_spec_is_within_the_ranges():
    from pathlib import Path

    from stemsim.yamlio import read_yaml

    root = Path(__file__).resolve().parents[1] / "configs"
    specs = set(root.glob("*.yaml"))
    for bench in sorted((root / "benchmarks").glob("*.yaml")):
        dataset = read_yaml(bench, "bench")["dataset"]
        if "spec" in dataset:
            specs.add((bench.parent / dataset["spec"]).resolve())
    assert len(specs) >= 9
    for path in sorted(specs):
        load_spec(path, warn=pytest.fail)


def test_images_at_the_limit_are_read(tmp_path):
    from stemsim.classifiers.limits import check_image_size, check_npz
    from stemsim.classifiers.preprocessing import read_image

    check_image_size("x.png", 8192, 8192)  # exactly the limit: fine
    np.savez(tmp_path / "fine.npz", images=np.zeros((4, 8, 8), np.uint8))
    assert check_npz(tmp_path / "fine.npz") == {"images": ((4, 8, 8), np.dtype(np.uint8))}
    import tifffile

    tifffile.imwrite(tmp_path / "a.tif", np.arange(12, dtype=np.float32).reshape(3, 4))
    assert read_image(tmp_path / "a.tif").shape == (3, 4)
