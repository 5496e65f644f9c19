"""Every bad spec, file and command line of generate / preview / info: one line on stderr with
the exact message, exit status 2, no traceback, nothing written."""

from __future__ import annotations

import pytest
import yaml
from cli_runner import run

BASE = {"name": "bad", "label": "n_deformations", "image": {"size": 128, "pixel_size": 0.15}}

INF, NAN = float("inf"), float("nan")

# (change merged into BASE, the exact message after "stemsim: error: ")
SPECS = [
    # not finite, anywhere
    ({"image": {"pixel_size": INF}}, "image.pixel_size: must be finite, got inf"),
    ({"image": {"pixel_size": NAN}}, "image.pixel_size: must be a positive number of nm, got nan"),
    ({"object": {"size": INF}}, "object.size: must be finite, got inf"),
    ({"object": {"size": NAN}}, "object.size: must be finite, got nan"),
    ({"object": {"offset": -INF}}, "object.offset: must be finite, got -inf"),
    ({"object": {"orientation": [1, 0, NAN, 0]}},
     "object.orientation: expected 'random' or a quaternion [w, x, y, z], got [1, 0, nan, 0]"),
    ({"object": {"orientation": [INF, 0, 0, 0]}},
     "object.orientation: expected 'random' or a quaternion [w, x, y, z], got [inf, 0, 0, 0]"),
    ({"microscope": {"rotation_axis": [0, INF, 0]}},
     "microscope.rotation_axis: expected 'random' or a non-zero vector [x, y, z], got [0, inf, 0]"),
    ({"views": {"tilt": {"axis": [NAN, 1, 0]}}}, "views.tilt.axis: expected a non-zero vector [x, y, z], got [nan, 1, 0]"),
    ({"views": {"count": 3, "mode": "tilt", "tilt": {"step": INF}}},
     "views.tilt.step: expected a positive angle in degrees (or null), got inf"),
    ({"views": {"jitter": NAN}}, "views.jitter: expected an rms angle in degrees in [0, 180], got nan"),
    ({"microscope": {"dose": {"normal": [5000, INF]}}}, "microscope.dose.normal: parameters must be finite, got [5000, inf]"),
    ({"microscope": {"dose": {"normal": [5000, NAN]}}}, "microscope.dose.normal: parameters must be finite, got [5000, nan]"),
    ({"microscope": {"dose": {"normal": [0, NAN]}}}, "microscope.dose.normal: parameters must be finite, got [0, nan]"),
    ({"object": {"size": {"uniform": [5, INF]}}}, "object.size.uniform: parameters must be finite, got [5, inf]"),
    ({"object": {"size": {"loguniform": [NAN, 6]}}}, "object.size.loguniform: parameters must be finite, got [nan, 6]"),
    ({"microscope": {"probe_fwhm": {"choice": [0.1, INF]}}},
     "microscope.probe_fwhm.choice: parameters must be finite, got [0.1, inf]"),
    ({"support": {"thickness": NAN}}, "support.thickness: must be finite, got nan"),
    ({"splits": {"train": NAN, "test": 0.5}}, "splits.train: must be a fraction in [0, 1], got nan"),
    # physically absurd
    ({"microscope": {"dose": 1e300}}, "microscope.dose: must be <= 1e+08, got 1e+300"),
    ({"microscope": {"dose": {"loguniform": [100, 1e12]}}}, "microscope.dose: must be <= 1e+08, got 1e+12"),
    ({"image": {"pixel_size": 2.0, "size": 1024}, "object": {"size": 20}, "microscope": {"dose": 1e7}},
     "microscope.dose: up to 1e+07 e/Å² on 20 Å pixels is 4e+09 electrons per pixel, more than the 1e+09 a pixel counts"),
    ({"microscope": {"scattering": 1e10}}, "microscope.scattering: must be <= 0.001, got 1e+10"),
    ({"support": {"thickness": 1e300}}, "support.thickness: must be <= 100, got 1e+300"),
    ({"support": {"roughness": 50}}, "support.roughness: must be <= 20, got 50"),
    ({"support": {"correlation_length": 0}}, "support.correlation_length: must be > 0, got 0"),
    ({"object": {"size": 1e-300}},
     "object.size: down to 1e-300 nm (× object.aspect) is less than one 0.15 nm pixel (image.pixel_size): "
     "the object would not be seen"),
    ({"object": {"aspect": 1e-300}}, "object.aspect: must be >= 0.05, got 1e-300"),
    ({"object": {"size": 2, "aspect": 0.05}},
     "object.size: down to 0.1 nm (× object.aspect) is less than one 0.15 nm pixel (image.pixel_size): "
     "the object would not be seen"),
    ({"object": {"aspect": 50}}, "object.aspect: must be <= 20, got 50"),
    ({"microscope": {"drift": 1e300}}, "microscope.drift: must be <= 4096, got 1e+300"),
    ({"microscope": {"drift": 200}}, "microscope.drift: up to 200 pixels per frame is more than the 128-pixel field"),
    ({"microscope": {"drift": {"uniform": [-300, 0]}}},
     "microscope.drift: up to 300 pixels per frame is more than the 128-pixel field"),
    ({"microscope": {"probe_fwhm": 1e300}}, "microscope.probe_fwhm: must be <= 10, got 1e+300"),
    ({"microscope": {"probe_fwhm": -0.1}}, "microscope.probe_fwhm: must be >= 0, got -0.1"),
    ({"microscope": {"probe_tail_width": 500}}, "microscope.probe_tail_width: must be <= 100, got 500"),
    ({"microscope": {"scan_noise": 50}}, "microscope.scan_noise: must be <= 10, got 50"),
    ({"microscope": {"line_amplitude": 11}}, "microscope.line_amplitude: must be <= 10, got 11"),
    ({"microscope": {"rotation_during_scan": 720}}, "microscope.rotation_during_scan: must be <= 360, got 720"),
    ({"image": {"pixel_size": 1000}}, "image.pixel_size: must be <= 100, got 1000"),
    ({"image": {"pixel_size": 0}}, "image.pixel_size: must be a positive number of nm, got 0"),
    ({"image": {"size": 8192}}, "image.size: expected an integer number of pixels in 16..4096, got 8192"),
    # types: a bool is not a number
    ({"image": {"supersampling": True}}, "image.supersampling: expected an integer in 1..8, got true"),
    ({"image": {"size": True}}, "image.size: expected an integer number of pixels in 16..4096, got true"),
    ({"object": {"size": True}}, "object.size: expected a number, got true"),
    ({"microscope": {"dose": False}}, "microscope.dose: expected a number, got false"),
    ({"object": {"deformation": {"count": True}}}, "object.deformation.count: expected an integer, got true"),
    ({"classes": {"per_class": True}}, "classes.per_class: expected a positive integer, got true"),
    ({"views": {"count": True}}, "views.count: expected an integer number of views in 1..64, got true"),
    ({"output": {"shard_size": True}}, "output.shard_size: expected a positive integer, got true"),
    ({"seed": True}, "seed: expected a non-negative integer, got true"),
    ({"seed": 1.5}, "seed: expected a non-negative integer, got 1.5"),
    ({"object": {"size": {"uniform": [5, True]}}}, "object.size.uniform: expected a list of numbers, got [5, true]"),
    # the size of the plan
    ({"classes": {"per_class": 1_000_000_000}},
     "classes.per_class: 1,000,000,000 images per class make 9,000,000,000 images (views counted), "
     "more than the 10,000,000 of one dataset: split it into several"),
    ({"classes": {"per_class": 200_000}, "views": {"count": 8}},
     "classes.per_class: 200,000 images per class make 14,400,000 images (views counted), "
     "more than the 10,000,000 of one dataset: split it into several"),
    # echoed values are cut, and stay on one line
    ({"name": 7}, "name: a dataset needs a name (a non-empty string)"),
    ({"label": "x" * 500}, "label: expected one of deformed, n_deformations, configuration, shape, got "
                           "'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"),
    ({"label": "a\nb\x00c"}, "label: expected one of deformed, n_deformations, configuration, shape, got 'a\\nb\\x00c'"),
    ({"seed": [[[[[1]]]]]}, "seed: expected a non-negative integer, got [[[[...]]]]"),
    ({"seed": list(range(1000))}, "seed: expected a non-negative integer, got [0, 1, 2, 3, 4, 5, 6, 7, ...]"),
    ({"k" * 300: 1}, "k" * 79 + "…: unknown key (allowed: name, seed, image, label, classes, splits, object, "
                     "microscope, support, views, output)"),
    ({"object": {"size": {"uniform": "x" * 300}}},
     "object.size.uniform: expected a list of numbers, got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx..."
     "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'"),
    # the saved spec's stamp
    ({"spec_hash": 12}, "spec_hash: expected the string that stemsim wrote, got 12"),
    ({"stemsim_version": [0, 1]}, "stemsim_version: expected the string that stemsim wrote, got [0, 1]"),
]


