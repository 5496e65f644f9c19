"""Multi-view CNN: one shared backbone over every view of an object, pooled over the views.

Input ``(B, V, H, W, C)``: ``B`` objects, each seen in ``V`` views (any ``V`` ≥ 1, also at
prediction time, since the view axis is ``None``). The views are folded into the batch
(``(B·V, H, W, C)``), every view goes through the *same* backbone (``(B·V, F)``), the features
are unfolded (``(B, V, F)``) and pooled over the view axis (max or mean: both ignore the view
order), then dropout and the dense output give ``(B, n_outputs)``.

With V identical views the pooled features are the single view's features, so the model
then answers exactly as the single-view network backbone → dropout → head
(:func:`single_view_model`).

The three small layers below are registered Keras serialisables: importing this module
(:meth:`stemsim.classifiers.run.Run.load_model` does) is what lets a saved multiview model load.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from stemsim.classifiers.models.common import image_input, output_layer
from stemsim.classifiers.models.stem import stemnet_backbone

BACKBONES = {"stemnet": stemnet_backbone}
"""Backbone builders ``(input_shape, width, name) → keras.Model`` mapping ``(H, W, C)`` → ``(F,)``."""

POOLINGS = ("max", "mean")
BACKBONE_LAYER = "backbone"
HEAD_LAYER = "predictions"


@keras.saving.register_keras_serializable(package="stemsim")
class FoldViews(layers.Layer):
    """``(B, V, H, W, C)`` → ``(B·V, H, W, C)``: views become batch items (view-major per object)."""

    def call(self, views):
        return ops.reshape(views, (-1, *views.shape[2:]))

    def compute_output_shape(self, input_shape):
        return (None, *input_shape[2:])


@keras.saving.register_keras_serializable(package="stemsim")
class UnfoldViews(layers.Layer):
    """``(B·V, F)`` features and the ``(B, V, ...)`` views they came from → ``(B, V, F)``."""

    def call(self, features, views):
        return ops.reshape(features, (-1, ops.shape(views)[1], features.shape[-1]))

    def compute_output_shape(self, features_shape, views_shape):
        return (views_shape[0], views_shape[1], features_shape[-1])


@keras.saving.register_keras_serializable(package="stemsim")
class ViewPooling(layers.Layer):
    """``(B, V, F)`` → ``(B, F)``: max or mean over the view axis (order-free)."""

    def __init__(self, mode: str = "max", **kwargs):
        super().__init__(**kwargs)
        if mode not in POOLINGS:
            raise ValueError(f"view pooling must be one of {POOLINGS}, got {mode!r}")
        self.mode = mode

    def call(self, features):
        return ops.max(features, axis=1) if self.mode == "max" else ops.mean(features, axis=1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[2])

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


def multiview(input_shape=(128, 128, 1), n_outputs=2, output_activation="softmax", backbone="stemnet", width=16,
              pooling="max", dropout=0.3, name="multiview") -> keras.Model:
    """Multi-view CNN (uncompiled); ``input_shape`` is ONE view's ``(H, W, C)``.

    Input ``(B, V, H, W, C)`` (any V), output ``(B, n_outputs)``. ``backbone``: a name in
    :data:`BACKBONES` (``width``: its first-stage filters); ``pooling``: ``max`` or ``mean``
    over the views; ``dropout`` before the dense output.
    """
    if backbone not in BACKBONES:
        raise ValueError(f"backbone must be one of {tuple(BACKBONES)}, got {backbone!r}")
    net = BACKBONES[backbone](tuple(input_shape), width, name=BACKBONE_LAYER)
    views = keras.Input(shape=(None, *(int(s) for s in input_shape)), name="views")
    features = UnfoldViews(name="unfold_views")(net(FoldViews(name="fold_views")(views)), views)
    x = ViewPooling(pooling, name="view_pooling")(features)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    return keras.Model(views, output_layer(x, n_outputs, output_activation), name=name)


def single_view_model(model: keras.Model) -> keras.Model:
    """The single-view network inside a multiview ``model``: ``(B, H, W, C)`` → backbone →
    head, sharing ``model``'s weights (dropout is inactive at inference, so it is left out)."""
    net, head = model.get_layer(BACKBONE_LAYER), model.get_layer(HEAD_LAYER)
    image = image_input(net.input_shape[1:])
    return keras.Model(image, head(net(image)), name=f"{model.name}_single_view")


def view_pooling(model: keras.Model) -> str:
    """The view pooling (``max``/``mean``) of a multiview ``model``."""
    return model.get_layer("view_pooling").mode
