"""Image reading/preprocessing, dataset loaders, the STM loader and the STM importer."""

from __future__ import annotations

from conftest_classifiers import (STM_ROOT, stm_row, stripes, write_class_folders, write_stemsim_arrays,
                                  write_stm_folder)

import csv

import numpy as np
import pytest
from PIL import Image

from stemsim.classifiers.config import STM_CATEGORIES, load_experiment
from stemsim.classifiers.data import load_dataset, split_groups
from stemsim.classifiers.preprocessing import Preprocessing, dihedral, read_image, to_unit, transform_group
from stemsim.classifiers.stm_data import (binarise, import_original, keep_mask, oversample_repeats, rater_disagreement,
                                  read_stm_table,
                                  score_weights, series_of)
from stemsim.errors import InputError


# ---- reading and preprocessing --------------------------------------------------------


def test_read_image_keeps_bit_depth(tmp_path):
    a16 = (np.arange(64 * 48).reshape(48, 64) * 20).astype(np.uint16)
    Image.fromarray(a16).save(tmp_path / "a.png")
    a8 = (np.arange(30 * 20).reshape(20, 30) % 256).astype(np.uint8)
    Image.fromarray(a8).save(tmp_path / "b.png")
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[..., 1] = 200
    Image.fromarray(rgb).save(tmp_path / "c.jpg", quality=100)
    import tifffile

    f32 = np.linspace(-3, 5, 40 * 40, dtype=np.float32).reshape(40, 40)
    tifffile.imwrite(tmp_path / "d.tif", f32)
    got16, got8 = read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png")
    assert got16.dtype == np.uint16 and np.array_equal(got16, a16)
    assert got8.dtype == np.uint8 and np.array_equal(got8, a8)
    assert read_image(tmp_path / "c.jpg").shape == (10, 12, 3)
    got = read_image(tmp_path / "d.tif")
    assert got.dtype == np.float32 and np.array_equal(got, f32)
    assert to_unit(got16).max() == pytest.approx(a16.max() / 65535)
    assert to_unit(got).min() == 0.0 and to_unit(got).max() == 1.0  # float: min-max


def test_read_image_errors_name_the_file(tmp_path):
    (tmp_path / "x.png").write_text("not an image")
    with pytest.raises(InputError, match=r"x\.png: not a readable image \("):
        read_image(tmp_path / "x.png")
    with pytest.raises(InputError, match=r"gone\.png: not a readable image \(no such file\)"):
        read_image(tmp_path / "gone.png")


def test_transform_group_and_dihedral():
    assert transform_group(False, False, False) == (0,)
    assert len(transform_group(True, False, False)) == 2
    assert len(transform_group(True, True, False)) == 4  # id, h, v, rot180
    assert len(transform_group(False, False, True)) == 4
    assert transform_group(True, False, True) == tuple(range(8))
    x = np.arange(12).reshape(3, 4)
    seen = {dihedral(x, i).tobytes() + bytes(dihedral(x, i).shape) for i in range(8)}
    assert len(seen) == 8
    hv = {dihedral(x, i).tobytes() for i in transform_group(True, True, False)}
    assert hv == {x.tobytes(), x[:, ::-1].tobytes(), x[::-1].tobytes(), x[::-1, ::-1].tobytes()}