def merged(change: dict) -> dict:
    spec = dict(BASE)
    for key, value in change.items():
        spec[key] = {**spec[key], **value} if isinstance(value, dict) and isinstance(spec.get(key), dict) else value
    return spec


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.count("\n") == 1 and err.startswith("stemsim: error: "), err
    return err[len("stemsim: error: "):-1]


def refused_by_generate_and_preview(change: dict, message: str, tmp_path, capsys) -> None:
    """The spec BASE + ``change``: generate and preview each print ``message`` alone and write nothing."""
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(merged(change), allow_unicode=True))
    out = tmp_path / "out"
    assert run("generate", path, "--out", out) == 2
    assert one_error_line(capsys) == message
    assert not out.exists()
    assert run("preview", path, "--out", tmp_path / "p.png") == 2
    assert one_error_line(capsys) == message
    assert not (tmp_path / "p.png").exists()


@pytest.mark.parametrize("change, message", SPECS, ids=[m.split(":")[0][:40] for _, m in SPECS])
def test_bad_spec(change, message, tmp_path, capsys):
    refused_by_generate_and_preview(change, message, tmp_path, capsys)


BILLION_LAUGHS = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
    f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n" for p, n in zip("abcdefgh", "bcdefghi")) + "seed: *i\n"

# (the file's text, the message after "stemsim: error: FILE: ")
FILES = [
    ("name: a\nseed: 1\nname: b\n", "not valid YAML (line 3): duplicate key 'name'"),
    ("name: a\nimage: {size: 64, size: 32}\n", "not valid YAML (line 2): duplicate key 'size'"),
    ("name: a\nmicroscope:\n  dose: 1\n  dose: 2\n", "not valid YAML (line 4): duplicate key 'dose'"),
    ("seed: " + "[" * 20000 + "]" * 20000 + "\n", "nested more than 50 levels deep"),
    ("seed: " + "[" * 51 + "]" * 51 + "\n", "nested more than 50 levels deep"),
    (BILLION_LAUGHS, "holds more than 1,000,000 values once its aliases are expanded"),
    ("name: a\x00b\n", "not valid YAML: unacceptable character #x0000: special characters are not allowed"),
    ("name: [unclosed\n", "not valid YAML (line 2): expected ',' or ']', but got '<stream end>'"),
    ("- 1\n- 2\n", "expected a mapping of spec keys, got list"),
    ("name: a\n---\nname: b\n", "not valid YAML (line 2): but found another document"),
]


