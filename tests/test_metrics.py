"""Classification metrics: macro-F1 of the models and of the constant predictor, worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from stemsim.classifiers.metrics import constant_baseline, multilabel_metrics, single_label_metrics


def test_multilabel_macro_f1_is_the_mean_of_the_categories_f1():
    y_true = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    y_pred = np.array([[1, 0], [0, 1], [0, 0], [1, 1]])
    m = multilabel_metrics(y_true, y_pred.astype(float), y_pred, ["a", "b"])
    # a: 1 hit, 1 false alarm, 1 miss -> F1 1/2; b: all right -> 1
    assert m["per_category"]["a"]["f1"] == pytest.approx(0.5)
    assert m["per_category"]["b"]["f1"] == pytest.approx(1.0)
    assert m["macro_f1"] == pytest.approx(0.75)


def test_multilabel_constant_predictor_scores_no_f1_where_it_always_says_no():
    y_true = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    base = constant_baseline(y_true, {"a": 3, "b": 1}, 4, ["a", "b"], multilabel=True)
    assert base["predicts"] == {"a": True, "b": False}
    # a: always yes on 2 of 4 positives -> precision 1/2, recall 1, F1 2/3; b: never yes -> 0
    assert base["macro_f1"] == pytest.approx(1 / 3)


def test_single_label_macro_f1_counts_every_class():
    y_true, y_pred = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 1])
    m = single_label_metrics(y_true, np.eye(3)[y_pred], y_pred, ["a", "b", "c"])
    # a: F1 2/3; b: precision 1/3, recall 1 -> 1/2; c: never predicted -> 0
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 / 2 + 0) / 3)
    base = constant_baseline(y_true, {"a": 5, "b": 2, "c": 1}, 8, ["a", "b", "c"], multilabel=False)
    assert base["predicts"] == "a" and base["macro_f1"] == pytest.approx((2 / 3) / 3)


@pytest.mark.filterwarnings("ignore:Mean of empty slice", "ignore:invalid value encountered")  # accuracies: NaN
def test_constant_predictor_on_an_empty_split_has_no_macro_f1():
    empty = np.zeros(0, int)
    assert constant_baseline(empty, {"a": 2, "b": 1}, 3, ["a", "b"], multilabel=False)["macro_f1"] is None
    assert constant_baseline(np.zeros((0, 2)), {"a": 2, "b": 1}, 3, ["a", "b"], multilabel=True)["macro_f1"] is None
