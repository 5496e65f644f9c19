"""``stemsim predict``: label and probabilities for image files, with a trained run.

Every file is read by :func:`stemsim.classifiers.micrographs.read_micrograph` (microscope files
with their calibration: .dm3/.dm4, .emd, .ser/.emi, .mrc, .hspy, TIFF; PNG/JPEG/BMP), brought
to the training pixel size and field of view when the run knows them and the file's pixel size
is known (from the file, or ``pixel_size`` for files that record none; a file's own calibration
and a ``pixel_size`` that disagree are refused unless ``override_scale``)
(:mod:`stemsim.classifiers.scale`: resampled, then centre-cropped or padded; unknown: taken to be at
the training pixel size, with a warning), and prepared as in training (any size: resized, or
short side resized and centre-cropped, per the run's ``preprocess``). A file that cannot be
read as an image gets a row with its ``error`` and no label; the others are still predicted.

:func:`predict_objects` predicts whole objects instead: each folder holds the views of ONE
object (``view_0.png``, ``view_1.png``, ... in natural name order) and gets one row: a
multiview model sees all views at once, a single-view model's per-view outputs are fused
(``mean``/``vote``, :func:`stemsim.classifiers.views.fuse_views`). A folder that cannot be an object
(no images, an unreadable image, views of different sizes) stops everything with one line.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from pathlib import Path
from typing import Any, Sequence

from stemsim.classifiers.data import read_object, view_positions
from stemsim.classifiers.inference import Predictor
from stemsim.classifiers.micrographs import OVERRIDE, read_micrograph
from stemsim.classifiers.models.family import member_probabilities
from stemsim.classifiers.pixelwise import write_maps
from stemsim.classifiers.run import Run, open_run
from stemsim.classifiers.scale import PIXEL_SIZE, ScaleWarning, TrainingScale, check_pixel_size, image_preparer
from stemsim.classifiers.views import fusion_for, views_report
from stemsim.errors import InputError, render


def _say(warn, message: str) -> None:
    if warn is not None:
        warn(render(message))
    else:
        warnings.warn(render(message), ScaleWarning, stacklevel=4)


def _check_scale(run: Run, pixel_size: float | None, warn) -> float | None:
    """``pixel_size`` checked; a warning (once) when the run knows no training pixel size."""
    pixel_size = check_pixel_size(pixel_size)
    if pixel_size is not None and not TrainingScale.of_run(run.info).known:
        _say(warn, f"{PIXEL_SIZE}: {run.path} records no training pixel size (data without a spec.yaml, or "
             "a run made before it was recorded): the images are resized to the model's input as they are")
    return pixel_size


def predict_files(run_dir: str | Path, files: Sequence[str | Path], batch_size: int = 32,
                  maps_dir: str | Path | None = None, pixel_size: float | None = None,
                  warn=None, predictor: Predictor | None = None, frame: int | None = None,
                  signal: int | None = None, override_scale: bool = False) -> list[dict[str, Any]]:
    """One dict per file, in order: ``file``, ``label``, ``probabilities`` {class: p},
    ``votes`` {class: yes-votes} for a family, ``pixel_size_nm`` (the file's nm per pixel as used:
    its own calibration, or ``pixel_size``; None when unknown), ``pixel_size_from`` (``file``,
    ``pixel_size``, ``override`` or ``unknown``) and ``error`` (None when predicted).

    ``label``: the class (single-label) or the categories that hold joined by ``;``
    (multi-label; empty when none holds). ``maps_dir`` (a ``two_stage`` run only): also write
    every image's predicted maps there (:func:`stemsim.classifiers.pixelwise.write_maps`; the row gets
    ``maps``, the files' common stem). ``pixel_size``: nm per pixel of the files that record none (None:
    unknown), and of all with ``override_scale``; ``frame``, ``signal``: which image of a stack,
    which signal of a file of several (:func:`stemsim.classifiers.micrographs.read_micrograph`);
    ``warn(message)``: where the scale warnings go (default a
    :class:`stemsim.classifiers.scale.ScaleWarning`), see :mod:`stemsim.classifiers.scale`. ``predictor``: the
    run's model, loaded already (``stemsim serve`` loads each run once; its run and batch
    size are then used, and ``run_dir`` is not read).
    """
    run = open_run(run_dir) if predictor is None else predictor.run
    if maps_dir is not None and not run.two_stage:
        raise InputError(f"--maps: {run.path} is a {run.config['model']['name']} run, which makes no maps "
                         "(only model.name two_stage does)")
    pixel_size = _check_scale(run, pixel_size, warn)
    if override_scale and pixel_size is None:
        raise InputError(f"{OVERRIDE}: needs {PIXEL_SIZE} (the pixel size to use instead of the files' own)")
    if predictor is None:
        predictor = Predictor(run, batch_size, warn)
    rows: list[dict[str, Any]] = []
    good, images, unused = [], [], []
    known = TrainingScale.of_run(run.info).known
    for f in files:
        row: dict[str, Any] = {"file": str(f), "label": None, "probabilities": None, "pixel_size_nm": None,
                               "pixel_size_from": "unknown", "error": None}
        try:
            micrograph = read_micrograph(f, pixel_size, frame, signal=signal, override_scale=override_scale,
                                         require_scale=False)
            row["pixel_size_nm"], row["pixel_size_from"] = micrograph.pixel_size_nm, micrograph.scale_from
            images.append(predictor.prepare_image(micrograph.pixels, micrograph.pixel_size_nm, str(f)))
            good.append(row)
            if not known and micrograph.scale_from == "file":
                unused.append(str(f))
        except InputError as error:
            row["error"] = str(error)
        rows.append(row)
    if unused:
        _say(warn, f"{unused[0]}{f' and {len(unused) - 1} more file(s)' if len(unused) > 1 else ''}: the file's "
             f"pixel size is not used: {run.path} records no training pixel size, so the images are resized to "
             "the model's input as they are")
    if images and predictor.multiview:  # a multiview model takes a single image as a one-view object
        probs, decisions = predictor.decide_objects([image[None] for image in images])
        for i, row in enumerate(good):
            _fill(row, run, probs[i], decisions[i])
    elif images:
        if maps_dir is not None:  # the maps that the classifier reads, written as they are
            outputs, maps = predictor.model.predict_with_maps(images)
            _write_all_maps(Path(maps_dir), good, maps)
        else:
            outputs = predictor.outputs(images)
        probs, decisions = run.decide(outputs)
        for i, row in enumerate(good):
            _fill(row, run, probs[i], decisions[i])
            if run.group_size:
                votes = (member_probabilities(outputs[i:i + 1], run.group_size)[0] > 0.5).sum(axis=-1)
                row["votes"] = {c: int(v) for c, v in zip(run.classes, votes)}
    return rows


def _write_all_maps(folder: Path, rows: list[dict[str, Any]], maps: list[dict[str, Any]]) -> None:
    taken: set[str] = set()
    for row, image_maps in zip(rows, maps):
        stem, k = Path(row["file"]).stem, 1
        while stem in taken:  # two files of one name from different folders
            k += 1
            stem = f"{Path(row['file']).stem}_{k}"
        taken.add(stem)
        write_maps(folder, stem, image_maps, 0)
        row["maps"] = str(folder / stem)


def predict_objects(run_dir: str | Path, folders: Sequence[str | Path], batch_size: int = 32,
                    fusion: str | None = None, pixel_size: float | None = None, warn=None) -> list[dict[str, Any]]:
    """One dict per object folder, in order: ``file`` (the folder), ``label``, ``probabilities``,
    ``views`` ({count, available, fusion}) and ``error`` (None).

    ``fusion`` (single-view models): ``mean``, ``vote`` or a two_stage run's ``features`` or
    ``backprojection``; default the run's ``evaluation.fusion``. For backprojection a view's
    angle is that of view ``k`` of the training tilt series for a file ``view_k`` (as
    ``stemsim generate`` names them; otherwise the views are the series' first ones, in file
    order). Every folder is read first; a bad one raises InputError before anything is predicted.
    ``pixel_size``, ``warn``: as for :func:`predict_files` (every view is a file of that pixel size).
    """
    run = open_run(run_dir)
    how = fusion_for(run, fusion)
    pixel_size = _check_scale(run, pixel_size, warn)
    prepare = image_preparer(run, warn)
    objects = [read_object(folder, run.preprocessing(),
                           lambda image, path: prepare(image, pixel_size, str(path))) for folder in folders]
    positions = [view_positions(folder) for folder in folders]
    predictor = Predictor(run, batch_size, warn)
    pooling = run.config["model"].get("pooling")
    rows = []
    for folder, obj, index in zip(folders, objects, positions):  # one at a time: view counts may differ
        probs, decisions = predictor.decide_objects([obj], how, index)
        row = {"file": str(folder), "label": None, "probabilities": None,
               "views": views_report(len(obj), len(obj), how, pooling, index), "error": None}
        rows.append(_fill(row, run, probs[0], decisions[0]))
    return rows


def _fill(row: dict[str, Any], run: Run, probs, decision) -> dict[str, Any]:
    """Set a row's ``probabilities`` and ``label`` (multi-label: the categories that hold, ``;``-joined)."""
    row["probabilities"] = {c: round(float(p), 6) for c, p in zip(run.classes, probs)}
    if run.multilabel:
        row["label"] = ";".join(c for c, d in zip(run.classes, decision) if d)
    else:
        row["label"] = run.classes[int(decision)]
    return row


def format_predictions(rows: list[dict[str, Any]], classes: list[str], fmt: str) -> str:
    """Rows as CSV (``file,label,p_<class>...,pixel_size_nm,error``) or JSON (a list of the row dicts).

    The ``p_<class>`` columns (and a JSON row's ``probabilities``) are in ``classes`` order: the
    run's ``run.json`` ``classes``, i.e. the label indices of its training data (a stemsim
    dataset's spec order, not the alphabetical order of
    ``keras.utils.image_dataset_from_directory``)."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "label", *[f"p_{c}" for c in classes], "pixel_size_nm", "error"])
    for row in rows:
        probs, pixel = row["probabilities"] or {}, row.get("pixel_size_nm")
        writer.writerow([row["file"], row["label"] if row["label"] is not None else "",
                         *[f"{probs[c]:.6f}" if c in probs else "" for c in classes],
                         f"{pixel:.6g}" if pixel is not None else "", row["error"] or ""])
    return buffer.getvalue()
