"""Which library runs a model, on which device, and TensorFlow kept quiet.

* ``geometric`` and ``texture`` runs are scikit-learn only: their training, evaluation and
  prediction never import TensorFlow or Keras (their pipeline's ``needs_keras`` is false,
  :mod:`stemsim.classifiers.pipelines`).
* Every other model is Keras 3 (on its backend, TensorFlow by default); ``two_stage`` is both:
  a Keras U-Net (stage 1, the maps) and a scikit-learn classifier (stage 2).

Which of these a model is, is its pipeline's ``stack`` (``scikit-learn``, ``keras``,
``keras + scikit-learn``); this module knows no model names.

:func:`quiet_tensorflow` is the first thing every classifier verb of the command line does:
it sets ``TF_CPP_MIN_LOG_LEVEL=3`` before TensorFlow can be imported (no C++ info/warning
lines, no ``failed call to cuInit`` when there is no GPU). :func:`import_keras` imports Keras
(and TensorFlow with it) with the lines that TensorFlow's C++ start-up writes straight to the
process's stderr *before* it reads that level (``All log messages before
absl::InitializeLog()``, ``oneDNN custom operations are on``, ``Could not find cuda drivers``)
captured, and shown only if the import fails; then absl's Python logger is set to errors only.
``STEMSIM_TF_LOGS=1`` keeps all of TensorFlow's lines (e.g. to see why a GPU is not used).

:func:`environment` is what run.json (``environment``) and metrics.json (``inference``) record,
and its ``description`` is the one line each verb prints on stderr, e.g.
``model: geometric (scikit-learn 1.6.1, cpu)`` or ``model: stemnet (keras 3.10.0 on tensorflow
2.19.0, cpu)``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from typing import Any

import numpy as np

SKLEARN, KERAS, KERAS_AND_SKLEARN = "scikit-learn", "keras", "keras + scikit-learn"
"""The libraries that run a model (a pipeline's ``stack``)."""


def verbose_tensorflow() -> bool:
    """``STEMSIM_TF_LOGS=1``: leave TensorFlow's start-up and log lines as TensorFlow writes them."""
    return os.environ.get("STEMSIM_TF_LOGS", "") not in ("", "0")


def quiet_tensorflow() -> None:
    """Set TensorFlow's C++ log level to errors only (``TF_CPP_MIN_LOG_LEVEL=3``) before it is
    imported; nothing when ``STEMSIM_TF_LOGS`` is set. Call it before anything imports Keras."""
    if not verbose_tensorflow():
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"


def import_keras():
    """``import keras`` (TensorFlow with it) without TensorFlow's C++ start-up lines (module
    doc); they are written to stderr after all if the import fails. Returns the module."""
    if "keras" in sys.modules or verbose_tensorflow():
        import keras

        return keras
    quiet_tensorflow()
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            import keras
        except BaseException:
            os.dup2(saved, 2)
            capture.seek(0)
            sys.stderr.write(capture.read().decode(errors="replace"))
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:  # pragma: no cover - absl comes with TensorFlow
        pass
    return keras


def sklearn_environment() -> dict[str, Any]:
    """scikit-learn's version, on the CPU."""
    import sklearn

    return {"scikit-learn": sklearn.__version__, "numpy": np.__version__, "device": "cpu"}


def keras_environment() -> dict[str, Any]:
    """Keras's version, its backend (and that library's version) and the device that runs the
    model (``cpu``, ``N GPU(s)``, or ``unknown`` when asking failed)."""
    keras = import_keras()
    backend = keras.config.backend()
    env: dict[str, Any] = {"keras": keras.__version__, "backend": backend, "numpy": np.__version__}
    device = "cpu"
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            env["tensorflow"] = tf.__version__
            gpus = tf.config.list_physical_devices("GPU")
            device = f"{len(gpus)} GPU(s)" if gpus else "cpu"
        elif backend == "jax":
            import jax

            env["jax"] = jax.__version__
            device = ", ".join(sorted({d.platform for d in jax.devices()}))
        elif backend == "torch":
            import torch

            env["torch"] = torch.__version__
            device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # the description is informative only
        device = "unknown"
    env["device"] = device
    return env


def _keras_text(env: dict[str, Any]) -> str:
    version = env.get(env["backend"])
    return f"keras {env['keras']} on {env['backend']}{f' {version}' if version else ''}, {env['device']}"


def environment(stack: str = KERAS) -> dict[str, Any]:
    """Library versions, backend and device of a model run by ``stack`` (:data:`SKLEARN`,
    :data:`KERAS` or :data:`KERAS_AND_SKLEARN`; a pipeline's ``stack``).

    ``backend``: ``scikit-learn`` (geometric, texture), Keras's backend (``tensorflow``, ...),
    or for both (``two_stage``) ``tensorflow + scikit-learn`` with ``stages`` saying which does
    what; ``description``: the same as one phrase (``scikit-learn 1.6.1, cpu``)."""
    if stack == SKLEARN:
        env = {"backend": "scikit-learn", **sklearn_environment()}
        env["description"] = f"scikit-learn {env['scikit-learn']}, cpu"
        return env
    env = keras_environment()
    if stack != KERAS_AND_SKLEARN:
        return {**env, "description": _keras_text(env)}
    sk = sklearn_environment()
    stages = {"maps": f"U-Net: {_keras_text(env)}", "classifier": f"classifier: scikit-learn {sk['scikit-learn']}, cpu"}
    return {**env, "backend": f"{env['backend']} + scikit-learn", "scikit-learn": sk["scikit-learn"],
            "stages": stages, "description": f"{stages['maps']}; {stages['classifier']}"}


def model_line(model_name: str, env: dict[str, Any]) -> str:
    """``model: NAME (DESCRIPTION)``, the line every classifier verb prints on stderr (``env``:
    :func:`stemsim.classifiers.run.environment` of the model)."""
    return f"model: {model_name} ({env['description']})"
