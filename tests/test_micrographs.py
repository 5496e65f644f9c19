"""Microscope files in (issue #27, "Read what microscopes write"): classifiers/micrographs.py.

The real Gatan .dm4 beside the repository (../shared/data/real_haadf, read by path); small
calibrated files written here with rosettasciio's own writers (.hspy, Berkeley .emd, TIFF with
Gatan/ImageJ tags), tifffile (an ImageJ TIFF in nm), a hand-made MRC header, and a PNG. Each
bad case gives its exact one-line message; ``stemsim predict`` and ``stemsim serve`` read a
calibrated file as they read the same image as a PNG with ``--pixel-size``.
"""

from __future__ import annotations

from conftest_classifiers import run_cli
from test_dataset import generate_once

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stemsim.classifiers.micrographs import read_micrograph
from stemsim.errors import InputError, command_line

pytest.importorskip("rsciio", reason='rosettasciio reads the microscope files: pip install -e ".[files]"')

REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real_haadf" / "jeol_haadf.dm4"
IMAGE = np.add.outer(np.arange(24.0), 2 * np.arange(32.0))  # 24 rows × 32 columns: the axes are not swapped


def axis(name: str, size: int, scale: float = 1.0, units=None, navigate: bool = False) -> dict:
    return {"name": name, "size": size, "scale": scale, "offset": 0.0, "units": units, "navigate": navigate}


def image_axes(scale: float, units, shape=IMAGE.shape) -> list[dict]:
    return [axis("y", shape[0], scale, units), axis("x", shape[1], scale, units)]


def signal(data, axes, signal_type: str = "", title: str = "", **metadata) -> dict:
    """A signal dict as rosettasciio's writers take it (the keys a HyperSpy signal gives them)."""
    return {"data": np.asarray(data), "axes": axes, "original_metadata": {}, "tmp_parameters": {},
            "metadata": {"General": {"title": title}, "Signal": {"signal_type": signal_type}, **metadata},
            "attributes": {"_lazy": False}, "package_info": {"name": "", "version": ""},
            "learning_results": {}, "models": {}}


def hspy(path: Path, data, axes, **kw) -> Path:
    from rsciio.hspy import file_writer

    file_writer(str(path), signal(data, axes, **kw))
    return path


def mrc(path: Path, data: np.ndarray, angstrom_per_pixel: float) -> Path:
    """A minimal MRC2014 file: a 1024-byte header (mode 2, float32), then the pixels."""
    header = np.zeros(256, "<i4")
    ny, nx = data.shape
    header[[0, 1, 2, 3, 7, 8, 9]] = [nx, ny, 1, 2, nx, ny, 1]
    header[10:13] = np.array([nx * angstrom_per_pixel, ny * angstrom_per_pixel, angstrom_per_pixel],
                             "<f4").view("<i4")
    header[16:19] = [1, 2, 3]
    header[52] = np.frombuffer(b"MAP ", "<i4")[0]
    path.write_bytes(header.tobytes() + data.astype("<f4").tobytes())
    return path


def error_of(call, *args, **kw) -> str:
    with pytest.raises(InputError) as caught:
        call(*args, **kw)
    message = str(caught.value)
    assert "\n" not in message
    return message


# ---- reading and the scale ---------------------------------------------------------------------


def test_the_real_dm4_reads_at_its_own_calibration():
    if not REAL.is_file():
        pytest.skip(f"the shared real image is not beside the repository ({REAL})")
    m = read_micrograph(REAL)
    assert m.image.shape == (112, 112) and m.image.dtype == np.float64
    assert m.pixel_size_nm == pytest.approx(1.2490, abs=5e-5) and m.scale_from == "file"
    assert m.file_scale[0] == pytest.approx(0.0012490, abs=5e-8) and m.file_scale[1] == "µm"
    assert m.reader.startswith("Gatan DigitalMicrograph (rosettasciio ") and m.stored is None
    assert m.acquisition["beam_energy_keV"] == 80 and m.acquisition["acquisition_mode"] == "STEM"
    assert m.pixels is m.image  # a microscope file gives the run float64 intensities
    assert read_micrograph(REAL, pixel_size=1.25).pixel_size_nm == m.pixel_size_nm  # within 1 %: the file's
    with command_line():
        assert error_of(read_micrograph, REAL, pixel_size=1.3) == (
            f"--pixel-size: 1.3 nm per pixel, but {REAL} says 1.249 nm (0.001249 µm); leave --pixel-size out to "
            "use the file's, or add --override-scale to use yours")
    forced = read_micrograph(REAL, pixel_size=1.3, override_scale=True)
    assert forced.pixel_size_nm == 1.3 and forced.scale_from == "override"


