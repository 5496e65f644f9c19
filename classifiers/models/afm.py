"""Networks of the AFM good/bad image work (originally PyTorch), rebuilt in Keras.

* :func:`convnet` — the LeNet-like ConvNet.
* :func:`resnet18` — ResNet-18 laid out exactly like torchvision's (explicit symmetric
  zero padding, bias-free convolutions, BN eps 1e-5), so torchvision ImageNet weights load
  1:1 from an ``.npz`` of its ``state_dict`` (:func:`load_resnet18_weights`).
* :func:`featurenet` — frozen ResNet-18 feature extractor + new dense head.
* :func:`finenet` — ResNet-18 fully fine-tuned with a new dense head.

Converting torchvision's weights (where PyTorch is installed)::

    import numpy as np, torchvision
    sd = torchvision.models.resnet18(weights="IMAGENET1K_V1").state_dict()
    np.savez("resnet18_imagenet.npz", **{k: v.numpy() for k, v in sd.items()})
"""

from __future__ import annotations

from pathlib import Path

import keras
import numpy as np
from keras import layers

from stemsim.classifiers.models.common import image_input, output_layer
from stemsim.errors import InputError

RESNET18_STAGES = ((64, 1), (128, 2), (256, 2), (512, 2))
"""(filters, stride of the first block) of ResNet-18's four stages of two basic blocks."""


def convnet(input_shape=(224, 224, 3), n_outputs=2, output_activation="softmax",
            name="convnet") -> keras.Model:
    """ConvNet: conv 6 5×5 ReLU, max-pool 2, conv 16 5×5 ReLU, max-pool 2,
    dense 120 ReLU, dense 84 ReLU, output. Unpadded; needs inputs of at least 16×16.

    Parameters: 6·(25·C + 1) + 16·(150 + 1) + 120·(F + 1) + 84·121 + 85·n_outputs, where
    F = 16·h·w, h = ((H − 4)//2 − 4)//2, w likewise (61,326 at 32×32×3 with 2 outputs).
    """
    inputs = image_input(input_shape)
    x = layers.Conv2D(6, 5, activation="relu", name="conv1")(inputs)
    x = layers.MaxPooling2D(2, name="pool1")(x)
    x = layers.Conv2D(16, 5, activation="relu", name="conv2")(x)
    x = layers.MaxPooling2D(2, name="pool2")(x)
    x = layers.Flatten(name="flatten")(x)
    x = layers.Dense(120, activation="relu", name="fc1")(x)
    x = layers.Dense(84, activation="relu", name="fc2")(x)
    return keras.Model(inputs, output_layer(x, n_outputs, output_activation), name=name)


# ---- ResNet-18 ----------------------------------------------------------------------


