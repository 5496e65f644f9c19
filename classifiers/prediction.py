"""``stemsim predict``: label and probabilities for image files, with a trained run.

Every file is read and prepared as in training (any size: resized, or short side resized
and centre-cropped, per the run's ``preprocess``). A file that cannot be read as an image
gets a row with its ``error`` and no label; the others are still predicted.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

from classifiers.inference import Predictor
from classifiers.preprocessing import read_image
from classifiers.run import open_run
from stemsim.errors import InputError


def predict_files(run_dir: str | Path, files: Sequence[str | Path], batch_size: int = 32) -> list[dict[str, Any]]:
    """One dict per file, in order: ``file``, ``label``, ``probabilities`` {class: p},
    ``votes`` {class: yes-votes} for a family, and ``error`` (None when predicted).

    ``label``: the class (single-label) or the categories that hold joined by ``;``
    (multi-label; empty when none holds).
    """
    run = open_run(run_dir)
    predictor = Predictor(run, batch_size)
    rows: list[dict[str, Any]] = []
    good, images = [], []
    for f in files:
        row: dict[str, Any] = {"file": str(f), "label": None, "probabilities": None, "error": None}
        try:
            images.append(predictor.pre.prepare(read_image(f)))
            good.append(row)
        except InputError as error:
            row["error"] = str(error)
        rows.append(row)
    if images:
        outputs = predictor.outputs(images)
        probs, decisions = run.decide(outputs)
        classes = run.classes
        for i, row in enumerate(good):
            row["probabilities"] = {c: round(float(p), 6) for c, p in zip(classes, probs[i])}
            if run.multilabel:
                row["label"] = ";".join(c for c, d in zip(classes, decisions[i]) if d)
            else:
                row["label"] = classes[int(decisions[i])]
            if run.group_size:
                from classifiers.models.family import member_probabilities

                votes = (member_probabilities(outputs[i:i + 1], run.group_size)[0] > 0.5).sum(axis=-1)
                row["votes"] = {c: int(v) for c, v in zip(classes, votes)}
    return rows


def format_predictions(rows: list[dict[str, Any]], classes: list[str], fmt: str) -> str:
    """Rows as CSV (``file,label,p_<class>...,error``) or JSON (a list of the row dicts)."""
    if fmt == "json":
        return json.dumps(rows, indent=2) + "\n"
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", "label", *[f"p_{c}" for c in classes], "error"])
    for row in rows:
        probs = row["probabilities"] or {}
        writer.writerow([row["file"], row["label"] if row["label"] is not None else "",
                         *[f"{probs[c]:.6f}" if c in probs else "" for c in classes], row["error"] or ""])
    return buffer.getvalue()