def test_afm_preprocessing_crop_resize_and_normalise():
    # 100×200 RGB "AFM" image whose right 30 % is a colour bar of 1.0
    image = np.zeros((100, 200, 3), np.uint8)
    image[:, :140] = 64
    image[:, 140:] = 255
    pre = Preprocessing(input_size=32, channels=3, color="rgb", crop_right=0.3, resize_short=40,
                        normalize="imagenet", random_crop=True, transforms=(0, 4))
    prepared = pre.prepare(image)
    assert prepared.shape == (40, 56, 3)  # 100×140 after the crop, short side → 40
    assert np.allclose(prepared, 64 / 255, atol=2e-3)  # the colour bar is gone
    centre = pre.finish([prepared])
    expected = (64 / 255 - np.array([0.485, 0.456, 0.406])) / np.array([0.229, 0.224, 0.225])
    assert centre.shape == (1, 32, 32, 3) and np.allclose(centre[0], expected, atol=2e-2)
    # random crops move; the centre crop does not
    ramp = np.tile(np.linspace(0, 1, 56, dtype=np.float32), (40, 1))[..., None].repeat(3, axis=2)
    rng = np.random.default_rng(0)
    lefts = {float(pre.finish([ramp], rng)[0, 0, 0, 0]) for _ in range(20)}
    assert len(lefts) > 3
    assert len({float(pre.finish([ramp])[0, 0, 0, 0]) for _ in range(3)}) == 1


def test_gray_preprocessing_resizes_any_size():
    pre = Preprocessing(input_size=16, channels=1)
    for shape in ((8, 8), (40, 25), (16, 16)):
        out = pre.finish([pre.prepare(np.full(shape, 128, np.uint8))])
        assert out.shape == (1, 16, 16, 1) and np.allclose(out, 128 / 255, atol=1e-3)
    three = Preprocessing(input_size=16, channels=3, normalize="inception")
    out = three.finish([three.prepare(np.zeros((20, 20), np.uint8))])
    assert out.shape == (1, 16, 16, 3) and np.allclose(out, -1.0)


# ---- dataset loaders ----------------------------------------------------------------------


def _cfg(data, model="convnet", size=16):
    return load_experiment({"model": model, "data": data, "preprocess": {"input_size": size}})


def _pre(cfg, channels=1):
    return Preprocessing.from_config(cfg, channels)


def test_stemsim_arrays_and_png_layouts(tmp_path):
    root = write_stemsim_arrays(tmp_path / "ds", size=20, counts=(10, 4, 6))
    cfg = _cfg({"kind": "stemsim", "path": str(root)})
    ds = load_dataset(cfg["data"], _pre(cfg))
    assert ds.classes == ["horizontal", "vertical"] and not ds.multilabel
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 10, "val": 4, "test": 6}
    with np.load(root / "arrays" / "test-00000.npz") as shard:
        assert ds.splits["test"].targets.argmax(1).tolist() == shard["labels"].tolist()
        assert ds.splits["test"].ids == shard["ids"].tolist()
    # the same images as PNG class folders give the same data
    for split in ("train", "val", "test"):
        with np.load(root / "arrays" / f"{split}-00000.npz") as shard:
            for image, label, ident in zip(shard["images"], shard["labels"], shard["ids"]):
                folder = tmp_path / "png" / split / ds.classes[label]
                folder.mkdir(parents=True, exist_ok=True)
                Image.fromarray(image).save(folder / f"{ident}.png")
    png_cfg = _cfg({"kind": "stemsim", "path": str(tmp_path / "png")})
    png = load_dataset(png_cfg["data"], _pre(png_cfg))
    order = np.argsort(png.splits["test"].ids)
    assert sorted(png.splits["test"].ids) == sorted(ds.splits["test"].ids)
    np.testing.assert_array_equal(np.stack(png.splits["test"].images)[order],
                                  np.stack(ds.splits["test"].images)[np.argsort(ds.splits["test"].ids)])


