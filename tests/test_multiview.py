"""Multi-view classification: loading objects of several views, late fusion of single-view
models, the multiview CNN, and the train → evaluate → predict --object command line."""

from __future__ import annotations

from conftest_classifiers import run_cli, stripes, write_stemsim_arrays

import csv
import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from stemsim.classifiers.config import load_experiment
from stemsim.classifiers.data import load_dataset, view_files
from stemsim.classifiers.inference import Predictor
from stemsim.classifiers.preprocessing import Preprocessing
from stemsim.classifiers.run import open_run
from stemsim.classifiers.training import image_batches, train
from stemsim.classifiers.views import fuse_views, pool_view_features, pooled_feature_names, view_subsets
from stemsim.errors import InputError

SIZE, VIEWS = 16, 4
COUNTS = {"train": 24, "val": 8, "test": 12}
CLASSES = ("horizontal", "vertical")


# ---- fixtures: the layouts `stemsim generate` writes with views -------------------------


def multiview_objects(n: int, views: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` objects ``(n, views, SIZE, SIZE)`` uint8: every view of an object shows its class's
    stripes (own period and phase per view); labels alternate, shuffled."""
    pool, pool_labels = stripes(2 * n * views, SIZE, seed)  # n·views images of each class
    labels = np.arange(n) % 2
    np.random.default_rng(seed).shuffle(labels)
    by_class = [iter(pool[pool_labels == k]) for k in (0, 1)]
    return np.stack([[next(by_class[k]) for _ in range(views)] for k in labels]), labels.astype(np.int64)


def write_multiview_dataset(root: Path, views: int = VIEWS, seed: int = 0) -> dict[str, tuple]:
    """npz shards ``arrays/{split}-00000.npz`` ((N, V, H, W) images, object ids, ground truth that
    loading ignores) and class folders ``{split}/{label}/{object_id}/view_{k}.png``."""
    (root / "arrays").mkdir(parents=True)
    made, start = {}, 0
    for split, n in COUNTS.items():
        images, labels = multiview_objects(n, views, seed + start)
        ids = np.array([f"{start + i:07d}" for i in range(n)])
        np.savez(root / "arrays" / f"{split}-00000.npz", images=images, labels=labels, classes=np.array(CLASSES),
                 ids=ids, mask=images > 128, thickness=images.astype(np.float32),
                 vertices=np.zeros((n, views, 8, 3), np.float32))
        for obj, label, ident in zip(images, labels, ids):
            folder = root / split / CLASSES[label] / ident
            folder.mkdir(parents=True)
            for k, view in enumerate(obj):
                Image.fromarray(view).save(folder / f"view_{k}.png")
        made[split] = (images, labels, list(ids))
        start += n
    return made


@pytest.fixture(scope="module")
def mv(tmp_path_factory):
    root = tmp_path_factory.mktemp("multiview") / "ds"
    return root, write_multiview_dataset(root)


PRE = Preprocessing(input_size=SIZE)


# ---- loading -------------------------------------------------------------------------------


def test_npz_and_class_folders_load_objects_with_their_views(mv):
    root, made = mv
    arrays = load_dataset({"kind": "stemsim", "path": str(root)}, PRE)
    folders = load_dataset({"kind": "stemsim", "path": str(root), "format": "png"}, PRE)
    assert arrays.views == folders.views == VIEWS and arrays.info["views"] == VIEWS
    assert arrays.info["format"] == "arrays" and folders.info["format"].startswith("class folders")
    for split, (images, labels, ids) in made.items():
        a, f = arrays.splits[split], folders.splits[split]
        assert len(a) == len(f) == COUNTS[split]
        assert a.ids == ids and sorted(f.ids) == ids  # object ids; folders come class by class
        np.testing.assert_array_equal(a.targets.argmax(1), labels)
        for i, ident in enumerate(ids):
            j = f.ids.index(ident)
            assert a.images[i].shape == (VIEWS, SIZE, SIZE, 1)
            # the views of one object stay together, in view order, in both layouts
            np.testing.assert_allclose(a.images[i][..., 0], images[i] / 255, atol=1e-3)
            np.testing.assert_array_equal(f.images[j], a.images[i])
            assert f.targets[j].argmax() == labels[i]
    # quick runs keep whole objects
    few = load_dataset({"kind": "stemsim", "path": str(root), "max_per_split": 5}, PRE, ("test",))
    images, _, ids = made["test"]
    assert len(few.splits["test"]) == 5 and few.views == VIEWS
    for obj, ident in zip(few.splits["test"].images, few.splits["test"].ids):
        np.testing.assert_allclose(obj[..., 0], images[ids.index(ident)] / 255, atol=1e-3)


def test_per_view_form_for_single_view_models(mv):
    root, made = mv
    split = load_dataset({"kind": "stemsim", "path": str(root)}, PRE, ("val",)).per_view().splits["val"]
    images, labels, ids = made["val"]
    assert len(split) == COUNTS["val"] * VIEWS and split.images[0].shape == (SIZE, SIZE, 1)
    assert split.ids[:VIEWS + 1] == [f"{ids[0]}/view_{k}" for k in range(VIEWS)] + [f"{ids[1]}/view_0"]
    np.testing.assert_array_equal(split.targets.argmax(1), np.repeat(labels, VIEWS))
    np.testing.assert_allclose(split.images[VIEWS + 2][..., 0], images[1, 2] / 255, atol=1e-3)


def test_unsplit_folder_of_objects_splits_by_object(tmp_path):
    images, labels = multiview_objects(20, 3, seed=3)
    for i, (obj, label) in enumerate(zip(images, labels)):
        (tmp_path / CLASSES[label] / f"obj{i}").mkdir(parents=True)
        for k, view in enumerate(obj):
            Image.fromarray(view).save(tmp_path / CLASSES[label] / f"obj{i}" / f"view_{k}.png")
    ds = load_dataset({"kind": "folder", "path": str(tmp_path), "val_fraction": 0.2, "test_fraction": 0.2,
                       "split_seed": 0}, PRE)
    assert ds.views == 3 and sum(len(s) for s in ds.splits.values()) == 20
    assert all(obj.shape == (3, SIZE, SIZE, 1) for s in ds.splits.values() for obj in s.images)
    assert sorted(i for s in ds.splits.values() for i in s.ids) == sorted(
        f"{CLASSES[label]}/obj{i}" for i, label in enumerate(labels))


def test_view_files_in_natural_order_one_per_view(tmp_path):
    for k in (0, 1, 2, 10, 11):
        (tmp_path / f"view_{k}.png").write_bytes(b"")
    (tmp_path / "view_0.tif").write_bytes(b"")  # the same view in a second format
    (tmp_path / "notes.txt").write_text("not an image")
    assert [p.name for p in view_files(tmp_path)] == ["view_0.png", "view_1.png", "view_2.png", "view_10.png",
                                                      "view_11.png"]


def test_inconsistent_views_are_one_line_errors(tmp_path):
    root = tmp_path / "ds"
    made = write_multiview_dataset(root)
    images, labels, ids = made["train"]
    np.savez(root / "arrays" / "train-00001.npz", images=images[:2, :3], labels=labels[:2],
             classes=np.array(CLASSES), ids=np.array(["x1", "x2"]))
    with pytest.raises(InputError) as error:
        load_dataset({"kind": "stemsim", "path": str(root)}, PRE, ("train",))
    assert str(error.value) == (f"{root / 'arrays' / 'train-00001.npz'}: 3 views per object, "
                                "the other shards have 4 views per object")
    # class folders: an object with a view missing (the last one read)
    last = [i for i, label in zip(ids, labels) if label == 1][-1]
    (root / "train" / CLASSES[1] / last / "view_3.png").unlink()
    with pytest.raises(InputError, match=rf"^.*/{last}: 3 views, but .* has 4 \(every object needs the same "
                                         r"number of views\)$"):
        load_dataset({"kind": "stemsim", "path": str(root), "format": "png"}, PRE, ("train",))
    (root / "arrays" / "train-00001.npz").unlink()
    # an object in two splits (checked by object id)
    val_images, val_labels, _ = made["val"]
    np.savez(root / "arrays" / "val-00001.npz", images=val_images[:1], labels=val_labels[:1],
             classes=np.array(CLASSES), ids=np.array([ids[0]]))
    with pytest.raises(InputError, match=rf"^data: object '{ids[0]}' is in both the 'train' and 'val' splits$"):
        load_dataset({"kind": "stemsim", "path": str(root)}, PRE, ("train", "val"))
    (root / "arrays" / "val-00001.npz").unlink()
    # a single-view split next to multi-view ones
    test_images, test_labels = stripes(4, SIZE)
    np.savez(root / "arrays" / "test-00000.npz", images=test_images, labels=test_labels,
             classes=np.array(CLASSES), ids=np.array(["a", "b", "c", "d"]))
    with pytest.raises(InputError, match=r"train-00000\.npz: 4 views per object, the other shards have one image "
                                         r"per object$"):
        load_dataset({"kind": "stemsim", "path": str(root)}, PRE)


# ---- preprocessing of objects --------------------------------------------------------------


def test_every_view_gets_its_own_augmentation_and_train_views_subsets():
    view = np.arange(SIZE * SIZE, dtype=np.float16).reshape(SIZE, SIZE, 1) / SIZE**2  # no symmetry
    obj = np.stack([view] * 8)
    pre = Preprocessing(input_size=SIZE, transforms=tuple(range(8)))
    plain = pre.finish_views([obj, obj])
    assert plain.shape == (2, 8, SIZE, SIZE, 1) and np.all(plain == pre.finish([view])[0])
    augmented = pre.finish_views([obj], np.random.default_rng(0))[0]
    assert len({v.tobytes() for v in augmented}) > 2  # views transformed independently
    from stemsim.classifiers.data import Split

    split = Split([obj] * 5, np.eye(2, dtype=np.float32)[[0, 1, 0, 1, 0]], list("abcde"))
    x, y = image_batches(split, pre, split.targets, None, 4, True, 0, train_views=3)[0]
    assert x.shape == (4, 3, SIZE, SIZE, 1) and y.shape == (4, 2)
    x, _ = image_batches(split, pre, split.targets, None, 4, False, 0, train_views=3)[0]
    assert x.shape == (4, 8, SIZE, SIZE, 1)  # validation: every view


# ---- the multiview CNN ---------------------------------------------------------------------


def randomised(model, seed=0):
    """``model`` with random weights (positive BN variances) so that every layer matters."""
    rng = np.random.default_rng(seed)
    model.set_weights([rng.uniform(0.5, 1.5, w.shape) if "variance" in w.path else rng.normal(0, 0.5, w.shape)
                       for w in model.weights])
    return model


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_identical_views_answer_as_the_single_view_network(pooling):
    from stemsim.classifiers.models import build_model
    from stemsim.classifiers.models.multiview import single_view_model

    model = randomised(build_model("multiview", (SIZE, SIZE, 1), 3, "softmax",
                                   {"width": 4, "pooling": pooling, "dropout": 0.3}))
    single = build_model("stemnet", (SIZE, SIZE, 1), 3, "softmax", {"width": 4, "dropout": 0.3})
    single.get_layer("stemnet_backbone").set_weights(model.get_layer("backbone").get_weights())
    single.get_layer("predictions").set_weights(model.get_layer("predictions").get_weights())
    x = np.random.default_rng(1).random((3, SIZE, SIZE, 1), dtype=np.float32)
    expected = np.asarray(single.predict_on_batch(x))
    assert expected.std() > 0.01  # the random weights give distinct answers
    for v in (1, 2, 5):
        got = np.asarray(model.predict_on_batch(np.repeat(x[:, None], v, axis=1)))
        np.testing.assert_allclose(got, expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(single_view_model(model).predict_on_batch(x)), expected, atol=1e-5)


@pytest.mark.parametrize("pooling", ["max", "mean"])
def test_view_order_free_any_number_of_views_and_save_load(pooling, tmp_path):
    import keras

    from stemsim.classifiers.models import build_model

    model = randomised(build_model("multiview", (SIZE, SIZE, 1), 2, "sigmoid", {"width": 4, "pooling": pooling}))
    x = np.random.default_rng(2).random((2, 5, SIZE, SIZE, 1), dtype=np.float32)
    out = np.asarray(model.predict_on_batch(x))
    np.testing.assert_allclose(np.asarray(model.predict_on_batch(x[:, [3, 0, 4, 2, 1]])), out, atol=1e-6)
    answers = [np.asarray(model.predict_on_batch(x[:, :v])) for v in (1, 3, 5)]
    assert all(a.shape == (2, 2) for a in answers) and not np.allclose(answers[0], answers[2])
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", compile=False)
    assert loaded.get_layer("view_pooling").mode == pooling
    np.testing.assert_allclose(np.asarray(loaded.predict_on_batch(x)), out, atol=1e-6)


# ---- late fusion ---------------------------------------------------------------------------


def test_fusion_mean_versus_vote():
    probs = np.array([
        [[0.5, 0.4, 0.1], [0.5, 0.4, 0.1], [0.0, 0.05, 0.95], [0.5, 0.4, 0.1]],   # vote 0 (3 views); mean 0
        [[0.5, 0.4, 0.1], [0.5, 0.4, 0.1], [0.0, 0.05, 0.95], [0.0, 0.05, 0.95]],  # tie 2–2: mean → class 2
        [[0.45, 0.5, 0.05], [0.45, 0.5, 0.05], [1.0, 0.0, 0.0], [1.0, 0.0, 0.0]],  # tie 2–2: mean → class 0
        [[0.4, 0.6, 0.0], [0.4, 0.6, 0.0], [0.4, 0.6, 0.0], [1.0, 0.0, 0.0]],      # vote 1; mean 0.55 → 0
    ])
    mean_p, mean_d = fuse_views(probs, "mean")
    vote_p, vote_d = fuse_views(probs, "vote")
    np.testing.assert_allclose(mean_p, probs.mean(axis=1), atol=1e-7)
    np.testing.assert_allclose(vote_p, mean_p)  # a vote reports the mean probabilities
    assert mean_d.tolist() == [0, 2, 0, 0]
    assert vote_d.tolist() == [0, 2, 0, 1]
    # three views where two weak votes beat one strong view
    weak = np.array([[[0.55, 0.45], [0.55, 0.45], [0.0, 1.0]]])
    assert fuse_views(weak, "mean")[1].tolist() == [1] and fuse_views(weak, "vote")[1].tolist() == [0]
    # multi-label: a category holds when more than half of the views say yes; 2–2 → mean > 0.5
    yes = np.array([[[0.9, 0.9, 0.3, 0.99], [0.9, 0.9, 0.4, 0.4], [0.9, 0.2, 0.6, 0.4], [0.1, 0.4, 0.6, 0.45]]])
    assert fuse_views(yes, "vote", multilabel=True)[1].tolist() == [[True, True, False, False]]
    assert fuse_views(yes, "mean", multilabel=True)[1].tolist() == [[True, True, False, True]]
    with pytest.raises(ValueError, match="fusion must be one of"):
        fuse_views(probs, "median")
    with pytest.raises(InputError, match=r"^evaluation\.fusion: expected one of mean, vote, features, "
                                         r"backprojection, got 'median'$"):
        load_experiment({"model": "stemnet", "data": {"kind": "stemsim", "path": "."},
                         "evaluation": {"fusion": "median"}})


def test_pooled_view_features_ignore_missing_values_and_count_the_views():
    features = np.array([[1.0, np.nan, np.nan], [3.0, 5.0, np.nan], [2.0, np.inf, np.nan]])
    pooled = pool_view_features(features)
    np.testing.assert_array_equal(pooled[:3], [2.0, 5.0, np.nan])   # mean over the views that define it
    np.testing.assert_array_equal(pooled[3:6], [1.0, 5.0, np.nan])  # min
    np.testing.assert_array_equal(pooled[6:9], [3.0, 5.0, np.nan])  # max
    assert pooled[9] == 3 and len(pooled) == len(pooled_feature_names(["a", "b", "c"])) == 10
    assert pooled_feature_names(["a"]) == ["views_mean_a", "views_min_a", "views_max_a", "views_count"]
    np.testing.assert_array_equal(pool_view_features(features[:1])[:3], [1.0, np.nan, np.nan])
    with pytest.raises(ValueError, match=r"per-view features must be \(views >= 1, features\), got shape \(0, 3\)"):
        pool_view_features(features[:0])


def test_view_indices_first_or_spread_over_the_views():
    from stemsim.classifiers.views import curve_counts, view_indices

    assert curve_counts(8) == [1, 2, 4, 8] and curve_counts(3) == [1, 2, 3] and curve_counts(1) == [1]
    assert view_indices(4, 8).tolist() == [0, 1, 2, 3] and view_indices(None, 3).tolist() == [0, 1, 2]
    assert view_indices(4, 8, spread=True).tolist() == [0, 2, 5, 7]  # a ±60° series: -60, -26, 26, 60°
    assert view_indices(2, 8, spread=True).tolist() == [0, 7] and view_indices(1, 8, spread=True).tolist() == [0]
    for available in range(1, 21):
        for count in range(1, available + 1):
            chosen = view_indices(count, available, spread=True)
            # distinct, in order, first and last included, gaps differing by at most one view
            assert len(set(chosen)) == count and list(chosen) == sorted(chosen) and chosen[0] == 0
            assert count == 1 or chosen[-1] == available - 1
            assert count < 3 or np.ptp(np.diff(chosen)) <= 1
    with pytest.raises(InputError, match=r"^--views: the data has 8 view\(s\) per object; cannot use 9$"):
        view_indices(9, 8, spread=True)


def test_view_subsets_are_every_first_k_and_a_random_k():
    subsets = view_subsets(4, np.random.default_rng(0))
    assert [s.tolist() for s in subsets[:4]] == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]]
    assert [len(s) for s in subsets[4:]] == [1, 2, 3, 4]
    assert all(len(set(s.tolist())) == len(s) and (np.diff(s) > 0).all() and s.max() < 4 for s in subsets[4:])
    again = view_subsets(4, np.random.default_rng(0))
    assert all((a == b).all() for a, b in zip(subsets, again))  # the generator decides, nothing global


def experiment(data, model, **extra):
    return {"model": model, "data": {"kind": "stemsim", "path": str(data)}, "preprocess": {"input_size": SIZE},
            "augment": {"hflip": True, "vflip": True},  # rot90 would swap the classes
            "training": {"epochs": 2, "batch_size": 8, "optimizer": {"name": "adam", "learning_rate": 3e-3}},
            "seed": 1, **extra}


def read_predictions(folder: Path) -> tuple[list[str], np.ndarray, list[str]]:
    rows = list(csv.DictReader((folder / "predictions.csv").read_text().splitlines()))
    return [r["id"] for r in rows], np.array([[float(r[f"p_{c}"]) for c in CLASSES] for r in rows]), \
        [r["predicted"] for r in rows]


def test_single_view_model_on_objects_late_fusion(mv, tmp_path):
    from stemsim.classifiers.evaluation import evaluate

    root, made = mv
    run = train(experiment(root, {"name": "stemnet", "width": 4}, evaluation={"fusion": "vote"}), tmp_path / "run")
    info = json.loads((run / "run.json").read_text())
    assert info["views"] == VIEWS and info["train_label_counts"]["n_images"] == COUNTS["train"]  # objects
    assert info["data"]["split_sizes"] == {"train": COUNTS["train"], "val": COUNTS["val"]}

    # the per-view probabilities of the single-view network, computed here view by view
    predictor = Predictor(open_run(run))
    images, labels, ids = made["test"]
    per_view = predictor.outputs([predictor.pre.prepare(v) for obj in images for v in obj]).reshape(-1, VIEWS, 2)

    report = evaluate(run)  # the experiment's evaluation.fusion: vote
    assert report["views"] == {"count": VIEWS, "available": VIEWS, "fusion": "vote"}
    assert report["data"]["n_objects"] == COUNTS["test"] and report["data"]["n_images"] == COUNTS["test"] * VIEWS
    assert report["metrics"]["n_images"] == COUNTS["test"] and np.sum(report["metrics"]["confusion_matrix"]) == 12
    assert "accuracy" in report["constant_baseline"]
    got_ids, got_p, got_label = read_predictions(Path(report["output_dir"]))
    votes = np.stack([np.bincount(obj.argmax(1), minlength=2) for obj in per_view])
    winner = np.argmax(votes + 0.5 * per_view.mean(1), axis=1)
    assert Path(report["output_dir"]).name == "test" and got_ids == ids
    assert got_label == [CLASSES[k] for k in winner]
    np.testing.assert_allclose(got_p, per_view.mean(1), atol=2e-6)
    assert "12 objects × 4 views (of 4), fusion vote" in (Path(report["output_dir"]) / "report.md").read_text()

    report = evaluate(run, fusion="mean", views=2)
    assert report["views"] == {"count": 2, "available": VIEWS, "fusion": "mean"}
    got_ids, got_p, got_label = read_predictions(Path(report["output_dir"]))
    assert Path(report["output_dir"]).name == "test-mean-views2"
    np.testing.assert_allclose(got_p, per_view[:, :2].mean(1), atol=2e-6)
    assert got_label == [CLASSES[k] for k in per_view[:, :2].mean(1).argmax(1)]
    accuracy = np.mean(per_view[:, :2].mean(1).argmax(1) == labels)
    assert report["metrics"]["accuracy"] == pytest.approx(accuracy)
    with pytest.raises(InputError, match=r"^--views: the data has 4 view\(s\) per object; cannot use 5$"):
        evaluate(run, views=5)

    # --spread: K views evenly spread over every object's views (here the first and the last)
    report = evaluate(run, fusion="mean", views=2, spread=True)
    assert report["views"] == {"count": 2, "available": VIEWS, "fusion": "mean", "indices": [0, 3]}
    got_ids, got_p, got_label = read_predictions(Path(report["output_dir"]))
    assert Path(report["output_dir"]).name == "test-mean-views2-spread"
    np.testing.assert_allclose(got_p, per_view[:, [0, 3]].mean(1), atol=2e-6)
    assert "12 objects × 2 views (views 0, 3 of 4), fusion mean" in (Path(report["output_dir"]) / "report.md").read_text()
    with pytest.raises(InputError, match=r"^--spread: needs --views K \(the number of views to spread over each "
                                         r"object's views\)$"):
        evaluate(run, spread=True)


# ---- the multiview CNN from the command line -------------------------------------------------


def save_object(folder: Path, views: np.ndarray) -> Path:
    folder.mkdir(parents=True)
    for k, view in enumerate(views):
        Image.fromarray(view).save(folder / f"view_{k}.png")
    return folder


def test_multiview_train_evaluate_predict_object_cli(mv, tmp_path, capsys):
    root, made = mv
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(experiment(root, {"name": "multiview", "width": 4, "train_views": 3})))
    run = tmp_path / "run"
    code, out, err = run_cli(["train", exp, "--out", run, "--quiet"], capsys)
    assert code == 0, err
    info = json.loads((run / "run.json").read_text())
    assert info["model"] == "multiview" and info["views"] == VIEWS and info["view_pooling"] == "max"
    history = json.loads((run / "history.json").read_text())
    assert history[-1]["accuracy"] >= 0.75  # it learns end to end through the shared backbone (chance: 0.5)

    code, out, err = run_cli(["evaluate", run], capsys)
    assert code == 0, err
    report = json.loads((run / "evaluation" / "test" / "metrics.json").read_text())
    assert report["views"] == {"count": VIEWS, "available": VIEWS, "fusion": "multiview-cnn pooling max"}
    assert report["data"]["n_objects"] == COUNTS["test"] and report["inference"]["objects_per_second"] > 0
    ids, probs, labels = read_predictions(run / "evaluation" / "test")
    assert ids == made["test"][2] and "12 objects × 4 views (multiview-cnn pooling max): accuracy" in out
    code, out, err = run_cli(["evaluate", run, "--fusion", "vote"], capsys)
    assert code == 2 and err == ("stemsim: error: --fusion: a multiview model pools its views itself; "
                                 "late fusion is for single-view models\n")

    # one object, from a folder of its views: the same answer as in the evaluation
    images = made["test"][0]
    folder = save_object(tmp_path / "object", images[0])
    code, out, err = run_cli(["predict", run, "--object", folder], capsys)
    assert code == 0, err
    rows = list(csv.reader(out.splitlines()))
    assert rows[0] == ["file", "label", "p_horizontal", "p_vertical", "pixel_size_nm", "error"] and len(rows) == 2
    assert rows[1][0] == str(folder) and rows[1][1] == labels[0]
    np.testing.assert_allclose([float(p) for p in rows[1][2:4]], probs[0], atol=2e-5)
    two = save_object(tmp_path / "two", images[1][:2])
    code, out, err = run_cli(["predict", run, "--object", two, "--format", "json"], capsys)
    assert code == 0, err
    row = json.loads(out)[0]
    assert row["views"]["count"] == 2 and row["label"] in CLASSES and sum(row["probabilities"].values()) == \
        pytest.approx(1, abs=1e-5)

    # a single image file is a one-view object for the multiview model
    Image.fromarray(images[3][0]).save(tmp_path / "single.png")
    code, out, err = run_cli(["predict", run, tmp_path / "single.png"], capsys)
    assert code == 0, err
    assert list(csv.reader(out.splitlines()))[1][1] in CLASSES

    # an empty folder, views of two sizes: one line each, exit 2
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no image here")
    code, out, err = run_cli(["predict", run, "--object", tmp_path / "empty"], capsys)
    assert code == 2 and err == f"stemsim: error: {tmp_path / 'empty'}: no images (png, jpg, tif) in this folder\n"
    mixed = save_object(tmp_path / "mixed", images[2][:2])
    Image.fromarray(np.zeros((20, 24), np.uint8)).save(mixed / "view_2.png")
    code, out, err = run_cli(["predict", run, "--object", mixed], capsys)
    assert code == 2 and err == (f"stemsim: error: {mixed}: the views of one object must have one size, got "
                                 "16×16: view_0.png, view_1.png; 24×20: view_2.png (width×height)\n")


def test_multiview_model_needs_multiview_data(tmp_path, capsys):
    single = write_stemsim_arrays(tmp_path / "single", size=SIZE, counts=(8, 4, 4))
    exp = tmp_path / "exp.yaml"
    exp.write_text(yaml.safe_dump(experiment(single, {"name": "multiview", "width": 4})))
    code, _, err = run_cli(["train", exp, "--out", tmp_path / "run", "--quiet"], capsys)
    assert code == 2 and err == (f"stemsim: error: model.name: multiview needs multi-view data (several views "
                                 f"per object), but {single.resolve()} holds one image per object\n")
    assert not (tmp_path / "run").exists()