@pytest.mark.parametrize("scale, units, nm", [(0.5, "nm", 0.5), (2.5, "Å", 0.25), (0.0004, "µm", 0.4),
                                              (4e-10, "m", 0.4), (250.0, "pm", 0.25), (3.0, "A", 0.3)])
def test_hspy_axes_in_any_length_unit_read_in_nm(tmp_path, scale, units, nm):
    path = hspy(tmp_path / "a.hspy", IMAGE.astype(np.float32), image_axes(scale, units), title="HAADF",
                Acquisition_instrument={"TEM": {"microscope": "Titan", "beam_energy": 300.0}})
    m = read_micrograph(path)
    assert m.pixel_size_nm == pytest.approx(nm) and m.file_scale == (pytest.approx(scale), units)
    assert np.array_equal(m.image, IMAGE) and m.title == "HAADF"
    assert m.acquisition == {"microscope": "Titan", "beam_energy_keV": 300.0}


def test_emd_mrc_and_calibrated_tiffs(tmp_path):
    import tifffile
    from rsciio.emd import file_writer as emd_writer
    from rsciio.tiff import file_writer as tiff_writer

    emd_writer(str(tmp_path / "a.emd"), signal(IMAGE, image_axes(0.8, "nm")))
    assert read_micrograph(tmp_path / "a.emd").pixel_size_nm == pytest.approx(0.8)
    assert read_micrograph(mrc(tmp_path / "a.mrc", IMAGE, 3.2)).pixel_size_nm == pytest.approx(0.32)
    tiff_writer(str(tmp_path / "gatan.tif"), signal(IMAGE.astype(np.uint16), image_axes(1.5, "Å")))
    m = read_micrograph(tmp_path / "gatan.tif")
    assert m.pixel_size_nm == pytest.approx(0.15) and m.stored.dtype == np.uint16  # TIFF: the type kept
    tifffile.imwrite(tmp_path / "imagej.tif", IMAGE.astype(np.float32), imagej=True, resolution=(2.0, 2.0),
                     metadata={"unit": "nm"})
    assert read_micrograph(tmp_path / "imagej.tif").pixel_size_nm == pytest.approx(0.5)
    tifffile.imwrite(tmp_path / "micron.tif", IMAGE.astype(np.uint8), imagej=True, resolution=(500.0, 500.0),
                     metadata={"unit": "micron"})
    assert read_micrograph(tmp_path / "micron.tif").pixel_size_nm == pytest.approx(2.0)


def test_non_square_pixels_are_resampled_to_the_finer_side(tmp_path):
    axes = [axis("y", 24, 1.0, "nm"), axis("x", 32, 0.5, "nm")]
    m = read_micrograph(hspy(tmp_path / "a.hspy", IMAGE, axes))
    assert m.pixel_size_nm == 0.5 and m.image.shape == (48, 32) and m.notes == (
        "non-square pixels (1 × 0.5 nm) resampled to 0.5 nm square",)
    nearly = [axis("y", 24, 1.005, "nm"), axis("x", 32, 1.0, "nm")]  # within 1 %: square
    assert read_micrograph(hspy(tmp_path / "b.hspy", IMAGE, nearly)).image.shape == IMAGE.shape


def test_a_file_of_unknown_scale_needs_pixel_size(tmp_path):
    Image.fromarray(IMAGE.astype(np.uint8)).save(tmp_path / "plain.png")
    png = tmp_path / "plain.png"
    with command_line():
        assert error_of(read_micrograph, png) == (
            f"{png}: pixel size unknown (a PNG file records no pixel size); give --pixel-size (nm per pixel)")
    m = read_micrograph(png, pixel_size=0.7)
    assert m.pixel_size_nm == 0.7 and m.scale_from == "pixel_size" and m.stored.dtype == np.uint8
    assert read_micrograph(png, require_scale=False).pixel_size_nm is None
    pixels = hspy(tmp_path / "px.hspy", IMAGE, image_axes(1.0, "px"))
    none = hspy(tmp_path / "none.hspy", IMAGE, image_axes(1.0, None))
    assert error_of(read_micrograph, pixels) == (
        f"{pixels}: pixel size unknown (its axes are in pixels); give pixel_size (nm per pixel)")
    assert error_of(read_micrograph, none) == (
        f"{none}: pixel size unknown (its axes have no units); give pixel_size (nm per pixel)")
    empty = mrc(tmp_path / "empty.mrc", IMAGE, 0.0)
    assert error_of(read_micrograph, empty) == (
        f"{empty}: pixel size unknown (its MRC header's cell size is 0); give pixel_size (nm per pixel)")
    assert error_of(read_micrograph, png, override_scale=True) == (
        "override_scale=True: needs pixel_size (the pixel size to use instead of the file's)")


