"""A small U-Net that turns one ADF-STEM image into the maps behind it.

From a per-image standardised image ``(B, H, W, 1)`` it predicts, at the same resolution:

* ``mask`` ``(B, H, W, 1)``: probability that the pixel's ray meets the particle;
* ``thickness`` ``(B, H, W, 1)``: projected particle thickness, nm (≥ 0, no support);
* ``vertices`` ``(B, H, W, 2)``: Gaussian heat-maps of the projected vertex (site) positions,
  channel 0 every vertex, channel 1 the deformed ones only.

Training is in :mod:`stemsim.classifiers.pixelwise`; this module only builds the network.
"""

from __future__ import annotations

import keras
from keras import layers

MAP_OUTPUTS = ("mask", "thickness", "vertices")


def _block(x, filters: int, name: str):
    for k in (1, 2):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{k}")(x)
        # momentum 0.9: the moving statistics settle within tens of steps, not hundreds
        x = layers.BatchNormalization(momentum=0.9, name=f"{name}_bn{k}")(x)
        x = layers.Activation("relu", name=f"{name}_relu{k}")(x)
    return x


def unet(input_shape=(None, None, 1), width: int = 16, depth: int = 3, thickness_scale: float = 10.0,
         name: str = "unet") -> keras.Model:
    """The map network. Uncompiled; outputs a dict keyed by :data:`MAP_OUTPUTS`.

    ``width``: filters at full resolution, doubling per level; ``depth``: 2× poolings (the
    image sides must be multiples of ``2**depth``; :func:`stemsim.classifiers.pixelwise.predict_maps`
    pads). ``thickness_scale`` (nm): the thickness head's unit, so that its pre-activation
    stays of order one for particles a few nm thick.
    """
    inputs = keras.Input(input_shape, name="image")
    x, skips = inputs, []
    for level in range(depth):
        x = _block(x, width * 2 ** level, f"down{level}")
        skips.append(x)
        x = layers.MaxPooling2D(2, name=f"pool{level}")(x)
    x = _block(x, width * 2 ** depth, "bottom")
    for level in reversed(range(depth)):
        x = layers.Conv2DTranspose(width * 2 ** level, 2, strides=2, name=f"up{level}")(x)
        x = layers.Concatenate(name=f"skip{level}")([x, skips[level]])
        x = _block(x, width * 2 ** level, f"dec{level}")
    # The vertex head starts near "none" (sigmoid(-4) ≈ 0.02), so the rare vertex pixels do
    # not begin as a field of false peaks; softplus, unlike relu, cannot die at zero thickness.
    mask = layers.Conv2D(1, 1, activation="sigmoid", name="mask")(x)
    raw_thickness = layers.Conv2D(1, 1, activation="softplus", bias_initializer=keras.initializers.Constant(-3.0),
                                  name="thickness_units")(x)  # starts at ≈ 0.5 nm: most pixels are background
    thickness = layers.Rescaling(thickness_scale, name="thickness")(raw_thickness)
    vertices = layers.Conv2D(2, 1, activation="sigmoid", bias_initializer=keras.initializers.Constant(-4.0),
                             name="vertices")(x)
    return keras.Model(inputs, {"mask": mask, "thickness": thickness, "vertices": vertices}, name=name)
