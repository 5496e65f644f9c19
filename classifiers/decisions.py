"""Turning model outputs into decisions: probabilities and the class (or categories) decided."""

from __future__ import annotations

import numpy as np

from stemsim.classifiers.models.family import majority_vote, member_probabilities, single_label_decision


def decide(outputs: np.ndarray, multilabel: bool, group_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Model outputs → ``(probabilities (N, C), decisions)``.

    Decisions: multi-label → bool ``(N, C)`` (probability > 0.5, or the family's majority
    vote); single-label → int ``(N,)`` class index (argmax, or most family votes). For a
    family the probabilities are the mean member probabilities per category.
    """
    outputs = np.asarray(outputs, np.float32)
    if group_size:
        members = member_probabilities(outputs, group_size)
        probs = members.mean(axis=-1)
        return probs, (majority_vote(members) if multilabel else single_label_decision(members))
    return outputs, (outputs > 0.5 if multilabel else outputs.argmax(axis=1))