def test_stacks_need_a_frame_and_spectra_are_refused(tmp_path):
    frames = np.stack([IMAGE, IMAGE + 100, IMAGE + 200])
    stack = hspy(tmp_path / "stack.hspy", frames, [axis("time", 3, 2.0, "s", True), *image_axes(0.5, "nm")],
                 title="series")
    with command_line():
        assert error_of(read_micrograph, stack) == (
            f"{stack}: holds a stack of 3 images (24×32 px each, data 3×24×32, title 'series'): pick one with "
            "--frame K, K from 0 to 2")
        assert error_of(read_micrograph, stack, frame=3) == (
            f"--frame: {stack} holds 3 images, 0 to 2; there is no frame 3")
    m = read_micrograph(stack, frame=2)
    assert np.array_equal(m.image, IMAGE + 200) and m.frame == 2 and m.shape == (3, 24, 32)
    spectrum = hspy(tmp_path / "eds.hspy", np.ones(100), [axis("Energy", 100, 0.01, "keV")], signal_type="EDS_TEM")
    assert error_of(read_micrograph, spectrum) == (
        f"{spectrum}: holds a spectrum (100 channels in keV, signal type 'EDS_TEM'), not an image: stemsim "
        "reads 2-D images (a stack's with frame K)")
    cube = hspy(tmp_path / "si.hspy", np.ones((4, 5, 100)), [axis("y", 4, 1, "nm", True), axis("x", 5, 1, "nm", True),
                                                              axis("E", 100, 0.01, "keV")], signal_type="EELS")
    assert error_of(read_micrograph, cube).startswith(
        f"{cube}: holds a spectrum image (100 channels in keV at 4×5 positions, signal type 'EELS'), not an image")
    diffraction = hspy(tmp_path / "dp.hspy", IMAGE, image_axes(0.1, "1/nm"))
    assert error_of(read_micrograph, diffraction) == (
        f"{diffraction}: holds a diffraction pattern (24×32 px in 1/nm), not an image: stemsim reads 2-D images "
        "(a stack's with frame K)")
    one = hspy(tmp_path / "one-frame.hspy", IMAGE[None], [axis("t", 1, 1.0, "s", True), *image_axes(0.5, "nm")])
    assert np.array_equal(read_micrograph(one).image, IMAGE)  # a stack of one is its image
    single = hspy(tmp_path / "one.hspy", IMAGE, image_axes(0.5, "nm"))
    assert read_micrograph(single, frame=0).frame == 0
    assert error_of(read_micrograph, single, frame=1) == f"frame: {single} holds one image (frame 0), not frame 1"
    assert error_of(read_micrograph, single, frame=-1) == "frame: expected a whole number from 0, got -1"


def test_a_file_of_several_signals_names_them(tmp_path, monkeypatch):
    import rsciio.hspy

    path = hspy(tmp_path / "two.hspy", IMAGE, image_axes(0.5, "nm"))
    image = rsciio.hspy.file_reader(str(path))[0]
    spectrum = {**image, "data": np.ones(100), "axes": [axis("E", 100, 0.01, "keV")],
                "metadata": {"General": {"title": "EDS"}, "Signal": {"signal_type": "EDS_TEM"}}}
    monkeypatch.setattr(rsciio.hspy, "file_reader", lambda *a, **k: [spectrum, image])
    assert read_micrograph(path).signal == 1  # the only image
    monkeypatch.setattr(rsciio.hspy, "file_reader", lambda *a, **k: [image, spectrum, image])
    with command_line():
        assert error_of(read_micrograph, path) == (
            f"{path}: holds 3 signals (0: an image (24×32 px); 1: a spectrum (100 channels in keV, title 'EDS', "
            "signal type 'EDS_TEM'); 2: an image (24×32 px)): pick one with --signal K")
    assert read_micrograph(path, signal=2).signal == 2