def test_stemsim_dataset_problems(tmp_path):
    root = write_stemsim_arrays(tmp_path / "ds", size=12, counts=(4, 2, 2))
    np.savez(root / "arrays" / "val-00000.npz", images=np.zeros((2, 12, 12), np.uint8), labels=np.array([0, 1]),
             classes=np.array(["a", "b"]), ids=np.array(["v0", "v1"]))
    cfg = _cfg({"kind": "stemsim", "path": str(root)})
    with pytest.raises(InputError, match=r"val-00000\.npz: classes \['a', 'b'\] differ"):
        load_dataset(cfg["data"], _pre(cfg))
    np.savez(root / "arrays" / "val-00000.npz", images=np.zeros((2, 12, 12), np.uint8), labels=np.array([0, 1]),
             classes=np.array(["horizontal", "vertical"]), ids=np.array(["train00000", "v1"]))
    with pytest.raises(InputError, match="image 'train00000' is in both"):
        load_dataset(cfg["data"], _pre(cfg))
    np.savez(root / "arrays" / "val-00000.npz", images=np.zeros((2, 12, 12), np.uint8), labels=np.array([0, 1]))
    with pytest.raises(InputError, match=r"val-00000\.npz: missing key\(s\) classes, ids"):
        load_dataset(cfg["data"], _pre(cfg))
    (tmp_path / "empty").mkdir()
    cfg = _cfg({"kind": "stemsim", "path": str(tmp_path / "empty")})
    with pytest.raises(InputError, match="is not a stemsim dataset"):
        load_dataset(cfg["data"], _pre(cfg))


def test_folder_split_is_per_image_and_stratified(tmp_path):
    images, labels = stripes(40, 12, seed=3)
    root = write_class_folders(tmp_path / "f", images, labels)
    # a copy of one image under another name must land in the same split as its original
    Image.fromarray(images[0]).save(root / ("horizontal", "vertical")[labels[0]] / "copy.png")
    cfg = _cfg({"kind": "folder", "path": str(root), "val_fraction": 0.25, "test_fraction": 0.25})
    ds = load_dataset(cfg["data"], _pre(cfg))
    sizes = {k: len(v) for k, v in ds.splits.items()}
    assert sum(sizes.values()) == 41 and sizes["val"] >= 10 and sizes["test"] >= 10
    for split in ds.splits.values():
        assert set(split.targets.argmax(1)) == {0, 1}  # stratified
    where = {i: name for name, s in ds.splits.items() for i in s.ids}
    cls = ("horizontal", "vertical")[labels[0]]
    assert where[f"{cls}/img0000.png"] == where[f"{cls}/copy.png"]
    again = load_dataset(cfg["data"], _pre(cfg))
    assert again.splits["test"].ids == ds.splits["test"].ids  # seeded


def test_split_groups_keeps_groups_together():
    strata = np.array([0] * 10 + [1] * 10)
    groups = [f"g{i // 2}" for i in range(20)]  # pairs
    parts = split_groups(strata, groups, 0.2, 0.2, seed=5)
    assert sorted(np.concatenate(list(parts.values())).tolist()) == list(range(20))
    for idx in parts.values():
        assert all((i ^ 1) in idx for i in idx)  # each pair together


# ---- the STM loader on a made-up table -------------------------------------------------


def test_binarise_is_strictly_above_threshold():
    scores = np.array([[0.5, 0.51, 0.0, 1.0], [0.49, 0.5000001, 0.7, 0.3]])
    assert binarise(scores).tolist() == [[0, 1, 0, 1], [0, 1, 1, 0]]
    assert binarise(scores, 0.6).tolist() == [[0, 0, 0, 1], [0, 0, 1, 0]]


def test_keep_mask_agreement_and_stopped_early():
    table = {"agreement": np.array([1.0, 0.3, 0.5, 0.39, 0.9]), "orig_height": np.array([300, 300, 12, 300, 150]),
             "orig_width": np.array([300, 300, 512, 300, 300])}
    keep, counts = keep_mask(table, min_agreement=0.4, min_height_fraction=0.5)
    assert keep.tolist() == [True, False, False, False, True]
    assert counts == {"dropped_low_agreement": 2, "dropped_stopped_early": 1, "kept": 2}
    keep, _ = keep_mask(table)
    assert keep.all()


