"""Bottleneck feature extractors for Inception-v3 transfer learning, and their disk cache.

An extractor maps a float32 batch ``(B, S, S, 3)`` (already normalised, see
:class:`stemsim.classifiers.preprocessing.Preprocessing`) to features ``(B, D)`` (D = 2048 for
Inception-v3). Two sources:

* :class:`KerasExtractor` — ``keras.applications.InceptionV3`` (weights ``imagenet``, a local
  ``.h5`` or ``none``); takes [−1, 1] inputs; runs on any Keras backend.
* :class:`SavedModelExtractor` — a TF-Hub handle (resolved with ``tensorflow_hub.resolve``,
  which downloads and caches it) or a local SavedModel directory, loaded with
  ``tf.saved_model.load``; takes [0, 1] inputs (TF-Hub image convention). Needs TensorFlow.

Each extractor has a ``key`` derived from its actual weights (SHA-1 of the weight values or
of the SavedModel's files) so that the :class:`BottleneckCache` never mixes features of
different extractors; the cache is keyed by that key, the preprocessing signature and the
image content (+ the dihedral transform applied).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from stemsim.classifiers.preprocessing import Preprocessing, content_key
from stemsim.errors import InputError


def default_cache_dir() -> Path:
    """``$STEMSIM_CACHE/bottlenecks``, else ``$XDG_CACHE_HOME/stemsim/bottlenecks``, else ``~/.cache/...``."""
    if os.environ.get("STEMSIM_CACHE"):
        return Path(os.environ["STEMSIM_CACHE"]) / "bottlenecks"
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return base / "stemsim" / "bottlenecks"


def _hash_files(root: Path) -> str:
    digest = hashlib.sha1()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


class KerasExtractor:
    """``keras.applications.InceptionV3`` (no top, average-pooled) as a feature extractor."""

    def __init__(self, image_size: int, weights: str):
        from stemsim.classifiers.models.inception import inception_v3_base

        self.base = inception_v3_base((image_size, image_size, 3), weights)
        self.feature_dim = int(self.base.output_shape[-1])
        digest = hashlib.sha1()
        for w in self.base.weights:
            digest.update(np.ascontiguousarray(w.numpy()).tobytes())
        self.key = f"keras-inception_v3-{digest.hexdigest()[:20]}"
        where = weights if weights in ("imagenet", "none") else f"file {weights}"
        self.description = (f"keras.applications InceptionV3, weights {where}"
                            + (" (random initialisation, as asked)" if weights == "none" else ""))

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        return np.asarray(self.base.predict_on_batch(batch), np.float32)


class SavedModelExtractor:
    """A TF-Hub image feature-vector module or any SavedModel mapping images to ``(B, D)``."""

    def __init__(self, handle: str):
        try:
            import tensorflow as tf
        except ImportError:
            raise InputError("model.extractor: a TF-Hub/SavedModel extractor needs TensorFlow; "
                             "use extractor: keras on other backends") from None
        path = handle
        if "://" in handle:
            try:
                import tensorflow_hub as hub

                path = hub.resolve(handle)
            except Exception as error:
                raise InputError(f"model.extractor: cannot fetch {handle} ({str(error).splitlines()[0][:160]}); "
                                 "download the module and give its local directory instead") from None
        try:
            self._module = tf.saved_model.load(path)
        except Exception as error:
            raise InputError(f"model.extractor: {path}: not a loadable SavedModel "
                             f"({str(error).strip().splitlines()[0][:160]})") from None
        self._tf = tf
        self.path = Path(path)
        self._call = self._pick_function(self._module)
        self.key = f"savedmodel-{_hash_files(Path(path))[:20]}"
        self.description = f"SavedModel {handle}" + (f" (resolved to {path})" if path != handle else "")
        self.feature_dim = None

    @staticmethod
    def _pick_function(module: Any):
        # TF-Hub TF2 modules are callable; Keras `model.export` gives `serve`; else a signature.
        if callable(module):
            return module
        if callable(getattr(module, "serve", None)):
            return module.serve
        signatures = getattr(module, "signatures", {})
        if "serving_default" in signatures:
            return signatures["serving_default"]
        raise InputError("model.extractor: the SavedModel is not callable and has no `serve` function "
                         "or serving_default signature")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        tf = self._tf
        out = self._call(tf.constant(batch, tf.float32))
        if isinstance(out, dict):
            out = out.get("feature_vector", out.get("default", next(iter(out.values()))))
        out = np.asarray(out, np.float32)
        if out.ndim != 2 or out.shape[0] != len(batch):
            raise InputError(f"model.extractor: the SavedModel returned shape {out.shape}, "
                             "expected (batch, features)")
        self.feature_dim = out.shape[1]
        return out


def make_extractor(model_cfg: dict[str, Any], image_size: int):
    """The extractor described by a resolved ``model`` section of an inception_v3 experiment."""
    if model_cfg["extractor"] == "keras":
        return KerasExtractor(image_size, model_cfg["weights"])
    return SavedModelExtractor(model_cfg["extractor"])


class BottleneckCache:
    """Features on disk: ``root/<extractor+preprocessing id>/<xx>/<image key>-t<transform>.npy``.

    The image key is the SHA-1 of the prepared image (see :func:`content_key`), so renaming
    or moving files does not invalidate the cache, and identical images share an entry.
    """

    def __init__(self, root: str | Path, extractor: Any, preprocessing: Preprocessing):
        ident = f"{extractor.key}|{preprocessing.signature()}|{preprocessing.normalize}|{preprocessing.channels}"
        self.dir = Path(root) / hashlib.sha1(ident.encode()).hexdigest()[:16]
        self.extractor = extractor
        self.preprocessing = preprocessing
        self.dir.mkdir(parents=True, exist_ok=True)
        info = self.dir / "info.json"
        if not info.exists():
            info.write_text(json.dumps({"extractor": extractor.description, "key": extractor.key,
                                        "preprocessing": ident}, indent=1))
        self.computed = 0
        self.reused = 0

    def _path(self, image_key: str, transform: int) -> Path:
        return self.dir / image_key[:2] / f"{image_key}-t{transform}.npy"

    def features(self, images: Sequence[np.ndarray], transforms: Sequence[int] | None = None,
                 batch_size: int = 32) -> np.ndarray:
        """Features ``(N, D)`` of prepared images (each with its dihedral transform, default 0)."""
        transforms = [0] * len(images) if transforms is None else list(transforms)
        paths = [self._path(content_key(img), t) for img, t in zip(images, transforms)]
        out: list[np.ndarray | None] = [None] * len(images)
        missing = []
        for i, path in enumerate(paths):
            if path.exists():
                try:
                    out[i] = np.load(path)
                    continue
                except (OSError, ValueError):  # a damaged entry is recomputed
                    pass
            missing.append(i)
        for start in range(0, len(missing), batch_size):
            chunk = missing[start:start + batch_size]
            batch = self.preprocessing.finish([images[i] for i in chunk], transforms=[transforms[i] for i in chunk])
            for i, feature in zip(chunk, self.extractor(batch)):
                out[i] = feature
                _save_atomic(paths[i], feature)
        self.computed += len(missing)
        self.reused += len(images) - len(missing)
        if not out:
            return np.zeros((0, self.extractor.feature_dim or 0), np.float32)
        return np.stack(out).astype(np.float32)

    def stats(self) -> dict[str, Any]:
        return {"dir": str(self.dir), "computed": self.computed, "reused": self.reused}


def _save_atomic(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "wb") as stream:
        np.save(stream, array)
    os.replace(tmp, path)