def _conv_bn(x, filters, kernel, stride, name, relu=True):
    """torchvision conv (padding kernel//2, no bias) + BN (+ ReLU). Layer names = torch keys."""
    if kernel > 1:
        x = layers.ZeroPadding2D(kernel // 2, name=f"{name}_pad")(x)
    x = layers.Conv2D(filters, kernel, strides=stride, use_bias=False, name=name)(x)
    bn_name = name.replace("conv", "bn") if "conv" in name else f"{name[:-1]}1"  # downsample_0 → _1
    x = layers.BatchNormalization(epsilon=1e-5, momentum=0.9, name=bn_name)(x)
    return layers.ReLU(name=f"{bn_name}_relu")(x) if relu else x


def _basic_block(x, filters, stride, name):
    shortcut = x
    y = _conv_bn(x, filters, 3, stride, f"{name}_conv1")
    y = _conv_bn(y, filters, 3, 1, f"{name}_conv2", relu=False)
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_downsample_0", relu=False)
    y = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(y)


def resnet18_backbone(input_shape=(224, 224, 3), name="resnet18_backbone") -> keras.Model:
    """ResNet-18 without its classifier: image ``(H, W, C)`` → pooled features ``(512,)``.
    11,176,512 trainable parameters for C = 3 (+9,600 BN moving statistics)."""
    inputs = image_input(input_shape)
    x = _conv_bn(inputs, 64, 7, 2, "conv1")
    x = layers.ZeroPadding2D(1, name="maxpool_pad")(x)  # after ReLU, zero padding == −inf padding
    x = layers.MaxPooling2D(3, strides=2, name="maxpool")(x)
    for stage, (filters, stride) in enumerate(RESNET18_STAGES, start=1):
        x = _basic_block(x, filters, stride, f"layer{stage}_0")
        x = _basic_block(x, filters, 1, f"layer{stage}_1")
    x = layers.GlobalAveragePooling2D(name="avgpool")(x)
    return keras.Model(inputs, x, name=name)


def resnet18(input_shape=(224, 224, 3), n_outputs=1000, output_activation="softmax", weights="none",
             name="resnet18") -> keras.Model:
    """ResNet-18 (backbone + dense ``fc``) trained end to end.

    ``weights``: ``"none"`` (random init) or an ``.npz`` of torchvision's state_dict; the
    ``fc`` layer is loaded too when ``n_outputs`` equals its rows (1000 for ImageNet).
    11,689,512 trainable parameters at the ImageNet shape (torchvision's count).
    """
    inputs = image_input(input_shape)
    backbone = resnet18_backbone(input_shape)
    outputs = output_layer(backbone(inputs), n_outputs, output_activation)
    model = keras.Model(inputs, outputs, name=name)
    if weights != "none":
        load_resnet18_weights(model, weights)
    return model


def featurenet(input_shape=(224, 224, 3), n_outputs=2, output_activation="softmax", weights="none",
               name="featurenet") -> keras.Model:
    """FeatureNet: ResNet-18 frozen as a fixed feature extractor (BN in inference mode) + a new
    dense head; only the head's 513·n_outputs parameters train."""
    return _resnet_transfer(input_shape, n_outputs, output_activation, weights, name, frozen=True)


def finenet(input_shape=(224, 224, 3), n_outputs=2, output_activation="softmax", weights="none",
            name="finenet") -> keras.Model:
    """FineNet: ResNet-18 with a new dense head, every layer fine-tuned."""
    return _resnet_transfer(input_shape, n_outputs, output_activation, weights, name, frozen=False)


def _resnet_transfer(input_shape, n_outputs, output_activation, weights, name, frozen):
    inputs = image_input(input_shape)
    backbone = resnet18_backbone(input_shape)
    if weights != "none":
        load_resnet18_weights(backbone, weights)
    if frozen:
        backbone.trainable = False
        features = backbone(inputs, training=False)
    else:
        features = backbone(inputs)
    return keras.Model(inputs, output_layer(features, n_outputs, output_activation), name=name)


# ---- torchvision weights ------------------------------------------------------------


def _backbone_of(model: keras.Model) -> keras.Model:
    if model.name.startswith("resnet18_backbone"):
        return model
    for layer in model.layers:
        if isinstance(layer, keras.Model) and layer.name.startswith("resnet18_backbone"):
            return layer
    raise ValueError(f"{model.name} holds no resnet18_backbone")


def _torch_to_keras(layer, key: str, state: dict[str, np.ndarray]) -> list[np.ndarray]:
    if isinstance(layer, layers.Conv2D):
        return [state[f"{key}.weight"].transpose(2, 3, 1, 0)]  # OIHW → HWIO
    if isinstance(layer, layers.BatchNormalization):
        return [state[f"{key}.{n}"] for n in ("weight", "bias", "running_mean", "running_var")]
    if isinstance(layer, layers.Dense):
        return [state[f"{key}.weight"].T, state[f"{key}.bias"]]
    return []


def load_resnet18_weights(model: keras.Model, path: str | Path) -> None:
    """Load torchvision ResNet-18 weights (``.npz`` of its state_dict) into ``model``.

    ``model`` is a :func:`resnet18_backbone` or a model holding one; its ``predictions``
    dense layer gets ``fc.*`` when the shapes agree. InputError names the file on a missing
    key or shape mismatch.
    """
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            state = {k: archive[k] for k in archive.files}
    except Exception as error:
        raise InputError(f"model.weights: {path}: not a readable .npz of ResNet-18 weights ({error})") from None
    backbone = _backbone_of(model)
    targets = [(layer, layer.name.replace("_", ".")) for layer in backbone.layers]
    head = next((layer for layer in model.layers if layer.name == "predictions"), None)
    if head is not None and "fc.weight" in state and state["fc.weight"].shape[::-1] == tuple(head.kernel.shape):
        targets.append((head, "fc"))
    for layer, key in targets:
        if not layer.weights:
            continue
        try:
            values = _torch_to_keras(layer, key, state)
        except KeyError as missing:
            raise InputError(f"model.weights: {path} lacks {missing.args[0]!r} "
                             "(expected torchvision's resnet18 state_dict saved with numpy.savez)") from None
        expected = [tuple(w.shape) for w in layer.get_weights()]
        if [v.shape for v in values] != expected:
            raise InputError(f"model.weights: {path}: {key} has shapes {[v.shape for v in values]}, "
                             f"the model needs {expected}")
        layer.set_weights([np.asarray(v, np.float32) for v in values])


def resnet18_state_dict(model: keras.Model) -> dict[str, np.ndarray]:
    """The inverse of :func:`load_resnet18_weights`: torchvision-named arrays of ``model``."""
    state: dict[str, np.ndarray] = {}
    backbone = _backbone_of(model)
    for layer in backbone.layers:
        key = layer.name.replace("_", ".")
        weights = layer.get_weights()
        if isinstance(layer, layers.Conv2D):
            state[f"{key}.weight"] = weights[0].transpose(3, 2, 0, 1)
        elif isinstance(layer, layers.BatchNormalization):
            for n, w in zip(("weight", "bias", "running_mean", "running_var"), weights):
                state[f"{key}.{n}"] = w
    head = next((layer for layer in model.layers if layer.name == "predictions"), None)
    if head is not None:
        state["fc.weight"], state["fc.bias"] = head.get_weights()[0].T, head.get_weights()[1]
    return state