def test_score_weights_by_hand():
    scores = np.array([[1.0, 0.0], [0.5, 0.0], [0.5, 1.0], [0.0, 0.0]])
    # category totals 2 and 1: raw weights 0.5, 0.25, 0.25 + 1, then 0 → smallest positive 0.25
    raw = np.array([0.5, 0.25, 1.25, 0.25])
    np.testing.assert_allclose(score_weights(scores), raw / raw.mean(), rtol=1e-6)
    assert score_weights(scores).mean() == pytest.approx(1.0)


def test_oversample_repeats_by_hand():
    targets = np.array([[1, 0], [1, 0], [1, 0], [1, 0], [0, 1], [0, 0], [1, 1]])
    # counts: 5 and 2 → rare category repeated round(5/2) = 2 (banker's rounding of 2.5 → 2)
    assert oversample_repeats(targets, 1).tolist() == [1] * 7
    assert oversample_repeats(targets, 10).tolist() == [1, 1, 1, 1, 2, 1, 2]
    targets = np.array([[1, 0]] * 9 + [[0, 1]])
    assert oversample_repeats(targets, 4).tolist() == [1] * 9 + [4]  # 9× capped at 4


def _made_up_stm(tmp_path, n=40):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (n, 16, 16), dtype=np.uint8)
    images[1] = images[0]  # an identical image under another name
    rows = []
    for i in range(n):
        dimers = [0.0, 0.34, 0.5, 0.67, 1.0][i % 5]
        rows.append(stm_row(f"default_2015_STM--{i // 4}_{i % 4 + 1}.png",
                            {"dimers": dimers, "rows": 1.0 if i % 8 == 0 else 0.0, "bad_blurry": 0.25},
                            height=8 if i == 39 else 300, agreement=0.2 if i == 38 else None))
    return write_stm_folder(tmp_path / "stm", images, rows), images, rows


def test_stm_loader_on_made_up_table(tmp_path):
    root, images, rows = _made_up_stm(tmp_path)
    data = {"kind": "stm", "path": str(root), "categories": ["dimers", "rows", "bad_blurry"], "min_agreement": 0.3,
            "weighting": "score", "oversample_max_repeat": 3, "val_fraction": 0.2, "test_fraction": 0.2}
    cfg = _cfg(data, model="deepdog")
    ds = load_dataset(cfg["data"], _pre(cfg))
    assert ds.multilabel and ds.classes == ["dimers", "rows", "bad_blurry"]
    assert ds.info["dropped_low_agreement"] == 1 and ds.info["dropped_stopped_early"] == 1 and ds.info["kept"] == 38
    by_name = {r["name"]: r for r in rows}
    unique = {ident for split in ds.splits.values() for ident in split.ids}
    assert len(unique) == 38 and rows[38]["name"] not in unique and rows[39]["name"] not in unique
    for split in ds.splits.values():
        for ident, target in zip(split.ids, split.targets):
            r = by_name[ident]
            assert target.tolist() == [float(r["dimers"] > 0.5), float(r["rows"] > 0.5), 0.0]
    where = {i: name for name, s in ds.splits.items() for i in s.ids}
    assert where[rows[0]["name"]] == where[rows[1]["name"]]  # identical pixels stay together
    # weighting and oversampling only inside the training split
    assert ds.splits["val"].weights is None and ds.splits["test"].weights is None
    assert len(set(ds.splits["val"].ids)) == len(ds.splits["val"])
    train = ds.splits["train"]
    assert len(train) > len(set(train.ids)) and train.weights.mean() == pytest.approx(1.0, rel=1e-5)
    # a blurry-only image (dimers 0, rows 0) still gets a positive weight
    assert (train.weights > 0).all()
    assert all(split.soft_targets is None for split in ds.splits.values())
    # targets: score — the training split learns the mean scores; the splits and what is scored stay
    cfg = _cfg({**data, "targets": "score"}, model="deepdog")
    soft = load_dataset(cfg["data"], _pre(cfg))
    assert {n: s.ids for n, s in soft.splits.items()} == {n: s.ids for n, s in ds.splits.items()}
    assert soft.splits["val"].soft_targets is None and soft.splits["test"].soft_targets is None
    train = soft.splits["train"]
    np.testing.assert_array_equal(train.targets, ds.splits["train"].targets)
    np.testing.assert_allclose(train.training_targets(), [[by_name[i]["dimers"], by_name[i]["rows"], 0.25]
                                                          for i in train.ids])
    assert soft.splits["val"].training_targets() is soft.splits["val"].targets
    # the series option keeps whole scan series on one side
    cfg = _cfg({**data, "split_group": "series"}, model="deepdog")
    ds = load_dataset(cfg["data"], _pre(cfg))
    side = {}
    for name, split in ds.splits.items():
        for ident in split.ids:
            assert side.setdefault(series_of(ident), name) == name
    assert series_of("a_b--10_3.png") == "a_b--10"


