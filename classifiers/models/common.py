"""Pieces shared by the builders."""

from __future__ import annotations

import keras

OUTPUT_ACTIVATIONS = ("sigmoid", "softmax")


def image_input(input_shape: tuple[int, ...]) -> keras.KerasTensor:
    """The ``(H, W, C)`` image input of a builder (batch axis implied)."""
    if len(input_shape) != 3 or any(int(s) < 1 for s in input_shape):
        raise ValueError(f"input_shape must be (height, width, channels), got {input_shape}")
    return keras.Input(shape=tuple(int(s) for s in input_shape), name="image")


def output_layer(x: keras.KerasTensor, n_outputs: int, activation: str) -> keras.KerasTensor:
    """The dense output: ``sigmoid`` (independent categories) or ``softmax`` (one class)."""
    if activation not in OUTPUT_ACTIVATIONS:
        raise ValueError(f"output_activation must be one of {OUTPUT_ACTIVATIONS}, got {activation!r}")
    if n_outputs < 1:
        raise ValueError(f"n_outputs must be >= 1, got {n_outputs}")
    return keras.layers.Dense(n_outputs, activation=activation, name="predictions")(x)
