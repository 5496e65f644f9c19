"""Inception-v3 transfer learning, the retrain.py way.

Stage 1 (always): every image's bottleneck is computed once through the extractor and
cached on disk (:class:`stemsim.classifiers.extractors.BottleneckCache`); only a new dense head is
trained on the cached features. Flips/rot90 augmentation is done by caching each training
image under every transform of the augmentation group (a finite set), so it stays cacheable;
random crops are not (InputError). The run then holds the head only, and evaluation /
prediction recompute (or reuse) bottlenecks with the same extractor (run.json
``pipeline: features``).

Stage 2 (``fine_tune_blocks > 0``, keras extractor only): the top blocks of InceptionV3 are
unfrozen and trained together with the best head on images, with the fine-tuning learning
rate; the full image model replaces the head only if it beats stage 1 on validation
(``pipeline: images``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from stemsim.classifiers.data import Dataset, Split
from stemsim.classifiers.extractors import BottleneckCache, default_cache_dir, make_extractor
from stemsim.classifiers.fitting import compile_model, fit, image_batches
from stemsim.classifiers.preprocessing import Preprocessing
from stemsim.classifiers.run_files import MODEL_FILE
from stemsim.errors import InputError


def bottleneck_cache(model_cfg: dict[str, Any], pre: Preprocessing) -> BottleneckCache:
    """The extractor of an inception_v3 model section with its on-disk cache."""
    extractor = make_extractor(model_cfg, pre.input_size)
    return BottleneckCache(model_cfg["cache_dir"] or default_cache_dir(), extractor, pre)


def split_features(cache: BottleneckCache, split: Split, transforms: tuple[int, ...], batch_size: int):
    """Features of every image of ``split`` under every transform: ``(N·T, D)`` and the
    item index of each row (to pick targets/weights)."""
    items = np.repeat(np.arange(len(split)), len(transforms))
    chosen = np.tile(np.asarray(transforms), len(split))
    features = cache.features([split.images[i] for i in items], chosen, batch_size)
    return features, items


def train_inception(cfg: dict[str, Any], dataset: Dataset, pre: Preprocessing, tmp: Path,
                    weights: np.ndarray | None, verbose: int) -> dict[str, Any]:
    from stemsim.classifiers.batches import Batches  # Keras, as the next
    from stemsim.classifiers.models.inception import assemble, inception_head, set_trainable_blocks

    model_cfg, training = cfg["model"], cfg["training"]
    if pre.random_crop:
        raise InputError("augment.crop: random crops cannot use the bottleneck cache of inception_v3 "
                         "(use hflip/vflip/rot90, which are cached per transform)")
    cache = bottleneck_cache(model_cfg, pre)
    tr, va = dataset.split("train"), dataset.split("val")
    feature_batch = model_cfg["feature_batch_size"]
    x_train, items = split_features(cache, tr, pre.transforms, feature_batch)
    x_val = cache.features(va.images, None, feature_batch)
    y_train, w_train = tr.training_targets()[items], None if weights is None else weights[items]
    activation = "sigmoid" if dataset.multilabel else "softmax"
    head = inception_head(x_train.shape[1], len(dataset.classes), activation, model_cfg["dropout"])
    compile_model(head, cfg)
    batch = training["batch_size"]
    history = fit(head,
                  Batches(lambda idx, rng: x_train[idx], y_train, w_train, batch, shuffle=True, seed=[cfg["seed"], 13]),
                  Batches(lambda idx, rng: x_val[idx], va.targets, None, batch),
                  cfg, tmp / MODEL_FILE, training["epochs"], verbose)
    for row in history:
        row["stage"] = "head"
    description = f"{cache.extractor.description}; new dense head trained on cached bottlenecks"
    result = {"history": history, "pipeline": "features", "extractor_key": cache.extractor.key,
              "feature_dim": int(x_train.shape[1]), "bottleneck_cache": cache.stats(), "weights": description,
              "parameters": int(head.count_params())}
    if not model_cfg["fine_tune_blocks"]:
        return result

    import keras

    monitor = training["monitor"]
    pick = min if monitor == "val_loss" else max
    best_head = pick(row[monitor] for row in history)
    head = keras.saving.load_model(tmp / MODEL_FILE, compile=False)
    base = cache.extractor.base
    set_trainable_blocks(base, model_cfg["fine_tune_blocks"])
    full = assemble(base, head)
    compile_model(full, cfg, learning_rate=model_cfg["fine_tune_learning_rate"])
    tuned = tmp / "fine_tuned.keras"
    stage2 = fit(full, image_batches(tr, pre, tr.training_targets(), weights, batch, True, cfg["seed"]),
                 image_batches(va, pre, va.targets, None, batch, False, cfg["seed"]),
                 cfg, tuned, model_cfg["fine_tune_epochs"], verbose, initial_best=best_head)
    for row in stage2:
        row["stage"] = "fine_tune"
        row["epoch"] += len(history)
    result["history"] = history + stage2
    if tuned.is_file():  # fine-tuning beat the head-only model on validation
        tuned.replace(tmp / MODEL_FILE)
        result.update(pipeline="images", parameters=int(full.count_params()),
                      weights=f"{description}; then the top {model_cfg['fine_tune_blocks']} mixed block(s) "
                              "fine-tuned with the head")
    else:
        result["fine_tune_note"] = "fine-tuning did not beat the head-only model on validation; head kept"
    return result