def test_stm_loader_problems(tmp_path):
    root, images, rows = _made_up_stm(tmp_path)
    text = (root / "labels.csv").read_text().replace(rows[5]["name"], "renamed.png")
    (root / "labels.csv").write_text(text)
    cfg = _cfg({"kind": "stm", "path": str(root)}, model="deepdog")
    with pytest.raises(InputError, match="names differ from"):
        load_dataset(cfg["data"], _pre(cfg))
    (root / "labels.csv").write_text("name,agreement\nx,1\n")
    with pytest.raises(InputError, match=r"labels\.csv: missing column\(s\) n_responses, asymmetries"):
        read_stm_table(root / "labels.csv")


@pytest.mark.skipif(not STM_ROOT.is_dir(), reason="real STM set not present")
def test_real_stm_set_loads_with_documented_shares():
    table = read_stm_table(STM_ROOT / "labels.csv")
    shares = binarise(table["scores"]).mean(axis=0)
    np.testing.assert_allclose(shares, [0.065, 0.075, 0.359, 0.180, 0.136, 0.395], atol=0.001)  # README
    cfg = _cfg({"kind": "stm", "path": str(STM_ROOT)}, model="deepdog", size=128)
    ds = load_dataset(cfg["data"], _pre(cfg))
    assert ds.info["dropped_stopped_early"] == 140 and ds.classes == list(STM_CATEGORIES)
    names = [set(s.ids) for s in ds.splits.values()]
    assert not (names[0] & names[1]) and not (names[0] & names[2]) and not (names[1] & names[2])


def test_rater_disagreement_counts_split_votes_of_two_people(tmp_path):
    rows = [stm_row("a.png", {"dimers": 0.5, "rows": 1.0}, n=2), stm_row("b.png", {"dimers": 1.0}, n=2),
            stm_row("c.png", {"dimers": 0.5}, n=2), stm_row("d.png", {"dimers": 0.5}, n=1),
            stm_row("e.png", {"rows": 0.5}, n=4)]
    root = write_stm_folder(tmp_path / "stm", np.zeros((5, 8, 8), np.uint8), rows)
    stats = rater_disagreement(read_stm_table(root / "labels.csv"))
    assert stats["images"] == 5 and stats["responses"] == {"1": 1, "2": 3, "3+": 1}
    # of the three two-person images, two split on dimers and none on rows (e's 0.5 is four people's)
    assert stats["disagreement"]["dimers"] == pytest.approx(2 / 3) and stats["disagreement"]["rows"] == 0.0
    # dimers: both ticked 1 of 3, split 2 of 3, neither 0: a "yes" is echoed half the time, a "no" never → 0.25;
    # rows: both 1, neither 2, no split: one person predicts the other perfectly; nobody ticked asymmetries: None
    assert stats["person_vs_person"]["dimers"] == pytest.approx(0.25) and stats["person_vs_person"]["rows"] == 1.0
    assert stats["person_vs_person"]["asymmetries"] is None
    # the real set: most images carry one person's labels, and two people often disagree
    real = rater_disagreement(read_stm_table(STM_ROOT / "labels.csv"))
    assert real["responses"] == {"1": 2353, "2": 1558, "3+": 359}
    assert 0.7 < real["person_vs_person"]["dimers"] < 0.85 and 0.7 < real["person_vs_person"]["bad_blurry"] < 0.8
    assert real["disagreement"]["bad_blurry"] == pytest.approx(0.235, abs=0.001)


