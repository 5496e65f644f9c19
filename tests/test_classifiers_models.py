"""Architectures: output shapes, parameter counts, save → load, family votes, ResNet-18 weights."""

from __future__ import annotations

import conftest_classifiers  # noqa: F401  (sets TF_CPP_MIN_LOG_LEVEL)

import numpy as np
import pytest

from stemsim.classifiers.models import MODELS, build_model
from stemsim.classifiers.models.family import (majority_vote, member_agreement, member_probabilities, member_targets,
                                      single_label_decision)
from stemsim.classifiers.models.stm import DEEPDOG_BLOCKS
from stemsim.errors import InputError


def trainable(model) -> int:
    return int(sum(np.prod(w.shape) for w in model.trainable_weights))


# ---- parameter counts by hand --------------------------------------------------------


def conv(k, cin, cout, bias=True):
    return k * k * cin * cout + (cout if bias else 0)


def dense(nin, nout):
    return nin * nout + nout


def test_rashidi_wolkow_shape_and_parameters():
    model = build_model("rashidi_wolkow", (128, 128, 1), 6, "sigmoid")
    assert model.output_shape == (None, 6)
    flat = ((128 - 8) // 2) ** 2 * 40
    expected = conv(5, 1, 30) + conv(5, 30, 40) + dense(flat, 128) + dense(128, 6)
    assert model.count_params() == expected == 18_463_722


def test_convnet_shape_and_parameters():
    model = build_model("convnet", (32, 32, 3), 2, "softmax")
    assert model.output_shape == (None, 2)
    expected = conv(5, 3, 6) + conv(5, 6, 16) + dense(16 * 5 * 5, 120) + dense(120, 84) + dense(84, 2)
    assert model.count_params() == expected == 61_326  # the PyTorch tutorial net's count
    big = build_model("convnet", (224, 224, 3), 2, "softmax")
    assert big.count_params() == (conv(5, 3, 6) + conv(5, 6, 16) + dense(16 * 53 * 53, 120) + dense(120, 84)
                                  + dense(84, 2))


def test_vgg_like_shape_and_parameters():
    model = build_model("vgg_like", (128, 128, 1), 6, "sigmoid")
    assert model.output_shape == (None, 6)
    side = ((128 - 4) // 2 - 4) // 2  # two unpadded 3×3 convs, pool, twice
    expected = (conv(3, 1, 32) + conv(3, 32, 32) + conv(3, 32, 64) + conv(3, 64, 64)
                + dense(side * side * 64, 256) + dense(256, 6))
    assert model.count_params() == expected


def test_deepdog_shape_and_parameters():
    model = build_model("deepdog", (128, 128, 1), 6, "sigmoid")
    assert model.output_shape == (None, 6)
    total, cin = conv(3, 1, 32) + 4 * 32, 32  # conv + BN (γ, β, mean, var)
    for filters, _ in DEEPDOG_BLOCKS:
        total += 9 * cin + cin * filters + filters + 4 * filters  # depthwise, pointwise, bias, BN
        cin = filters
    total += dense(1024, 6)
    assert model.count_params() == total == 2_159_142
    # the output size of the last separable block: 128 / 32 = 4
    assert model.get_layer("sep13").output.shape[1:3] == (4, 4)
    # float32 weights + one RMSprop slot per trainable weight ≈ the prior's ~17 MB on disk
    assert 15e6 < 4 * (model.count_params() + trainable(model)) < 19e6


def test_resnet18_matches_torchvision_counts():
    model = build_model("resnet18", (224, 224, 3), 1000, "softmax")
    assert model.output_shape == (None, 1000)
    assert trainable(model) == 11_689_512  # torchvision resnet18
    assert model.count_params() == 11_689_512 + 2 * 4_800  # + BN moving mean/variance (4,800 channels)


@pytest.mark.parametrize("name, head_only", [("featurenet", True), ("finenet", False)])
def test_resnet_transfer_models(name, head_only):
    model = build_model(name, (64, 64, 3), 2, "softmax", {"weights": "none"})
    assert model.output_shape == (None, 2)
    assert trainable(model) == (dense(512, 2) if head_only else 11_176_512 + dense(512, 2))


def test_inception_v3_counts_and_trainable_blocks():
    from stemsim.classifiers.models.inception import inception_v3

    model = inception_v3((75, 75, 3), 3, "softmax", weights="none", fine_tune_blocks=0)
    assert model.output_shape == (None, 3)
    assert model.count_params() == 21_802_784 + dense(2048, 3)  # keras.applications notop total
    assert trainable(model) == dense(2048, 3)
    tuned = inception_v3((75, 75, 3), 3, "softmax", weights="none", fine_tune_blocks=2)
    base = tuned.get_layer("inception_v3")
    names = [layer.name for layer in base.layers]
    after = names.index("mixed8") + 1
    assert not any(layer.trainable and layer.weights for layer in base.layers[:after])
    assert all(layer.trainable for layer in base.layers[after:])
    assert trainable(tuned) > trainable(model)


def test_family_layout_and_parameters():
    member = build_model("rashidi_wolkow", (32, 32, 1), 1, "sigmoid")
    model = build_model("family", (32, 32, 1), 3, "sigmoid",
                        {"member": "rashidi_wolkow", "group_size": 3, "member_options": {}})
    assert model.output_shape == (None, 9)
    assert model.count_params() == 9 * member.count_params()
    names = [layer.name for layer in model.layers if layer.name.startswith("member_")]
    assert names == [f"member_c{c}_{k}" for c in range(3) for k in range(3)]
    with pytest.raises(InputError, match="odd"):
        build_model("family", (32, 32, 1), 3, "sigmoid", {"member": "convnet", "group_size": 2})


def test_family_whose_members_learn_every_category_keeps_the_category_major_layout():
    member = build_model("rashidi_wolkow", (32, 32, 1), 4, "sigmoid")
    model = build_model("family", (32, 32, 1), 4, "sigmoid",
                        {"member": "rashidi_wolkow", "group_size": 3, "member_options": {}, "members_learn": "all"})
    assert model.output_shape == (None, 12) and model.count_params() == 3 * member.count_params()
    x = np.random.default_rng(0).random((5, 32, 32, 1)).astype("float32")
    members = np.stack([model.get_layer(f"member_{k}").predict(x, verbose=0) for k in range(3)], axis=-1)
    # output [c0m0, c0m1, c0m2, c1m0, ...]: what member_probabilities and the votes read
    np.testing.assert_allclose(member_probabilities(model.predict(x, verbose=0), 3), members, rtol=1e-5)


# ---- family votes on hand-made votes ----------------------------------------------------


def test_majority_vote_hand_made():
    probs = np.array([[[0.9, 0.8, 0.1], [0.2, 0.6, 0.4], [0.51, 0.49, 0.52]],
                      [[0.1, 0.2, 0.3], [0.9, 0.9, 0.9], [0.5, 0.5, 0.9]]])
    # a vote is yes when p > 0.5; 0.5 itself is no
    assert majority_vote(probs).tolist() == [[True, False, True], [False, True, False]]


def test_member_agreement_scores_each_member_and_how_often_they_vote_alike():
    truth = np.array([[True, False], [True, False], [False, False], [False, False]])
    probs = np.zeros((4, 2, 3))
    probs[:, 0] = [[0.9, 0.8, 0.4], [0.7, 0.6, 0.9], [0.2, 0.1, 0.6], [0.1, 0.3, 0.2]]  # member 2 ranks badly
    probs[:, 1] = 0.1  # nobody says yes: unanimous everywhere
    stats = member_agreement(probs, truth, ["a", "b"])
    assert stats["per_category"]["a"]["member_roc_auc"] == [1.0, 1.0, 0.75]
    assert stats["per_category"]["a"]["unanimous"] == 0.5  # items 0 and 2 split the vote
    assert stats["per_category"]["b"] == {"member_roc_auc": [None, None, None], "unanimous": 1.0}
    assert stats["mean_member_roc_auc"] == pytest.approx(2.75 / 3) and stats["unanimous"] == 0.75


def test_majority_vote_refuses_even_groups():
    with pytest.raises(ValueError, match="odd"):
        majority_vote(np.array([[[0.9, 0.1]]]))  # a 1–1 tie has no answer


def test_single_label_decision_by_votes_then_mean_probability():
    members = np.array([
        [[0.9, 0.9, 0.1], [0.6, 0.6, 0.6], [0.1, 0.1, 0.1]],   # votes 2, 3, 0 → class 1
        [[0.9, 0.9, 0.1], [0.6, 0.6, 0.1], [0.1, 0.1, 0.1]],   # votes 2, 2 tie → higher mean: class 0
        [[0.1, 0.2, 0.3], [0.1, 0.1, 0.1], [0.4, 0.2, 0.1]],   # no votes → highest mean: class 2
    ])
    assert single_label_decision(members).tolist() == [1, 0, 2]


def test_member_layout_round_trip():
    targets = np.array([[1, 0], [0, 1]], np.float32)
    y = member_targets(targets, 3)
    assert y.tolist() == [[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]]
    assert member_probabilities(y, 3)[:, :, 0].tolist() == targets.tolist()


# ---- save → load gives identical predictions --------------------------------------------

SMALL = {
    "deepdog": ((32, 32, 1), {}), "vgg_like": ((32, 32, 1), {}), "rashidi_wolkow": ((32, 32, 1), {}),
    "convnet": ((32, 32, 3), {}), "resnet18": ((32, 32, 3), {"weights": "none"}),
    "featurenet": ((32, 32, 3), {"weights": "none"}), "finenet": ((32, 32, 3), {"weights": "none"}),
    "family": ((32, 32, 1), {"member": "convnet", "group_size": 3, "member_options": {}}),
    "stemnet": ((32, 32, 1), {"width": 4}),
}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_save_load_identical_predictions(name, tmp_path):
    import keras

    shape, options = SMALL[name]
    activation = "sigmoid" if name in ("deepdog", "family") else "softmax"
    model = build_model(name, shape, 2, activation, options)
    x = np.random.default_rng(1).random((4, *shape), dtype=np.float32)
    before = np.asarray(model.predict(x, verbose=0))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_array_equal(np.asarray(loaded.predict(x, verbose=0)), before)


def test_every_registered_architecture_is_covered():
    # multiview takes (B, V, H, W, C); its save → load check is in test_multiview.py;
    # geometric is no network (features + scikit-learn): tested in test_features.py;
    # two_stage (U-Net maps + geometric): tested in test_pixelwise.py;
    # texture (texture features + scikit-learn): tested in test_texture.py
    assert set(MODELS) == set(SMALL) | {"inception_v3", "multiview", "geometric", "two_stage", "texture"}


def test_stemnet_is_fully_convolutional():
    small = build_model("stemnet", (16, 16, 1), 3, "softmax", {"width": 4})
    large = build_model("stemnet", (96, 80, 1), 3, "softmax", {"width": 4})
    assert small.count_params() == large.count_params()  # pooled features: any input of >= 16 px
    assert small.output_shape == large.output_shape == (None, 3)


# ---- torchvision weights for ResNet-18 ---------------------------------------------------


def _conv_reference(x, w_oihw, stride, pad):
    """Cross-correlation as torch.nn.Conv2d does it (NHWC in, OIHW weights, symmetric pad)."""
    x = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    o, i, kh, kw = w_oihw.shape
    h = (x.shape[1] - kh) // stride + 1
    w = (x.shape[2] - kw) // stride + 1
    out = np.zeros((x.shape[0], h, w, o))
    for a in range(h):
        for b in range(w):
            patch = x[:, a * stride:a * stride + kh, b * stride:b * stride + kw, :]  # (N, kh, kw, I)
            out[:, a, b, :] = np.einsum("nhwi,oihw->no", patch, w_oihw)
    return out


def test_resnet18_loads_torchvision_state_dict(tmp_path):
    import keras

    from stemsim.classifiers.models.afm import resnet18_state_dict

    rng = np.random.default_rng(0)
    donor = build_model("resnet18", (32, 32, 3), 1000, "softmax")
    state = {k: rng.normal(0, 0.05, v.shape).astype(np.float32) for k, v in resnet18_state_dict(donor).items()}
    for k in state:
        if k.endswith("running_var"):
            state[k] = np.abs(state[k]) + 0.5
    state["layer1.0.bn1.num_batches_tracked"] = np.array(7)  # present in real state dicts; ignored
    np.savez(tmp_path / "r18.npz", **state)

    model = build_model("resnet18", (32, 32, 3), 1000, "softmax", {"weights": str(tmp_path / "r18.npz")})
    x = rng.random((2, 32, 32, 3), dtype=np.float32)
    # conv1 = torch's 7×7 stride-2 padding-3 cross-correlation with OIHW weights
    backbone = model.get_layer("resnet18_backbone")
    conv1 = keras.Model(backbone.input, backbone.get_layer("conv1").output)
    np.testing.assert_allclose(conv1.predict(x, verbose=0), _conv_reference(x, state["conv1.weight"], 2, 3),
                               rtol=1e-4, atol=1e-4)
    # bn1 in inference = (x − running_mean)/sqrt(running_var + 1e-5)·weight + bias
    bn = keras.Model(backbone.input, backbone.get_layer("bn1").output).predict(x, verbose=0)
    c = conv1.predict(x, verbose=0)
    ref = ((c - state["bn1.running_mean"]) / np.sqrt(state["bn1.running_var"] + 1e-5) * state["bn1.weight"]
           + state["bn1.bias"])
    np.testing.assert_allclose(bn, ref, rtol=1e-4, atol=1e-4)
    # fc = features @ weight.T + bias, then softmax
    feats = backbone.predict(x, verbose=0)
    logits = feats @ state["fc.weight"].T + state["fc.bias"]
    expected = np.exp(logits - logits.max(1, keepdims=True))
    np.testing.assert_allclose(model.predict(x, verbose=0), expected / expected.sum(1, keepdims=True),
                               rtol=1e-3, atol=1e-6)
    # FeatureNet takes the same backbone weights and leaves them frozen
    fnet = build_model("featurenet", (32, 32, 3), 2, "softmax", {"weights": str(tmp_path / "r18.npz")})
    np.testing.assert_allclose(fnet.get_layer("resnet18_backbone").predict(x, verbose=0), feats, rtol=1e-5, atol=1e-5)


def test_resnet18_weights_file_problems(tmp_path):
    np.savez(tmp_path / "partial.npz", **{"conv1.weight": np.zeros((64, 3, 7, 7), np.float32)})
    with pytest.raises(InputError, match=r"model.weights: .*partial.npz lacks 'bn1.weight'"):
        build_model("finenet", (32, 32, 3), 2, "softmax", {"weights": str(tmp_path / "partial.npz")})
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable .npz"):
        build_model("finenet", (32, 32, 3), 2, "softmax", {"weights": str(tmp_path / "junk.npz")})
    np.savez(tmp_path / "wrong.npz", **{"conv1.weight": np.zeros((64, 1, 7, 7), np.float32)})
    with pytest.raises(InputError, match="conv1 has shapes"):
        build_model("finenet", (32, 32, 3), 2, "softmax", {"weights": str(tmp_path / "wrong.npz")})


def test_inception_imagenet_weights_unavailable_says_how(monkeypatch):
    import keras

    from stemsim.classifiers.models.inception import inception_v3_base

    def offline(**kwargs):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: Name or service not known")

    monkeypatch.setattr(keras.applications, "InceptionV3", offline)
    with pytest.raises(InputError) as error:
        inception_v3_base((75, 75, 3), "imagenet")
    message = str(error.value)
    assert message.startswith("model.weights: cannot load Inception-v3 weights 'imagenet'")
    assert "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5" in message and "\n" not in message
