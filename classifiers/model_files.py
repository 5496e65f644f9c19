"""The scikit-learn model files of a run, stored so that loading one can never run code.

A run directory is something people share, so nothing in it may be unpickled: a pickle
(``joblib``) file runs whatever its author put in its ``__reduce__`` the moment it is loaded.
Every fitted scikit-learn estimator of a run (``geometric``, ``texture``, both ``two_stage``
classifiers, the corner classifier) is stored with **skops** (:func:`skops.io.dump`), a format
that records the objects' types and states instead of code. Loading first lists the types the
file names (:func:`skops.io.get_untrusted_types`) and accepts only

* the types skops trusts by default (builtins, NumPy and SciPy containers, scikit-learn's
  estimators),
* the classes of :data:`TRUSTED_TYPES` (scikit-learn internals the project's models hold, and
  the project's own :class:`stemsim.classifiers.texture.PerCategory`),
* any other *class* defined inside scikit-learn (a newer scikit-learn may hold internal
  objects of other names) — never a function, nor anything outside scikit-learn.

Anything else is refused with one line naming the file and the type, and nothing is built.

Each file holds one dict: ``format`` (:data:`FORMAT`), ``estimator``, ``feature_names`` and the
model's own keys (classes, calibration, ...). Runs made before skops held ``*.joblib`` files:
they are refused with a line that says how to convert them (``stemsim convert-run RUN --trust``,
the one place that unpickles, and only when the user says they trust the run) or to train again.

Files written before the packages installed under ``stemsim.`` (0.1: ``classifiers.texture``)
name the project's classes by their old module; :func:`current_names` renames them in the
file's schema (names only: a skops file holds no code) before the types are checked.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Sequence

from stemsim.errors import InputError, reason

FORMAT = 2  # 1 was the joblib (pickle) dict of the same keys
SUFFIX = ".skops"
LEGACY_SUFFIX = ".joblib"

TRUSTED_TYPES = frozenset({
    "numpy.dtype",
    "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
    "stemsim.classifiers.texture.PerCategory",
})


RENAMED_MODULES = {"classifiers.": "stemsim.classifiers."}
"""Module prefixes of files written before the packages moved under ``stemsim.``."""


def current_names(content: bytes) -> bytes:
    """A skops file's bytes with every module name of :data:`RENAMED_MODULES` made current
    (its ``schema.json`` rewritten, the other members copied); the same bytes when none is old."""
    def rename(node):
        if isinstance(node, dict):
            module = node.get("__module__")
            for old, new in RENAMED_MODULES.items():
                if isinstance(module, str) and module.startswith(old):
                    node["__module__"] = new + module[len(old):]
            for value in node.values():
                rename(value)
        elif isinstance(node, list):
            for value in node:
                rename(value)

    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        text = archive.read("schema.json").decode()
        if not any(f'"{old}' in text for old in RENAMED_MODULES):
            return content
        schema = json.loads(text)
        rename(schema)
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as renamed:
            for member in archive.infolist():
                data = json.dumps(schema).encode() if member.filename == "schema.json" else archive.read(member)
                renamed.writestr(member, data)
    return out.getvalue()


def _skops_io():
    """:mod:`skops.io`, imported with numpy-quaternion's odd ``np.sctypeDict`` entry hidden:
    numpy-quaternion registers a dtype *instance* there, and skops (0.16) reads every entry's
    ``__name__`` when it is imported, which fails on it."""
    import sys

    if "skops.io" not in sys.modules:
        import numpy as np

        odd = {key: value for key, value in np.sctypeDict.items() if not isinstance(value, type)}
        for key in odd:
            del np.sctypeDict[key]
        try:
            import skops.io  # noqa: F401
        finally:
            np.sctypeDict.update(odd)
    return sys.modules["skops.io"]


def _trusted(name: str) -> bool:
    if name in TRUSTED_TYPES:
        return True
    if not name.startswith("sklearn."):
        return False
    module, _, attribute = name.rpartition(".")
    try:  # importing a scikit-learn module runs scikit-learn's code only
        return inspect.isclass(getattr(importlib.import_module(module), attribute))
    except Exception:
        return False


def write_estimator_file(path: Path, estimator, feature_names: Sequence[str], **extra: Any) -> None:
    """A fitted scikit-learn estimator with the names of the features it takes (+ ``extra``),
    as a skops file at ``path`` (suffix :data:`SUFFIX`)."""
    data = {"format": FORMAT, "estimator": estimator, "feature_names": list(feature_names), **extra}
    _skops_io().dump(data, Path(path), compression=8)  # zipfile.ZIP_DEFLATED


def legacy_file_error(path: Path, run: Path | None = None) -> InputError:
    """The one line for a pickle model file of a run made before skops."""
    run = run or Path(path).parent
    return InputError(f"{path}: a pickle model file of a run made before stemsim stored models safely "
                      f"(loading it could run code); if you trust where the run came from, convert it with "
                      f"`stemsim convert-run {run} --trust`, or train the run again")


def load_file(path: Path, what: str = "model") -> dict[str, Any]:
    """The dict of a skops model file, built only from trusted types (module doc); InputError
    (one line) if missing, a pickle, unreadable, or holding a type that is not trusted."""
    path = Path(path)
    if not path.is_file():
        legacy = path.with_suffix(LEGACY_SUFFIX)
        if legacy.is_file():
            raise legacy_file_error(legacy)
        raise InputError(f"{path}: {what} file is missing")
    if path.suffix == LEGACY_SUFFIX:
        raise legacy_file_error(path)
    skops = _skops_io()
    try:
        content = current_names(path.read_bytes())
        names = skops.get_untrusted_types(data=content)
    except Exception as error:
        raise InputError(f"{path}: not a stemsim {what} file ({reason(error)})") from None
    refused = [name for name in names if not _trusted(name)]
    if refused:
        raise InputError(f"{path}: refusing to load the {what}: it holds the untrusted type {refused[0]!r:.100}"
                         " (a stemsim model file holds only scikit-learn and stemsim classes)")
    try:
        data = skops.loads(content, trusted=names)
        assert isinstance(data, dict) and data.get("format") == FORMAT
    except Exception as error:
        raise InputError(f"{path}: cannot load the {what} ({reason(error)})") from None
    return data


def read_estimator_file(path: Path, feature_names: Sequence[str], keys: Sequence[str] = (),
                        what: str = "model") -> dict[str, Any]:
    """What :func:`write_estimator_file` wrote (:func:`load_file`; ``estimator`` and ``keys``
    checked present); InputError (one line) also if it was trained on other features than
    ``feature_names``. Never unpickles."""
    data = load_file(path, what)
    missing = [key for key in ("estimator", *keys) if key not in data]
    if missing:
        raise InputError(f"{path}: cannot load the {what} (no {missing[0]!r:.80} in the file)")
    if list(data.get("feature_names", [])) != list(feature_names):
        raise InputError(f"{path}: trained on other features than this version computes "
                         "(the feature names changed); train the run again")
    return data


def convert_legacy_run(run: Path, trust: bool = False) -> list[tuple[Path, Path]]:
    """Rewrite every ``*.joblib`` model file of the run directory ``run`` as a skops file
    (the same dict, ``format`` :data:`FORMAT`), update ``run.json``'s ``model_file`` and remove
    the pickles; returns ``[(old, new), ...]``.

    This **unpickles** the old files, which runs any code they hold: it refuses unless
    ``trust`` says the user trusts where the run came from. Each new file is written beside
    its pickle and read back through :func:`read_estimator_file`'s checks before the pickle
    goes, so an interrupted conversion loses nothing.
    """
    run = Path(run)
    if not (run / "run.json").is_file():
        raise InputError(f"{run}: not a run directory (run.json is missing)")
    old = sorted(run.glob(f"*{LEGACY_SUFFIX}"))
    if not old:
        raise InputError(f"{run}: has no {LEGACY_SUFFIX} model files to convert")
    if not trust:
        raise InputError(f"{run}: converting unpickles its {LEGACY_SUFFIX} files, which can run code; "
                         "pass --trust only for a run you made or whose source you trust")
    import joblib

    done = []
    for path in old:
        try:
            data = joblib.load(path)
            assert isinstance(data, dict) and data.get("format") == 1 and "estimator" in data
        except Exception as error:
            raise InputError(f"{path}: not a stemsim model file ({reason(error)})") from None
        new = path.with_suffix(SUFFIX)
        temporary = new.with_name(new.name + ".partial")
        write_estimator_file(temporary, data.pop("estimator"), data.pop("feature_names"),
                             **{k: v for k, v in data.items() if k != "format"})
        refused = [n for n in _skops_io().get_untrusted_types(file=temporary) if not _trusted(n)]
        if refused:
            temporary.unlink()
            raise InputError(f"{path}: holds the type {refused[0]!r:.100}, which stemsim model files do not")
        temporary.replace(new)
        done.append((path, new))
    # run.json names its model files (model_file, corners.file, ...): the same names, new suffix
    text = (run / "run.json").read_text()
    (run / "run.json").write_text(text.replace(f'{LEGACY_SUFFIX}"', f'{SUFFIX}"'))
    for path, _ in done:
        path.unlink()
    return done