# ---- the importer from the original public layout ----------------------------------------


def _colour_map(v: np.ndarray) -> np.ndarray:
    v = v.astype(np.int32)
    return np.stack([np.minimum(255, 2 * v), v, np.maximum(0, 2 * v - 255)], axis=-1).astype(np.uint8)


def test_import_original_replica(tmp_path, capsys):
    from conftest_classifiers import run_cli

    rng = np.random.default_rng(2)
    originals = tmp_path / "Images (Flat)"
    originals.mkdir()
    heights = {"a_1.png": rng.integers(0, 256, (40, 40)), "a_2.png": rng.integers(0, 256, (6, 40)),
               "b_1.png": rng.integers(0, 256, (64, 64))}
    for name, v in heights.items():
        Image.fromarray(_colour_map(v)).save(originals / name)
    header = ["Name", "No. Responses", "Asymmetries", "Individual Atoms", "Dimers", "Rows", "Tip Change", "Bad/Blurry"]
    means = {"a_1.png": [0, 0, 1, 0.5, 0, 0], "a_2.png": [0, 0, 0, 0, 0, 1], "b_1.png": [0.25, 0, 0.75, 1, 0, 0],
             "missing.png": [1, 0, 0, 0, 0, 0]}
    with open(tmp_path / "Mean_Score.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for name, m in means.items():
            writer.writerow([name, 4, *m])
    with open(tmp_path / "Agreement_Score.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "No. Responses", *header[2:], "Mean"])
        for name, m in means.items():
            per = [2 * abs(x - 0.5) for x in m]
            writer.writerow([name, 4, *per, 0.123 if name == "b_1.png" else np.mean(per)])

    code, out, err = run_cli(["import-stm", originals, tmp_path / "Mean_Score.csv", "--out", tmp_path / "rebuilt",
                              "--agreement", tmp_path / "Agreement_Score.csv", "--size", "16"], capsys)
    assert code == 0, err
    assert "3 images written" in out and "(1 named in the summary were not found)" in out
    with np.load(tmp_path / "rebuilt" / "images_16.npz") as archive:
        assert archive["names"].tolist() == ["a_1.png", "a_2.png", "b_1.png"]
        # green channel, area-averaged: 64 → 16 is the rounded mean of each 4×4 block
        blocks = heights["b_1.png"].reshape(16, 4, 16, 4).mean(axis=(1, 3))
        np.testing.assert_array_equal(archive["images"][2], np.rint(blocks))
    table = read_stm_table(tmp_path / "rebuilt" / "labels.csv")
    assert table["orig_height"].tolist() == [40, 6, 64] and table["n_responses"].tolist() == [4, 4, 4]
    assert table["scores"][2].tolist() == [0.25, 0, 0.75, 1, 0, 0]
    assert table["agreement"][2] == pytest.approx(0.123)  # taken from the Agreement_Score tab
    assert table["agreement"][0] == pytest.approx(np.mean([1, 1, 1, 0, 1, 1]))
    # the rebuilt folder is a valid data source (the stopped-early scan is dropped by default)
    cfg = _cfg({"kind": "stm", "path": str(tmp_path / "rebuilt"), "val_fraction": 0.34, "test_fraction": 0.0},
               model="deepdog")
    ds = load_dataset(cfg["data"], _pre(cfg))
    assert ds.info["dropped_stopped_early"] == 1 and ds.info["kept"] == 2

    # without --agreement, the agreement is computed from the mean scores
    out2 = import_original(originals, tmp_path / "Mean_Score.csv", tmp_path / "rebuilt2", size=16)
    assert out2["images"] == 3
    assert read_stm_table(tmp_path / "rebuilt2" / "labels.csv")["agreement"][2] == pytest.approx(
        np.mean([0.5, 1, 0.5, 1, 1, 1]))


def test_import_original_problems(tmp_path):
    (tmp_path / "imgs").mkdir()
    (tmp_path / "s.csv").write_text("Name,Dimers\nx.png,1\n")
    with pytest.raises(InputError, match=r"s\.csv: Mean_Score has no column like 'no_responses'"):
        import_original(tmp_path / "imgs", tmp_path / "s.csv", tmp_path / "out")
    (tmp_path / "s.csv").write_text("Name,No. Responses,Asymmetries,Individual Atoms,Dimers,Rows,Tip Change,"
                                    "Bad/Blurry\nx.png,1,0,0,0,0,0,1\n")
    with pytest.raises(InputError, match="none of the 1 images"):
        import_original(tmp_path / "imgs", tmp_path / "s.csv", tmp_path / "out")
    assert not (tmp_path / "out").exists()
    (tmp_path / "s.xlsx").write_bytes(b"PK junk")
    try:
        import openpyxl  # noqa: F401
    except ImportError:
        with pytest.raises(InputError, match=r"reading \.xlsx needs openpyxl .* export the Mean_Score tab as \.csv"):
            import_original(tmp_path / "imgs", tmp_path / "s.xlsx", tmp_path / "out")
    else:
        with pytest.raises(InputError, match="not a readable spreadsheet"):
            import_original(tmp_path / "imgs", tmp_path / "s.xlsx", tmp_path / "out")


def test_label_ceiling_is_the_roc_auc_of_knowing_each_images_tick_probability():
    from scipy import stats

    from stemsim.classifiers.stm_data import label_ceiling

    # asymmetries: half the images are ticked by 10 % of people, half by 90 %; five people label each.
    # rows: people always agree. The ticks are laid out in exactly their expected proportions.
    n, per_level = 5, 4000
    counts = {q: np.rint(per_level * stats.binom.pmf(np.arange(n + 1), n, q)).astype(int) for q in (0.1, 0.9)}
    ticks = np.concatenate([np.repeat(np.arange(n + 1), counts[q]) for q in (0.1, 0.9)])
    agreeing = np.r_[np.zeros(len(ticks) // 2), np.full(len(ticks) - len(ticks) // 2, n)]
    scores = np.zeros((len(ticks), len(STM_CATEGORIES)))
    scores[:, 0], scores[:, STM_CATEGORIES.index("rows")] = ticks / n, agreeing / n
    ceiling = label_ceiling({"n_responses": np.full(len(ticks), n), "scores": scores})
    # a label holds when 3 or more of the 5 tick; a perfect model ranks the 90 % images first
    holds = {q: stats.binom.sf(2, n, q) for q in (0.1, 0.9)}
    positives, negatives = holds[0.1] + holds[0.9], (1 - holds[0.1]) + (1 - holds[0.9])
    expected = (holds[0.9] * (1 - holds[0.1]) + 0.5 * (holds[0.1] * (1 - holds[0.1]) + holds[0.9] * (1 - holds[0.9]))
                ) / (positives * negatives)
    assert ceiling["free"]["per_category"]["asymmetries"]["roc_auc"] == pytest.approx(expected, abs=2e-3)
    assert ceiling["beta"]["per_category"]["asymmetries"]["roc_auc"] < expected  # a beta cannot be two spikes
    assert ceiling["free"]["per_category"]["rows"]["roc_auc"] == pytest.approx(1.0, abs=1e-6)
    assert ceiling["beta"]["per_category"]["rows"]["roc_auc"] > 0.99
    assert ceiling["people_per_image"] == {"5": len(ticks)} and ceiling["threshold"] == 0.5
    assert ceiling["free"]["mean_roc_auc"] == pytest.approx(
        np.mean([v["roc_auc"] for v in ceiling["free"]["per_category"].values()]))
