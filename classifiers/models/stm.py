"""Networks of the STM tip-state work on H:Si(100) (128×128×1 input, 6 sigmoid outputs).

All three take any ``(H, W, C)`` input large enough for their down-sampling, and return an
uncompiled :class:`keras.Model` whose output is ``(batch, n_outputs)`` probabilities.
"""

from __future__ import annotations

import keras
from keras import layers

from stemsim.classifiers.models.common import image_input, output_layer

DEEPDOG_BLOCKS: tuple[tuple[int, int], ...] = (
    (32, 1), (64, 2), (128, 1), (128, 2), (256, 1), (256, 2),
    (512, 1), (512, 1), (512, 1), (512, 1), (512, 1), (512, 2), (1024, 1),
)
"""(filters, stride) of DeepDog's separable-convolution blocks, in order."""


def deepdog(input_shape=(128, 128, 1), n_outputs=6, output_activation="sigmoid", dropout=0.0,
            batchnorm_momentum=0.99, name="deepdog") -> keras.Model:
    """DeepDog: a MobileNet-like stack of separable convolutions.

    conv 32 3×3 stride 2 + BN + ELU, then the :data:`DEEPDOG_BLOCKS` (3×3 separable conv
    + BN + ELU each; total stride 32), global average pooling, optional dropout, dense output.
    2.16 M parameters whatever the input size (the head sees 1024 pooled features).
    ``batchnorm_momentum``: of the BN moving statistics (Keras default 0.99; 0.9 settles
    faster on small sets, as PyTorch's default does).
    """
    inputs = image_input(input_shape)
    x = layers.Conv2D(32, 3, strides=2, padding="same", name="conv0")(inputs)
    x = layers.BatchNormalization(momentum=batchnorm_momentum, name="conv0_bn")(x)
    x = layers.Activation("elu", name="conv0_elu")(x)
    for i, (filters, stride) in enumerate(DEEPDOG_BLOCKS, start=1):
        x = layers.SeparableConv2D(filters, 3, strides=stride, padding="same", name=f"sep{i}")(x)
        x = layers.BatchNormalization(momentum=batchnorm_momentum, name=f"sep{i}_bn")(x)
        x = layers.Activation("elu", name=f"sep{i}_elu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(inputs, output_layer(x, n_outputs, output_activation), name=name)


def vgg_like(input_shape=(128, 128, 1), n_outputs=6, output_activation="sigmoid",
             name="vgg_like") -> keras.Model:
    """VGG-like net (the Keras guide's): 2× conv 32 3×3 ReLU, max-pool 2, dropout .25,
    2× conv 64 3×3 ReLU, max-pool 2, dropout .25, dense 256 ReLU, dropout .5, output.
    Unpadded convolutions; needs inputs of at least 14×14."""
    inputs = image_input(input_shape)
    x = inputs
    for stage, filters in enumerate((32, 64), start=1):
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{stage}a")(x)
        x = layers.Conv2D(filters, 3, activation="relu", name=f"conv{stage}b")(x)
        x = layers.MaxPooling2D(2, name=f"pool{stage}")(x)
        x = layers.Dropout(0.25, name=f"dropout{stage}")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(256, activation="relu", name="dense")(x)
    x = layers.Dropout(0.5, name="dropout3")(x)
    return keras.Model(inputs, output_layer(x, n_outputs, output_activation), name=name)


def rashidi_wolkow(input_shape=(128, 128, 1), n_outputs=6, output_activation="sigmoid",
                   name="rashidi_wolkow") -> keras.Model:
    """Rashidi–Wolkow CNN: conv 30 5×5 ReLU, conv 40 5×5 ReLU, max-pool 2, dense 128 ReLU, output.

    Unpadded convolutions, so the dense layer sees ((H−8)//2)·((W−8)//2)·40 features
    (18.4 M parameters at 128×128; the original used small crops).
    """
    inputs = image_input(input_shape)
    x = layers.Conv2D(30, 5, activation="relu", name="conv1")(inputs)
    x = layers.Conv2D(40, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(128, activation="relu", name="dense")(x)
    return keras.Model(inputs, output_layer(x, n_outputs, output_activation), name=name)