@pytest.mark.parametrize("text, message", FILES, ids=[m[:30] for _, m in FILES])
def test_bad_spec_file(text, message, tmp_path, capsys):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    assert run("generate", path, "--out", tmp_path / "out") == 2
    assert one_error_line(capsys) == f"{path}: {message}"
    assert not (tmp_path / "out").exists()


def test_a_binary_or_huge_file_is_refused(tmp_path, capsys):
    binary = tmp_path / "spec.yaml"
    binary.write_bytes(b"\xff\xfe\x00\x01" * 10)
    assert run("generate", binary, "--out", tmp_path / "out") == 2
    assert one_error_line(capsys) == f"{binary}: not a text file"
    huge = tmp_path / "huge.yaml"
    with huge.open("w") as handle:
        handle.write("name: a\n# " + "x" * (11 * 2**20) + "\n")
    assert run("generate", huge, "--out", tmp_path / "out") == 2
    assert one_error_line(capsys) == f"{huge}: 11 MB is too large for a spec file (the limit is 10 MB)"
    assert run("generate", tmp_path, "--out", tmp_path / "out") == 2
    assert one_error_line(capsys) == f"{tmp_path}: no such spec file (it is a folder)"


# every usage error of every verb: exit 2, one line (typer's hints kept)
USAGE = [
    (["generat"], "No such command 'generat'. Did you mean 'generate'? (see `stemsim --help`)"),
    (["generate", "SPEC"], "Missing option '--out' / '-o'. (see `stemsim generate --help`)"),
    (["generate", "SPEC", "--out", "OUT", "--jobs", "abc"],
     "Invalid value for '--jobs' / '-j': Input should be a valid integer, unable to parse string as an integer "
     "(see `stemsim generate --help`)"),
    (["generate", "SPEC", "--out", "OUT", "--bogus"], "No such option: --bogus"),
    (["generate"], "Missing argument 'spec'. (see `stemsim generate --help`)"),
    (["preview"], "Missing argument 'spec'. (see `stemsim preview --help`)"),
    (["info"], "Missing argument 'directory'. (see `stemsim info --help`)"),
    (["train"], "Missing argument 'experiment'. (see `stemsim train --help`)"),
    (["train", "EXP"], "Missing option '--out' / '-o'. (see `stemsim train --help`)"),
    (["evaluate"], "Missing argument 'run_dir'. (see `stemsim evaluate --help`)"),
    (["evaluate", "RUN", "--batch-size", "0"], "Invalid value for '--batch-size'"),
    (["predict"], "Missing argument 'run_dir'. (see `stemsim predict --help`)"),
    (["bench"], "Missing argument 'bench'. (see `stemsim bench --help`)"),
    (["convert-run"], "Missing argument 'run_dir'. (see `stemsim convert-run --help`)"),
    (["import-stm", "A", "B"], "Missing option '--out' / '-o'. (see `stemsim import-stm --help`)"),
    (["--nope"], "No such option: --nope"),
]


