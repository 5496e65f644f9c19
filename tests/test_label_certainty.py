"""``evaluate`` on people-labelled STM data: the ROC AUC by how many people labelled an image."""

from __future__ import annotations

from conftest_classifiers import grid_scores, stm_row, write_stemsim_arrays, write_stm_folder

import csv
import json
import shutil

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from stemsim.classifiers.label_certainty import label_certainty

CATEGORIES = ["dimers", "rows"]


def _people_labelled(tmp_path, n: int = 90):
    """Images with rows and/or dimers, labelled by 1–3 people; about one in five of the
    two-or-more-person labels is split (a mean score strictly between 0 and 1)."""
    rng = np.random.default_rng(11)
    images, scores = grid_scores(n, 32, seed=4)
    people = rng.choice([1, 2, 3], size=n, p=[0.4, 0.35, 0.25])
    rows = []
    for i, (present, k) in enumerate(zip(scores > 0.5, people)):
        means = present.astype(float)
        if k >= 2:
            split = rng.random(2) < 0.2  # one person saw it the other way
            means = np.where(split, np.where(present, (k - 1) / k, 1 / k), means)
        rows.append(stm_row(f"img_{i}.png", dict(zip(CATEGORIES, means)), n=int(k)))
    return write_stm_folder(tmp_path / "stm", images, rows), rows


def _expected(rows: list[dict], predictions: list[dict]) -> dict:
    """The breakdown computed here with sklearn on the images of predictions.csv."""
    by_name = {r["name"]: r for r in rows}
    people = np.array([by_name[p["id"]]["n_responses"] for p in predictions])
    scores = np.array([[by_name[p["id"]][c] for c in CATEGORIES] for p in predictions])
    probability = np.array([[float(p[f"p_{c}"]) for c in CATEGORIES] for p in predictions])
    truth = scores > 0.5

    def macro(keep):  # keep: (N, C)
        return float(np.mean([roc_auc_score(truth[keep[:, c], c], probability[keep[:, c], c])
                              for c in range(len(CATEGORIES))]))

    one = np.repeat((people == 1)[:, None], 2, axis=1)
    several = np.repeat((people >= 2)[:, None], 2, axis=1)
    unanimous = several & ((scores == 0) | (scores == 1))
    return {"one_person": {"images": int((people == 1).sum()), "roc_auc_macro": macro(one)},
            "two_or_more": {"images": int((people >= 2).sum()), "roc_auc_macro": macro(several)},
            "unanimous": {"images": unanimous.sum(axis=0).tolist(), "roc_auc_macro": macro(unanimous)}}


def _check(folder, rows):
    report = json.loads((folder / "metrics.json").read_text())
    with open(folder / "predictions.csv", newline="") as handle:
        predictions = list(csv.DictReader(handle))
    expected = _expected(rows, predictions)
    got = report["by_label_certainty"]
    assert set(got) == set(expected)
    for group, value in expected.items():
        assert got[group]["images"] == value["images"], group
        assert got[group]["roc_auc_macro"] == pytest.approx(value["roc_auc_macro"], rel=1e-12), group
    assert got["one_person"]["images"] + got["two_or_more"]["images"] == len(predictions) == report["data"]["n_images"]
    assert all(n < got["two_or_more"]["images"] for n in got["unanimous"]["images"])  # the split ones are left out
    text = (folder / "report.md").read_text()
    assert f"| all scored | {len(predictions)} | {report['metrics']['roc_auc_macro']:.4f} |" in text
    assert (f"| labelled by one person | {got['one_person']['images']} | "
            f"{got['one_person']['roc_auc_macro']:.4f} |") in text
    assert "leaves out the ambiguous images" in text
    return report


def test_evaluate_on_stm_data_breaks_roc_auc_down_by_how_many_people_labelled(tmp_path):
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.training import train

    root, rows = _people_labelled(tmp_path)
    run = train({"model": {"name": "texture", "iterations": 15, "min_samples_leaf": 4},
                 "data": {"kind": "stm", "path": str(root), "categories": CATEGORIES,
                          "val_fraction": 0.2, "test_fraction": 0.4},
                 "preprocess": {"input_size": 32}, "seed": 0}, tmp_path / "run")
    evaluate(run, out=tmp_path / "eval")
    report = _check(tmp_path / "eval", rows)
    assert report["data"]["split"] == "test"

    # other data with the people's label table: every image, broken down the same way
    shutil.copytree(root, tmp_path / "copy")
    evaluate(run, data=tmp_path / "copy", split="all", out=tmp_path / "eval_all")
    report = _check(tmp_path / "eval_all", rows)
    assert report["data"]["n_images"] == len(rows)


def test_no_breakdown_without_the_people_s_label_table(tmp_path):
    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.training import train

    root = write_stemsim_arrays(tmp_path / "data", size=32, counts=(30, 8, 12))
    run = train({"model": {"name": "texture", "iterations": 10, "min_samples_leaf": 4},
                 "data": {"kind": "stemsim", "path": str(root)}, "preprocess": {"input_size": 32}, "seed": 0},
                tmp_path / "run")
    report = evaluate(run, out=tmp_path / "eval")
    assert "by_label_certainty" not in report
    assert "by_label_certainty" not in json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert "how sure the labels are" not in (tmp_path / "eval" / "report.md").read_text()
    # an STM data section whose folder has no labels.csv, or a table that does not name the images: left out
    probabilities = np.full((2, 2), 0.5)
    assert label_certainty({"kind": "stm", "path": str(tmp_path)}, ["a", "b"], probabilities, CATEGORIES) is None
    stm, _ = _people_labelled(tmp_path, n=4)
    assert label_certainty({"kind": "stm", "path": str(stm)}, ["img_0.png", "other.png"], probabilities,
                           CATEGORIES) is None
    assert label_certainty({"kind": "stm", "path": str(stm)}, ["img_0.png", "img_1.png"], probabilities,
                           CATEGORIES) is not None
