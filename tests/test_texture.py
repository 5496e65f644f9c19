"""The ``texture`` model: texture features of scanning-probe images + gradient boosting."""

from __future__ import annotations

from conftest_classifiers import grid_scores, run_cli, stm_row, stripes, write_stemsim_arrays, write_stm_folder

import csv
import json

import numpy as np
import pytest
import yaml
from scipy import ndimage

from stemsim.classifiers.run import open_run
from stemsim.classifiers.texture import PerCategory, TextureModel
from stemsim.classifiers.texture_features import TEXTURE_FEATURE_NAMES, texture_features


def feature(values: np.ndarray, name: str) -> float:
    return float(values[TEXTURE_FEATURE_NAMES.index(name)])


def lattice(size: int = 128, period: float = 6.0, seed: int = 0) -> np.ndarray:
    """A square lattice of bright dots with a little noise, intensities in [0, 1]."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[:size, :size] * (2 * np.pi / period)
    image = 0.5 + 0.3 * np.cos(x) * np.cos(y) + rng.normal(0, 0.03, (size, size))
    return np.clip(image, 0, 1)


def test_one_value_per_name_for_any_image_of_32_pixels_or_more():
    assert len(set(TEXTURE_FEATURE_NAMES)) == len(TEXTURE_FEATURE_NAMES) == 251
    for shape in ((128, 128), (100, 140), (32, 32)):
        values = texture_features(np.random.default_rng(1).random(shape))
        assert values.shape == (251,) and np.isfinite(values).all()
    flat = texture_features(np.zeros((64, 64)))  # no contrast: some features are missing, none raise
    assert flat.shape == (251,) and np.isnan(feature(flat, "intensity_skew"))
    for bad in (np.zeros((16, 64)), np.zeros((64, 64, 3))):
        with pytest.raises(ValueError, match="at least 32×32"):
            texture_features(bad)


def test_a_tip_change_mid_scan_is_a_jump_between_rows_where_it_happened():
    clean = lattice()
    changed = clean.copy()
    changed[80:] = ndimage.gaussian_filter(changed[80:], 1.5) * 0.7 + 0.25  # blunter tip from row 80 on
    before, after = texture_features(clean), texture_features(changed)
    assert feature(after, "scan_row_jump_max") > 5 * feature(before, "scan_row_jump_max")
    assert abs(feature(after, "scan_best_split_row_fraction") - 80 / 128) <= 6 / 128  # candidates every 4 rows
    for sharper_above in ("scan_band_sharpness_log_ratio", "sharpness_band_log_ratio"):
        assert feature(after, sharper_above) > feature(before, sharper_above) + 1.0


def test_blobs_are_counted_at_their_scale_and_stripes_show_their_direction():
    rng = np.random.default_rng(2)
    y, x = np.mgrid[:128, :128]
    image = np.full((128, 128), 0.3) + rng.normal(0, 0.005, (128, 128))
    centres = [(r, c) for r in range(12, 120, 24) for c in range(12, 120, 24)]  # 25, well apart
    for r, c in centres:
        image += 0.4 * np.exp(-((y - r) ** 2 + (x - c) ** 2) / (2 * 1.5 ** 2))
    values = texture_features(image)
    assert feature(values, "blob_s1.5_over_2.0") == len(centres)

    along_rows = np.clip(0.5 + 0.3 * np.sin(2 * np.pi * y / 8.0), 0, 1)  # height changes from row to row
    along_columns = along_rows.T
    rows, columns = texture_features(along_rows), texture_features(along_columns)
    assert feature(rows, "gradient_log_ratio") < -3 < 3 < feature(columns, "gradient_log_ratio")
    # period 8 px of 128: the spectrum's power sits at radius 16, in a different angle bin for each
    radial = int(np.log2(16) / np.log2(64) * 16)
    def angles(v):
        return [feature(v, f"spectrum_r{radial:02d}_a{a}") for a in range(4)]
    assert np.argmax(angles(rows)) != np.argmax(angles(columns))
    assert feature(rows, f"spectrum_anisotropy_{radial:02d}") > 3.5


def test_per_category_boosting_holds_a_constant_for_a_category_without_both_answers():
    from sklearn.ensemble import HistGradientBoostingClassifier

    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 3))
    targets = np.stack([(x[:, 0] > 0), np.zeros(80, bool), np.ones(80, bool)], axis=1).astype(np.float32)
    model = PerCategory(HistGradientBoostingClassifier(max_iter=20, min_samples_leaf=5), 3).fit(x, targets)
    p = model.predict_proba(x)
    assert p.shape == (80, 3) and (p[:, 1] == 0).all() and (p[:, 2] == 1).all()
    assert np.mean((p[:, 0] > 0.5) == (x[:, 0] > 0)) > 0.95
    stages = list(model.staged_predict_proba(x))
    assert len(stages) == 20
    np.testing.assert_allclose(stages[-1], p)


def test_a_model_file_written_before_the_packages_moved_under_stemsim_still_loads(tmp_path):
    """0.1 installed `classifiers` at the top level: its skops files name classifiers.texture."""
    import zipfile

    from sklearn.ensemble import HistGradientBoostingClassifier

    from stemsim.classifiers.model_files import read_estimator_file, write_estimator_file

    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 2))
    model = PerCategory(HistGradientBoostingClassifier(max_iter=5), 1).fit(x, (x[:, :1] > 0).astype(np.float32))
    current = tmp_path / "model.skops"
    write_estimator_file(current, model, ["a", "b"])
    old = tmp_path / "old.skops"
    with zipfile.ZipFile(current) as source, zipfile.ZipFile(old, "w", zipfile.ZIP_DEFLATED) as target:
        for member in source.infolist():
            data = source.read(member)
            if member.filename == "schema.json":
                assert b'"stemsim.classifiers.texture"' in data
                data = data.replace(b'"stemsim.classifiers.texture"', b'"classifiers.texture"')
            target.writestr(member, data)
    loaded = read_estimator_file(old, ["a", "b"])["estimator"]
    np.testing.assert_array_equal(loaded.predict_proba(x), model.predict_proba(x))


def test_per_category_boosting_on_soft_targets_learns_the_fraction_of_people_who_ticked():
    from sklearn.ensemble import HistGradientBoostingClassifier

    # the feature says how likely a person is to tick the category: 0, 1/3, 2/3 or 1 of three did
    rng = np.random.default_rng(0)
    level = rng.integers(0, 4, 4000)
    x = (level + rng.uniform(-0.3, 0.3, 4000))[:, None]
    soft = (level / 3).astype(np.float32)[:, None]
    booster = HistGradientBoostingClassifier(max_iter=60, learning_rate=0.1, min_samples_leaf=20)
    p_soft = PerCategory(booster, 1).fit(x, soft).predict_proba(x)[:, 0]
    p_hard = PerCategory(booster, 1).fit(x, (soft > 0.5).astype(np.float32)).predict_proba(x)[:, 0]
    for k in range(4):
        assert p_soft[level == k].mean() == pytest.approx(k / 3, abs=0.03)
    # the binarised labels lose what 1/3 and 2/3 say: both collapse onto their side of 0.5
    assert p_hard[level == 1].mean() < 0.03 and p_hard[level == 2].mean() > 0.97
    # a sample weight multiplies both halves of a soft item: weighting the 2/3 items up raises nothing
    weight = np.where(level == 2, 5.0, 1.0)
    p_weighted = PerCategory(booster, 1).fit(x, soft, sample_weight=weight).predict_proba(x)[:, 0]
    assert p_weighted[level == 2].mean() == pytest.approx(2 / 3, abs=0.03)
    # soft targets that are 0 for every item are still the constant 0
    assert (PerCategory(booster, 1).fit(x, np.zeros_like(soft)).predict_proba(x) == 0).all()


def test_texture_run_on_multi_label_stm_data_trains_evaluates_and_reloads(tmp_path, capsys):
    from stemsim.classifiers.model_files import load_file, write_estimator_file

    images, scores = grid_scores(120, 64, seed=3)
    rows = [stm_row(f"img_{i}.png", {"rows": s[0], "dimers": s[1]}) for i, s in enumerate(scores)]
    root = write_stm_folder(tmp_path / "stm", images, rows)
    exp = {"model": {"name": "texture", "iterations": 40, "min_samples_leaf": 5},
           "data": {"kind": "stm", "path": str(root), "categories": ["dimers", "rows"],
                    "val_fraction": 0.2, "test_fraction": 0.3},
           "preprocess": {"input_size": 64}, "seed": 1}
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    run = tmp_path / "run"
    code, out, err = run_cli(["train", tmp_path / "exp.yaml", "--out", run, "-q"], capsys)
    assert code == 0, err
    info = json.loads((run / "run.json").read_text())
    assert info["pipeline"] == "texture" and info["multilabel"] and info["classes"] == ["dimers", "rows"]
    assert info["weights"] == "none (scikit-learn HistGradientBoostingClassifier on texture features)"
    assert info["features"]["names"] == list(TEXTURE_FEATURE_NAMES) and info["features"]["per_category"]
    history = json.loads((run / "history.json").read_text())
    assert len(history) == 40 and history[-1]["loss"] < history[0]["loss"]

    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0, err
    report = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    assert report["metrics"]["roc_auc_macro"] > 0.95
    predictions = {r["id"]: r for r in csv.DictReader((run / "evaluation" / "test" / "predictions.csv").open())}

    # the saved estimator on features recomputed image by image gives the evaluation's numbers
    saved = load_file(run / "model.skops")
    assert saved["side"] == 64 and saved["feature_names"] == list(TEXTURE_FEATURE_NAMES)
    prepare = open_run(run).preprocessing().prepare
    by_name = {r["name"]: i for i, r in enumerate(rows)}
    ids = sorted(predictions)
    features = np.array([texture_features(prepare(images[by_name[i]])[..., 0]) for i in ids])
    np.testing.assert_allclose(saved["estimator"].predict_proba(features),
                               [[float(predictions[i]["p_dimers"]), float(predictions[i]["p_rows"])] for i in ids],
                               atol=1e-5)

    # a model file of other features is refused with one line, exit 2
    write_estimator_file(run / "model.skops", saved["estimator"], saved["feature_names"][:-1],
                         classes=saved["classes"], side=saved["side"])
    code, out, err = run_cli(["evaluate", run, "--out", tmp_path / "again"], capsys)
    assert code == 2 and err.strip().splitlines()[-1] == (
        f"stemsim: error: {run / 'model.skops'}: trained on other features than this version computes "
        "(the feature names changed); train the run again")
    assert not (tmp_path / "again").exists()


def test_texture_run_on_single_label_data_is_one_multi_class_classifier(tmp_path):
    from sklearn.ensemble import HistGradientBoostingClassifier

    from stemsim.classifiers.evaluation import evaluate
    from stemsim.classifiers.training import train

    root = write_stemsim_arrays(tmp_path / "data", size=32, counts=(40, 12, 20))
    run = train({"model": {"name": "texture", "iterations": 20, "min_samples_leaf": 4},
                 "data": {"kind": "stemsim", "path": str(root)}, "preprocess": {"input_size": 32}, "seed": 0},
                tmp_path / "run")
    model = TextureModel.load(run / "model.skops")
    assert isinstance(model.estimator, HistGradientBoostingClassifier) and model.classes == ["horizontal", "vertical"]
    images, labels = stripes(10, 32, seed=9)
    p = model.predict_proba([im[..., None] / 255.0 for im in images])
    assert p.shape == (10, 2) and np.mean(p.argmax(1) == labels) >= 0.9
    report = evaluate(run, out=tmp_path / "eval")
    assert report["metrics"]["accuracy"] >= 0.9


def test_bench_scores_stm_models_by_how_sure_the_labels_are(tmp_path):
    from stemsim.benchmarks.sections.labels import _certainty_lines, roc_auc_by_label_certainty

    people = [1, 1, 1, 1, 2, 2, 3, 3]
    rows_score = [1, 0, 1, 0, 1, 0.5, 1, 0]  # image 5: two people split on it (label: not rows)
    p_rows = [0.9, 0.1, 0.8, 0.2, 0.7, 0.9, 0.6, 0.1]
    names = [f"img_{i}.png" for i in range(8)]
    root = write_stm_folder(tmp_path / "stm", np.zeros((8, 32, 32), np.uint8),
                            [stm_row(name, {"rows": s}, n=n) for name, s, n in zip(names, rows_score, people)])
    predictions = tmp_path / "predictions.csv"
    predictions.write_text("id,true,predicted,p_rows\n" + "".join(f"{name},,,{p}\n" for name, p in zip(names, p_rows)))
    groups = roc_auc_by_label_certainty({"data": {"kind": "stm", "path": str(root), "threshold": 0.5}}, predictions)
    # one person: perfectly ranked; two or more: the split image (0.9) outranks both positives (0.7, 0.6): 2 of 4
    # pairs right; unanimous: without the split image, perfectly ranked again
    assert groups == {"one_person": {"images": 4, "roc_auc_macro": 1.0},
                      "two_or_more": {"images": 4, "roc_auc_macro": 0.5},
                      "unanimous": {"images": [3], "roc_auc_macro": 1.0}}
    assert roc_auc_by_label_certainty({"data": {"kind": "stemsim", "path": str(root)}}, predictions) is None
    lines = _certainty_lines({"models": [{"name": "texture-gbm", "metrics": {"roc_auc_macro": 0.75},
                                          "by_label_certainty": groups}]})
    assert "| texture-gbm | 0.750 | 1.000 | 0.500 | 1.000 |" in lines
    assert "| (test images) | | 4 | 4 | 3–3 per category |" in lines
