"""Inception-v3 transfer learning (keras.applications backbone + a new dense head).

The retrain.py recipe: the ImageNet-trained network turns each image into a 2048-d
"bottleneck" (global average pool of the last block); only a new dense layer is trained on
those (see :mod:`stemsim.classifiers.extractors` for the on-disk cache and TF-Hub/SavedModel
extractors). Optionally the top ``fine_tune_blocks`` of the 11 "mixed" blocks are then
fine-tuned together with the head (BatchNormalization kept in inference mode).
"""

from __future__ import annotations

from pathlib import Path

import keras

from stemsim.classifiers.models.common import image_input, output_layer
from stemsim.errors import InputError, reason

INCEPTION_V3_NOTOP = "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
WEIGHTS_HELP = (f"download {INCEPTION_V3_NOTOP} from https://storage.googleapis.com/tensorflow/"
                f"keras-applications/inception_v3/ and either put it in ~/.keras/models/ (for weights: imagenet) "
                "or give its path as model.weights; weights: none trains from random weights")


def inception_v3_base(input_shape=(299, 299, 3), weights="imagenet") -> keras.Model:
    """keras.applications InceptionV3 without top, average-pooled: image → ``(2048,)``.

    ``weights``: ``imagenet`` (Keras downloads/caches it), a local ``.h5`` weights file, or
    ``none`` (random; only when asked for). Inputs are expected in [−1, 1]. Fails with
    :class:`InputError` (saying how to provide the weights) if they cannot be loaded.
    """
    source = None if weights == "none" else weights
    if source not in (None, "imagenet") and not Path(source).is_file():
        raise InputError(f"model.weights: no such file: {source}")
    try:
        return keras.applications.InceptionV3(include_top=False, weights=source, input_shape=tuple(input_shape),
                                              pooling="avg")
    except InputError:
        raise
    except Exception as error:
        raise InputError(f"model.weights: cannot load Inception-v3 weights {weights!r} ({reason(error)}); "
                         f"{WEIGHTS_HELP}") from None


def inception_head(n_features=2048, n_outputs=2, output_activation="softmax", dropout=0.0,
                   name="inception_head") -> keras.Model:
    """The new layer trained on bottlenecks: ``(n_features,)`` → [dropout] → dense output."""
    inputs = keras.Input(shape=(int(n_features),), name="bottleneck")
    x = keras.layers.Dropout(dropout, name="head_dropout")(inputs) if dropout else inputs
    return keras.Model(inputs, output_layer(x, n_outputs, output_activation), name=name)


def set_trainable_blocks(base: keras.Model, n_blocks: int) -> None:
    """Freeze ``base`` except its top ``n_blocks`` "mixed" blocks (0: all frozen; 11: all)."""
    if not 0 <= n_blocks <= 11:
        raise ValueError(f"n_blocks must be in 0..11, got {n_blocks}")
    base.trainable = n_blocks > 0
    if n_blocks in (0, 11):
        return
    names = [layer.name for layer in base.layers]
    first = names.index(f"mixed{10 - n_blocks}") + 1
    for layer in base.layers[:first]:
        layer.trainable = False


def assemble(base: keras.Model, head: keras.Model, name="inception_v3") -> keras.Model:
    """Image model = ``head(base(image))``, with the base's BatchNormalization in inference mode."""
    inputs = image_input(base.input_shape[1:])
    return keras.Model(inputs, head(base(inputs, training=False)), name=name)


def inception_v3(input_shape=(299, 299, 3), n_outputs=2, output_activation="softmax", weights="imagenet",
                 fine_tune_blocks=0, dropout=0.0, name="inception_v3") -> keras.Model:
    """Full image model: InceptionV3 base (top ``fine_tune_blocks`` trainable) + new head."""
    base = inception_v3_base(input_shape, weights)
    set_trainable_blocks(base, fine_tune_blocks)
    head = inception_head(base.output_shape[-1], n_outputs, output_activation, dropout)
    return assemble(base, head, name=name)