def test_unreadable_files_give_the_readers_reason(tmp_path):
    bad = tmp_path / "broken.dm4"
    bad.write_bytes(b"not a dm file" * 100)
    assert error_of(read_micrograph, bad) == (
        f"{bad}: not a readable Gatan DigitalMicrograph file (Currently we only support reading DM versions 3 "
        "and 4 but this file seems to be version 1852797984)")
    for suffix, name in ((".emd", "EMD"), (".hspy", "HyperSpy"), (".mrc", "MRC"), (".ser", "FEI TIA")):
        (tmp_path / f"broken{suffix}").write_bytes(b"\x01\x02 nothing here" * 10)
        assert error_of(read_micrograph, tmp_path / f"broken{suffix}").startswith(
            f"{tmp_path / f'broken{suffix}'}: not a readable {name} file (")
    (tmp_path / "broken.tif").write_bytes(b"II*\x00 truncated")
    assert error_of(read_micrograph, tmp_path / "broken.tif").startswith(f"{tmp_path / 'broken.tif'}: not a readable "
                                                                         "image (")
    assert error_of(read_micrograph, tmp_path / "gone.dm4") == f"{tmp_path / 'gone.dm4'}: no such file"


# ---- predict and serve ----------------------------------------------------------------------------

SPEC = {
    "name": "micrographs", "seed": 5,
    "image": {"size": 32, "pixel_size": 0.35},
    "label": "shape", "classes": {"values": ["sphere", "cuboid"], "per_class": 20},
    "splits": {"train": 0.6, "val": 0.2, "test": 0.2},
    "object": {"shape": "cuboid", "size": {"uniform": [5, 6]}, "orientation": "random", "deformation": {"count": 0}},
    "microscope": {"probe_fwhm": 0.2, "dose": 5.0e3},
    "support": {"thickness": 2.0, "roughness": 0.3},
    "output": {"formats": ["npz"], "dtype": "uint8", "ground_truth": False},
}


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A geometric run at 0.35 nm per pixel (32² px), and three of its test images, each as a PNG,
    as a calibrated .hspy (0.35 nm), and ×2 as a PNG and as an Å-scaled .hspy (0.175 nm = 1.75 Å)."""
    from stemsim.classifiers.training import train

    data = generate_once(tmp_path_factory, SPEC, "micrographs")[1]
    base = tmp_path_factory.mktemp("micrographs-run")
    run = train({"model": {"name": "geometric", "min_samples_leaf": 4},
                 "data": {"kind": "stemsim", "path": str(data)}, "seed": 1}, base / "run")
    files = {"png": [], "hspy": [], "png2": [], "hspy2": []}
    for i, image in enumerate(np.load(data / "arrays" / "test-00000.npz")["images"][:3]):
        image = np.rint(255 * (image - image.min()) / np.ptp(image)).astype(np.uint8)  # 0 to 255: uint8 ÷ 255
        double = np.kron(image, np.ones((2, 2), np.uint8))  # is min–max of the float64 file
        for kind, pixels in (("png", image), ("png2", double)):
            Image.fromarray(pixels).save(base / f"{kind}{i}.png")
            files[kind].append(base / f"{kind}{i}.png")
        files["hspy"].append(hspy(base / f"image{i}.hspy", image, image_axes(0.35, "nm", image.shape)))
        files["hspy2"].append(hspy(base / f"double{i}.hspy", double, image_axes(1.75, "Å", double.shape)))
    stack = np.stack([np.asarray(Image.open(path)) for path in files["png"]])
    files["stack"] = hspy(base / "stack.hspy", stack, [axis("t", 3, 1.0, "s", True),
                                                       *image_axes(0.35, "nm", stack.shape[1:])])
    return {"run": run, **files}


def rows_of(out: str) -> list[dict]:
    return list(csv.DictReader(out.splitlines()))


def test_predict_reads_a_calibrated_file_as_the_same_png_with_pixel_size(made, capsys):
    code, out, err = run_cli(["predict", made["run"], *made["png"], "--pixel-size", "0.35"], capsys)
    assert code == 0, err
    from_png = rows_of(out)
    code, out, err = run_cli(["predict", made["run"], *made["hspy"]], capsys)
    assert code == 0 and "warning" not in err, err  # no --pixel-size needed, nothing unknown
    from_file = rows_of(out)
    assert list(from_file[0]) == ["file", "label", "p_sphere", "p_cuboid", "pixel_size_nm", "error"]
    assert [r["pixel_size_nm"] for r in from_file] == ["0.35"] * 3
    assert [{**r, "file": ""} for r in from_file] == [{**r, "file": ""} for r in from_png]

    code, out, err = run_cli(["predict", made["run"], *made["png2"], "--pixel-size", "0.175"], capsys)
    doubled_png = rows_of(out)
    code, out, err = run_cli(["predict", made["run"], *made["hspy2"], "--format", "json"], capsys)
    assert code == 0, err
    import json

    doubled = json.loads(out)
    assert [r["pixel_size_nm"] for r in doubled] == [pytest.approx(0.175)] * 3
    assert {r["pixel_size_from"] for r in doubled} == {"file"}
    assert [r["label"] for r in doubled] == [r["label"] for r in doubled_png] == [r["label"] for r in from_png]
    for a, b in zip(doubled, doubled_png):
        assert abs(a["probabilities"]["sphere"] - float(b["p_sphere"])) < 0.01

    code, out, err = run_cli(["predict", made["run"], made["stack"], "--frame", "1"], capsys)
    assert code == 0 and rows_of(out)[0]["label"] == from_png[1]["label"], err


def test_predict_bad_files_and_options_are_one_line_each(made, tmp_path, capsys):
    broken = tmp_path / "broken.dm4"
    broken.write_bytes(b"not a dm file" * 100)
    cases = [
        ([made["stack"]], f"{made['stack']}: holds a stack of 3 images (32×32 px each, data 3×32×32): pick one "
                          "with --frame K, K from 0 to 2"),
        ([made["stack"], "--frame", "5"], f"--frame: {made['stack']} holds 3 images, 0 to 2; there is no frame 5"),
        ([made["hspy"][0], "--pixel-size", "0.5"],
         f"--pixel-size: 0.5 nm per pixel, but {made['hspy'][0]} says 0.35 nm; leave --pixel-size out to use the "
         "file's, or add --override-scale to use yours"),
        ([broken], f"{broken}: not a readable Gatan DigitalMicrograph file (Currently we only support reading DM "
                   "versions 3 and 4 but this file seems to be version 1852797984)"),
    ]
    for args, message in cases:
        code, out, err = run_cli(["predict", made["run"], *args], capsys)
        assert code == 2 and "Traceback" not in err
        assert [line for line in err.splitlines() if line.startswith("stemsim: error:")] == [
            f"stemsim: error: {message}", "stemsim: error: 1 of 1 file(s) could not be read"], err
        assert rows_of(out)[0]["error"] == message and rows_of(out)[0]["pixel_size_nm"] == ""
    for args, message in ((["--override-scale"], "--override-scale: needs --pixel-size (the pixel size to use "
                                                  "instead of the files' own)"),
                          (["--frame", "-1"], None)):
        code, out, err = run_cli(["predict", made["run"], made["hspy"][0], *args], capsys)
        assert code == 2 and out == "" and len(err.splitlines()) == 1 and "Traceback" not in err
        assert message is None or err == f"stemsim: error: {message}\n"
    code, out, err = run_cli(["predict", made["run"], made["hspy"][0], "--pixel-size", "0.5", "--override-scale"],
                             capsys)
    assert code == 0 and rows_of(out)[0]["pixel_size_nm"] == "0.5", err


def test_serve_reads_an_uploaded_microscope_file(made, capsys):
    from fastapi.testclient import TestClient

    from stemsim.classifiers.serve import create_app, load_runs

    client = TestClient(create_app(load_runs([made["run"]])), base_url="http://127.0.0.1")

    def upload(*files, **fields):
        response = client.post("/api/predict?run=0", data=fields,
                               files=[("files", (f.name, f.read_bytes())) for f in files])
        assert response.status_code == 200, response.text
        return response.json()["results"]

    (png,) = upload(made["png"][0], pixel_size="0.35")
    (result,) = upload(made["hspy"][0])
    assert result["error"] is None and result["pixel_size_nm"] == 0.35 and png["pixel_size_nm"] == 0.35
    assert result["label"] == png["label"] and result["probabilities"] == png["probabilities"]
    assert result["preview"].startswith("data:image/png;base64,")
    (stack,) = upload(made["stack"])
    assert stack["error"] == ("stack.hspy: holds a stack of 3 images (32×32 px each, data 3×32×32): pick one with "
                              "frame K, K from 0 to 2")
    (picked,) = upload(made["stack"], frame="1")
    assert picked["error"] is None and picked["preview"]
    response = client.post("/api/predict?run=0", data={"frame": "x"},
                           files=[("files", ("a.hspy", made["hspy"][0].read_bytes()))])
    assert response.status_code == 400 and response.json() == {"error": "frame: expected a whole number from 0, "
                                                                        "got 'x'"}
