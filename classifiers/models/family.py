"""Majority-polling family: for each category, an odd group of binary networks votes.

The family is one Keras model holding ``n_outputs × group_size`` independent member
networks (no shared weights). Its output is every member's probability, category-major:
``(batch, n_outputs · group_size)`` = ``[c0m0, c0m1, c0m2, c1m0, ...]``; training repeats each
category's target ``group_size`` times (:func:`member_targets`), so each member learns its
category one-vs-rest with its own initialisation (with ``members_learn: all``, ``group_size``
members each learn every category, and each category's vote is theirs). The family's answer
per category is the majority of its members' votes (:func:`majority_vote`); for single-label data the class with
the most votes wins, ties between classes broken by the mean member probability
(:func:`single_label_decision`).
"""

from __future__ import annotations

import numpy as np

from stemsim.errors import InputError


def family(input_shape=(128, 128, 1), n_outputs=6, output_activation="sigmoid", member="deepdog",
           group_size=3, member_options=None, members_learn="one", name="family"):
    """Build the family model (uncompiled); see the module doc for the output layout.

    ``members_learn="all"``: ``group_size`` members each learn every category (one sigmoid
    output per category, sharing what the categories have in common); each category's vote is
    then theirs, in the same category-major layout."""
    import keras

    from stemsim.classifiers.models import build_model
    from stemsim.classifiers.models.common import image_input

    if output_activation != "sigmoid":
        raise ValueError("family members are binary: output_activation must be 'sigmoid'")
    if group_size < 1 or group_size % 2 == 0:
        raise InputError(f"model.group_size: must be odd so that a majority vote never ties, got {group_size}")
    if member == "family":
        raise InputError("model.member: a family cannot be a member of a family")
    inputs = image_input(input_shape)
    if members_learn == "all":
        nets = [build_model(member, input_shape, n_outputs, "sigmoid", member_options or {}, name=f"member_{index}")
                for index in range(group_size)]
        stacked = keras.layers.Concatenate(name="members_by_member")([net(inputs) for net in nets])  # member-major
        by_category = keras.layers.Permute((2, 1))(keras.layers.Reshape((group_size, n_outputs))(stacked))
        return keras.Model(inputs, keras.layers.Reshape((n_outputs * group_size,), name="members")(by_category),
                           name=name)
    outputs = []
    for category in range(n_outputs):
        for index in range(group_size):
            net = build_model(member, input_shape, 1, "sigmoid", member_options or {},
                              name=f"member_c{category}_{index}")
            outputs.append(net(inputs))
    merged = outputs[0] if len(outputs) == 1 else keras.layers.Concatenate(name="members")(outputs)
    return keras.Model(inputs, merged, name=name)


def member_targets(targets: np.ndarray, group_size: int) -> np.ndarray:
    """``(N, C)`` 0/1 targets → ``(N, C · group_size)`` member targets (category-major)."""
    return np.repeat(np.asarray(targets, np.float32), group_size, axis=1)


def member_probabilities(outputs: np.ndarray, group_size: int) -> np.ndarray:
    """Family output ``(N, C · k)`` → ``(N, C, k)`` member probabilities."""
    outputs = np.asarray(outputs)
    if outputs.ndim != 2 or outputs.shape[1] % group_size:
        raise ValueError(f"family output of shape {outputs.shape} does not split into groups of {group_size}")
    return outputs.reshape(outputs.shape[0], -1, group_size)


def majority_vote(member_probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``(N, C, k)`` member probabilities → ``(N, C)`` bool: does the majority vote yes?

    A member votes yes when its probability is > ``threshold``. ``k`` must be odd: with an
    even group a tie has no answer, so it is refused rather than resolved arbitrarily.
    """
    member_probs = np.asarray(member_probs)
    k = member_probs.shape[-1]
    if k % 2 == 0:
        raise ValueError(f"a majority vote needs an odd number of voters, got {k}")
    return (member_probs > threshold).sum(axis=-1) > k // 2


def single_label_decision(member_probs: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """``(N, C, k)`` → ``(N,)`` class index: most yes-votes; ties by mean member probability."""
    member_probs = np.asarray(member_probs)
    votes = (member_probs > threshold).sum(axis=-1)
    mean = member_probs.mean(axis=-1)
    # votes are integers and 0.5 * mean < 1, so this ranks by votes, then by mean probability.
    return np.argmax(votes + 0.5 * mean, axis=-1)


def member_agreement(member_probs: np.ndarray, truth: np.ndarray, categories: list[str]) -> dict:
    """How much a vote of a family's members can add: ``(N, C, k)`` member probabilities and
    ``(N, C)`` bool truth → ``{mean_member_roc_auc, unanimous, per_category: {name:
    {member_roc_auc: [k values], unanimous}}}``, ``unanimous`` being the fraction of items on
    which all k members vote alike (a vote of members that always agree is any one of them).
    A category without both answers in ``truth`` has no ROC AUC (None)."""
    from sklearn.metrics import roc_auc_score

    member_probs, truth = np.asarray(member_probs), np.asarray(truth, bool)
    votes = member_probs > 0.5
    per_category = {}
    for c, name in enumerate(categories):
        both = 0 < truth[:, c].sum() < len(truth)
        aucs = [float(roc_auc_score(truth[:, c], member_probs[:, c, m])) if both else None
                for m in range(member_probs.shape[-1])]
        per_category[name] = {"member_roc_auc": aucs,
                              "unanimous": float(np.mean(votes[:, c].all(axis=-1) | ~votes[:, c].any(axis=-1)))}
    aucs = [a for v in per_category.values() for a in v["member_roc_auc"] if a is not None]
    return {"mean_member_roc_auc": float(np.mean(aucs)) if aucs else None,
            "unanimous": float(np.mean([v["unanimous"] for v in per_category.values()])),
            "per_category": per_category}