@pytest.mark.parametrize("argv, message", USAGE, ids=[" ".join(a)[:30] for a, _ in USAGE])
def test_usage_errors_exit_2_with_one_line(argv, message, tmp_path, capsys):
    argv = [str(tmp_path / a) if a in ("SPEC", "OUT", "EXP", "RUN") else a for a in argv]
    assert run(*argv) == 2
    assert one_error_line(capsys).startswith(message)


def test_help_still_exits_0(capsys):
    assert run("--help") == 0
    assert "generate" in capsys.readouterr().out
    assert run("generate", "--help") == 0
    assert "--out" in capsys.readouterr().out


def test_the_saved_spec_is_a_spec_and_regenerates_the_same_bytes(tmp_path):
    from test_dataset import TINY, tree, write_spec

    first = tmp_path / "first"
    assert run("generate", write_spec(tmp_path, {**TINY, "classes": {"values": [0, 2], "per_class": 2}}),
               "--out", first) == 0
    second = tmp_path / "second"
    assert run("generate", first / "spec.yaml", "--out", second) == 0
    assert tree(first) == tree(second)
    assert run("preview", first / "spec.yaml", "-n", 1, "--out", tmp_path / "p.png") == 0
    # an edited copy is a spec too: its stamp is recomputed for what it makes
    edited = yaml.safe_load((first / "spec.yaml").read_text())
    edited["seed"] = 8
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(edited))
    assert run("generate", tmp_path / "edited.yaml", "--out", tmp_path / "third") == 0
    third = yaml.safe_load((tmp_path / "third" / "spec.yaml").read_text())
    assert third["seed"] == 8 and third["spec_hash"] != edited["spec_hash"]


def test_every_shipped_spec_is_within_the_ranges():
    from pathlib import Path

    from stemsim.dataset.spec import load_spec

    root = Path(__file__).resolve().parents[1] / "configs"
    specs = sorted(root.glob("*.yaml"))
    assert len(specs) >= 9
    for path in specs:
        load_spec(path)
