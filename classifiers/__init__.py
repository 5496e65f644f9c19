"""Classifier suite: Inception-v3 transfer learning and the STM/AFM networks.

Python API (Keras is imported on first use, not with this package)::

    from stemsim.classifiers import build_model, train, evaluate, predict_files

* :func:`stemsim.classifiers.models.build_model` — any registered architecture, uncompiled;
* :func:`stemsim.classifiers.training.train` — experiment (YAML path or dict) → run directory;
* :func:`stemsim.classifiers.evaluation.evaluate` — run directory → metrics (+ JSON/Markdown/CSV/PNG);
* :func:`stemsim.classifiers.prediction.predict_files` — run directory + image files → labels;
* :func:`stemsim.classifiers.prediction.predict_objects` — run directory + folders of views, one
  object each → one label per object;
* :func:`stemsim.classifiers.views.fuse_views` — late fusion of per-view outputs (mean or vote).

Multi-view data (several views of one object) is described in :mod:`stemsim.classifiers.views`; views
of a tilt series registered in 3-D (back-projected heat-maps) in :mod:`stemsim.classifiers.tomography`.

The command-line verbs (``stemsim train/evaluate/predict/import-stm``) are in
:mod:`stemsim.classifiers.cli`.
"""

from __future__ import annotations

import importlib
from typing import Any

_API = {
    "build_model": "stemsim.classifiers.models",
    "train": "stemsim.classifiers.training",
    "evaluate": "stemsim.classifiers.evaluation",
    "predict_files": "stemsim.classifiers.prediction",
    "predict_objects": "stemsim.classifiers.prediction",
    "fuse_views": "stemsim.classifiers.views",
    "load_experiment": "stemsim.classifiers.config",
    "import_original": "stemsim.classifiers.stm_data",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module(_API[name]), name)
    raise AttributeError(f"module 'stemsim.classifiers' has no attribute {name!r}")
