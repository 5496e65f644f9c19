"""A small network for simulated STEM particle images, and its feature backbone.

The deformation tasks ask whether a small local feature (a cut corner, a dent) exists anywhere
on a particle seen in any orientation, so the network is fully convolutional with batch
normalisation and ends in global average *and* max pooling: the max keeps a strong local
response that the average would dilute over the whole particle.
"""

from __future__ import annotations

import keras
from keras import layers

from stemsim.classifiers.models.common import image_input, output_layer

STEMNET_STAGES: tuple[int, ...] = (1, 2, 2, 2, 1)
"""Convolutions per stage; each stage doubles the width (up to 8×) and ends in a 2× max-pool."""


def stemnet_backbone(input_shape=(128, 128, 1), width=16, name="stemnet_backbone") -> keras.Model:
    """The convolutional part of :func:`stemnet`: ``(B, H, W, C)`` → ``(B, 2·8·width)`` pooled features.

    Five stages of 3×3 conv + BN + ReLU (:data:`STEMNET_STAGES`, widths ``width``·1, 2, 4, 8, 8),
    a 2× max-pool between stages, then global average and global max pooling concatenated.
    """
    inputs = image_input(input_shape)
    x = inputs
    for stage, n_convs in enumerate(STEMNET_STAGES, start=1):
        filters = width * min(2 ** (stage - 1), 8)
        if stage > 1:
            x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        for k in range(1, n_convs + 1):
            x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{stage}_{k}")(x)
            x = layers.BatchNormalization(name=f"conv{stage}_{k}_bn")(x)
            x = layers.Activation("relu", name=f"conv{stage}_{k}_relu")(x)
    pooled = [layers.GlobalAveragePooling2D(name="avg_pool")(x), layers.GlobalMaxPooling2D(name="max_pool")(x)]
    features = layers.Concatenate(name="pooled")(pooled)
    return keras.Model(inputs, features, name=name)


def stemnet(input_shape=(128, 128, 1), n_outputs=2, output_activation="softmax", width=16, dropout=0.3,
            name="stemnet") -> keras.Model:
    """STEMNet: :func:`stemnet_backbone`, dropout, dense output. Uncompiled.

    ``width``: filters of the first stage (16 → 0.39 M parameters; cost grows as width²).
    Any input of at least 16×16 pixels.
    """
    backbone = stemnet_backbone(input_shape, width)
    inputs = image_input(input_shape)
    x = backbone(inputs)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, output_layer(x, n_outputs, output_activation), name=name)
