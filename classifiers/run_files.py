"""The files of a run directory, below :class:`stemsim.classifiers.run.Run`: their names, Keras model
files checked and loaded safely, and JSON written the one way every run file is.

Everything that trains or loads a model (:mod:`stemsim.classifiers.pipelines`, :mod:`stemsim.classifiers.transfer`,
:mod:`stemsim.classifiers.two_stage`) imports these from here, not from :mod:`stemsim.classifiers.run`, which
sits above the pipelines (it asks a run's pipeline how to load it).
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from stemsim.errors import InputError, reason

MODEL_FILE = "model.keras"
CONFIG_FILE = "config.yaml"
RUN_FILE = "run.json"
HISTORY_FILE = "history.json"
HISTORY_CSV = "history.csv"

KERAS_MEMBERS = ("config.json", "model.weights.h5")


def load_keras_model(path: Path, what: str = "model file"):
    """An uncompiled Keras model from ``path``; InputError (one line) if missing or unreadable."""
    if not path.is_file():
        raise InputError(f"{path}: {what} is missing")
    check_keras_file(path)  # a corrupt file is said to be one (Keras calls it "File not found")
    from stemsim.classifiers.backend import import_keras

    keras = import_keras()

    try:
        # safe_mode (Keras' default, made explicit): no Lambda layers or Python references
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as error:
        if "safe_mode" in str(error):
            raise InputError(f"{path}: refusing to load the model: it holds Python code (a Lambda layer or a "
                             "reference to a function), which Keras' safe mode does not run") from None
        raise InputError(f"{path}: cannot load the model ({reason(error)})") from None


def check_keras_file(path: Path) -> None:
    """InputError ``PATH: cannot load the model: not a Keras model file (WHY)`` unless ``path``
    is a zip archive holding a Keras model's ``config.json`` and weights (what Keras itself
    reports as "File not found" for a damaged file)."""
    why = None
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            missing = [m for m in KERAS_MEMBERS if m not in names]
            if missing:
                why = f"no {' and no '.join(missing)} in the archive"
    except zipfile.BadZipFile as error:
        with open(path, "rb") as handle:
            zip_like = handle.read(4) == b"PK\x03\x04"
        why = f"corrupt zip: {reason(error)}" if zip_like else "not a zip archive"
    except OSError as error:
        why = reason(error)
    if why:
        raise InputError(f"{path}: cannot load the model: not a Keras model file ({why})")


def write_json(path: Path, data: Any) -> None:
    """``data`` as indented JSON (NumPy scalars and arrays, paths as plain values)."""
    path.write_text(json.dumps(data, indent=2, default=_jsonable) + "\n")


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
