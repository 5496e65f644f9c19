"""stemsim bench: dataset → training → evaluation → report, on a tiny task."""

import json

import pytest
import yaml

from cli_runner import run

SPEC = {
    "name": "bench-tiny", "seed": 3, "image": {"size": 32, "pixel_size": 0.6}, "label": "shape",
    "classes": {"values": ["cuboid", "sphere"], "per_class": 24},
    "object": {"size": {"uniform": [8, 11]}}, "microscope": {"dose": None},
    "output": {"formats": ["png", "npz"], "shard_size": 16},
}
BENCH = {
    "name": "tiny", "title": "Cuboid or sphere (tiny)", "dataset": {"spec": "spec.yaml"}, "seed": 1,
    "prior": {"metric": "accuracy", "value": 0.5, "note": "a coin"},
    "target": {"metric": "accuracy", "value": 0.6, "minutes": 60},
    "models": [{"name": "rw", "experiment": {"model": {"name": "rashidi_wolkow"}, "preprocess": {"input_size": 32},
                                             "training": {"epochs": 4, "batch_size": 8,
                                                          "optimizer": {"learning_rate": 1e-3}}}},
               {"name": "two-stage", "experiment": {"model": {"name": "two_stage", "min_samples_leaf": 4,
                                                              "unet_epochs": 1, "unet_depth": 2, "unet_images": 16,
                                                              "unet_val_images": 4}}},
               # Weights that are not there (offline here): the row says so instead of faking one.
               {"name": "inception", "experiment": {"model": {"name": "inception_v3",
                                                              "weights": "missing/inception_v3_notop.h5"}}}],
}



@pytest.fixture(scope="module")
def bench_out(tmp_path_factory):
    base = tmp_path_factory.mktemp("bench")
    (base / "spec.yaml").write_text(yaml.safe_dump(SPEC))
    (base / "bench.yaml").write_text(yaml.safe_dump(BENCH))
    assert run("bench", base / "bench.yaml", "--out", base / "report", "--datasets", base / "datasets") == 0
    return base


def test_report_files_and_numbers(bench_out):
    from stemsim.benchmarks.report import markdown
    from stemsim.benchmarks.runner import processor

    out = bench_out / "report"
    results = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in results["models"]] == ["rw", "two-stage"]
    row = results["models"][0]
    assert row["weights"] and row["metrics"]["n_images"] == 4  # 2 classes × round(24 × 0.1)
    assert 0 <= row["metrics"]["accuracy"] <= 1
    assert row["baseline"]["accuracy"] == pytest.approx(0.5)
    assert row["processor"] == results["environment"]["processor"] == processor() != ""
    # always one of 2 balanced classes: F1 2/3 on it, 0 on the other
    assert row["baseline"]["macro_f1"] == pytest.approx(1 / 3) and 0 <= row["metrics"]["macro_f1"] <= 1
    assert "predicts" in row["baseline"] and results["bench"]["prior"]["note"] == "a coin"
    assert row["baseline"]["balanced_accuracy"] == pytest.approx(0.5)
    assert [s["name"] for s in results["skipped"]] == ["inception"]
    assert results["skipped"][0]["reason"].startswith("model.weights:")
    target = results["analyses"]["target"]["first"]
    assert (target["metric"], target["target"]) == ("accuracy", 0.6)
    assert target["achieved"] == max(r["metrics"]["accuracy"] for r in results["models"])
    assert target["reached"] == (target["achieved"] >= 0.6)
    assert all(r["evaluation_seconds"] > 0 for r in results["models"])
    time = results["analyses"]["time"]
    assert time["models"] == 2 and time["timed"] == 2 and time["budget_minutes"] == 60
    assert time["training_minutes"] + time["evaluation_minutes"] <= 60
    # the report is rendered from results.json alone: the same text again
    assert markdown(results) == (out / "report.md").read_text()
    # the two-stage model's maps are scored against the ground truth, in a table and a figure
    maps = results["models"][1]["maps"]
    assert maps["n_images"] == 4 and 0 <= maps["mask_iou"]["mean"] <= 1
    for name in ("samples.png", "confusion/rw.png", "curves/rw.png", "results.csv", "maps/two-stage.png"):
        assert (out / name).is_file(), name
    assert (out / "results.csv").read_text().splitlines()[0].startswith("model,architecture,weights,accuracy")


def test_rerun_reuses_dataset_and_runs_and_gives_the_same_numbers(bench_out):
    first = json.loads((bench_out / "report" / "results.json").read_text())
    assert run("bench", bench_out / "bench.yaml", "--out", bench_out / "report",
               "--datasets", bench_out / "datasets") == 0
    second = json.loads((bench_out / "report" / "results.json").read_text())
    assert second["models"][0]["reused"] is True
    assert second["models"][0]["metrics"] == first["models"][0]["metrics"]
    assert len(list((bench_out / "datasets").iterdir())) == 1


def test_models_option_reruns_one_model_and_keeps_the_others_with_their_commands(bench_out, tmp_path):
    import shutil

    out = tmp_path / "report"
    shutil.copytree(bench_out / "report", out)  # with runs/: the rerun model is reused, not trained
    first = json.loads((out / "results.json").read_text())
    assert run("bench", bench_out / "bench.yaml", "--out", out, "--datasets", bench_out / "datasets",
               "--models", "two-stage") == 0
    second = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in second["models"]] == ["rw", "two-stage"]
    assert second["models"][0]["metrics"] == first["models"][0]["metrics"]
    assert second["models"][0]["command"] == first["command"]
    assert second["models"][1]["command"] == second["command"] and second["command"].count("--models two-stage")
    assert [s["name"] for s in second["skipped"]] == ["inception"]
    assert second["commands"] == [first["command"], second["command"]]
    # another bench's results in the folder are not mixed in
    earlier = json.loads((out / "results.json").read_text())
    earlier["bench"]["name"] = "other"
    (out / "results.json").write_text(json.dumps(earlier))
    assert run("bench", bench_out / "bench.yaml", "--out", out, "--datasets", bench_out / "datasets",
               "--models", "rw") == 0
    third = json.loads((out / "results.json").read_text())
    assert [m["name"] for m in third["models"]] == ["rw"] and third["skipped"] == []
    # the models this partial run left out are named in its report
    assert third["bench"]["model_names"] == ["rw", "two-stage", "inception"]
    assert [n for n in third["bench"]["model_names"] if n not in {r["name"] for r in third["models"]}] == [
        "two-stage", "inception"]


@pytest.mark.parametrize("views, message", [
    ({"counts": [1, 0]}, "views.counts: expected a list of view counts >= 1, got [1, 0]"),
    ({"counts": [1, 2], "fusion": ["median"]},
     "views.fusion: expected a list from mean, vote, features, backprojection, got ['median']"),
    ([1, 2], "views: expected {counts: [K, ...], fusion: [mean, vote, features], spread: true|false}"),
    ({"counts": [1, 2], "spread": "yes"}, "views.spread: expected true or false, got 'yes'"),
])
def test_bad_views_section_exits_2(views, message, tmp_path, capsys):
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BENCH, "views": views}))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == f"stemsim: error: {message}"
    assert not (tmp_path / "r").exists()


def test_report_only_rewrites_the_report_under_the_bench_file_as_it_is_now(bench_out, tmp_path, capsys):
    import shutil

    from stemsim.benchmarks.report import markdown

    out = tmp_path / "report"
    shutil.copytree(bench_out / "report", out, ignore=shutil.ignore_patterns("runs"))  # no runs needed
    first = json.loads((out / "results.json").read_text())
    changed = {**BENCH, "target": {"metric": "accuracy", "value": 0.01}, "title": "Renamed", "note": "Read me first."}
    (bench_out / "changed.yaml").write_text(yaml.safe_dump(changed))
    # the ideal observer's results beside the report are cited in it (stemsim.benchmarks.observer writes them)
    (out / "observer").mkdir()
    (out / "observer" / "results.json").write_text(json.dumps(
        {"n_objects": 7, "subsets": [{"views": 1, "selection": "first", "accuracy_bound": 0.9987, "indices": [0]}]}))
    assert run("bench", bench_out / "changed.yaml", "--out", out, "--report-only") == 0
    second = json.loads((out / "results.json").read_text())
    assert second["models"] == first["models"] and second["command"] == first["command"]
    assert second["bench"]["target"] == {"metric": "accuracy", "value": 0.01}
    assert second["observer"] == {"file": "observer/results.md", "n_objects": 7,
                                  "bounds": [{"views": 1, "selection": "first", "accuracy_bound": 0.9987}]}
    assert (second["bench"]["title"], second["bench"]["note"]) == ("Renamed", "Read me first.")
    target = second["analyses"]["target"]["first"]
    assert target["target"] == 0.01 and target["reached"] is True
    assert markdown(second) == (out / "report.md").read_text()  # the report is results.json's, re-rendered
    assert not (out / "runs").exists()  # nothing trained
    capsys.readouterr()
    # nothing to report, another bench's results, or options that would train
    assert run("bench", bench_out / "changed.yaml", "--out", tmp_path / "empty", "--report-only") == 2
    assert capsys.readouterr().err.strip() == (f"stemsim: error: {tmp_path / 'empty' / 'results.json'}: "
                                               "no results to report (run the bench first)")
    (bench_out / "other.yaml").write_text(yaml.safe_dump({**BENCH, "name": "other"}))
    assert run("bench", bench_out / "other.yaml", "--out", out, "--report-only") == 2
    assert capsys.readouterr().err.strip() == (f"stemsim: error: {out / 'results.json'}: results of bench 'tiny' "
                                               "(default), not of 'other' (default)")
    assert run("bench", bench_out / "changed.yaml", "--out", out, "--report-only", "--models", "rw") == 2
    assert capsys.readouterr().err.strip() == ("stemsim: error: --report-only: trains nothing, so it takes no "
                                               "--models or --datasets")
    assert json.loads((out / "results.json").read_text()) == second
    # a model taken off the bench file leaves the report with it
    assert (out / "confusion" / "rw.png").is_file()
    (bench_out / "fewer.yaml").write_text(yaml.safe_dump({**changed, "models": BENCH["models"][1:]}))
    assert run("bench", bench_out / "fewer.yaml", "--out", out, "--report-only") == 0
    third = json.loads((out / "results.json").read_text())
    assert [r["name"] for r in third["models"]] == ["two-stage"] and third["models"][0] == second["models"][1]
    assert [r["name"] for r in third["skipped"]] == ["inception"]
    assert not (out / "confusion" / "rw.png").exists() and not (out / "curves" / "rw.png").exists()
    assert (out / "confusion" / "two-stage.png").is_file() and (out / "maps" / "two-stage.png").is_file()


def test_target_with_views_is_read_from_the_curves_at_that_many_views(tmp_path, capsys):
    from stemsim.benchmarks.sections.target import target_line, target_outcome

    def curve(fusion, values):
        return {"fusion": fusion, "points": [{"views": k, "accuracy": v} for k, v in zip((1, 4, 8), values)]}

    results = {"bench": {"target": {"metric": "accuracy", "value": 0.9, "views": 4}},
               "models": [{"name": "a", "metrics": {"accuracy": 0.99}, "by_views": [curve("mean", [0.5, 0.85, 0.99]),
                                                                                   curve("vote", [0.5, 0.88, 0.97])]},
                          {"name": "b", "metrics": {"accuracy": 0.95}, "by_views": [curve("mean", [0.6, 0.8, 0.95])]}]}
    assert target_outcome(results) == {"metric": "accuracy", "target": 0.9, "where": " with 4 views",
                                       "best": "a (vote)", "achieved": 0.88, "reached": False}
    # with the number of test objects, the outcome says how far they let the target be judged
    for point in results["models"][0]["by_views"][1]["points"]:
        point["n_objects"] = 100
    interval = target_outcome(results)["interval"]
    z, p, n = 1.959964, 0.88, 100  # Wilson: (p + z²/2n ± z √(p(1−p)/n + z²/4n²)) / (1 + z²/n)
    centre, half = p + z * z / (2 * n), z * (p * (1 - p) / n + z * z / (4 * n * n)) ** 0.5
    assert interval["low"] == pytest.approx((centre - half) / (1 + z * z / n), abs=1e-3)
    assert interval["high"] == pytest.approx((centre + half) / (1 + z * z / n), abs=1e-3)
    assert interval["n"] == 100 and interval["level"] == 0.95
    # curves of views spread over each object are read apart from the first-K ones
    spread = {**curve("mean", [0.5, 0.93, 0.99]), "selection": "spread"}
    results["models"][1]["by_views"].append(spread)
    assert target_outcome(results)["achieved"] == 0.88
    assert target_outcome(results, "spread") == {"metric": "accuracy", "target": 0.9, "best": "b (mean)",
                                                 "where": " with 4 views spread over each object's views",
                                                 "achieved": 0.93, "reached": True}
    assert target_line(results).startswith("Target: accuracy ≥ 90.0 % with 4 views: NOT reached (best: a (vote), "
                                           "88.0 %; 95 % interval")
    assert target_line(results).endswith("The same target: accuracy ≥ 90.0 % with 4 views spread over each "
                                         "object's views: reached (best: b (mean), 93.0 %).")
    del results["bench"]["target"]["views"]  # without views: the evaluation of all views
    assert target_outcome(results)["best"] == "a" and target_outcome(results)["reached"]
    # a target at a view count the bench does not evaluate
    bench = {**BENCH, "views": {"counts": [1, 2]}, "target": {"metric": "accuracy", "value": 0.9, "views": 4}}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(bench))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == "stemsim: error: target.views: 4 is not one of the bench's views.counts"
    assert not (tmp_path / "r").exists()


def test_family_line_compares_the_family_with_its_single_members():
    from stemsim.benchmarks.sections.family import family_lines

    def row(name, model, auc, balanced, **extra):
        return {"name": name, "model": model, **extra,
                "metrics": {"roc_auc_macro": auc, "mean_category_balanced_accuracy": balanced}}

    family = row("fam", "family", 0.90, 0.80, family={"member": "deepdog", "group_size": 3})
    results = {"models": [row("dd", "deepdog", 0.87, 0.75), row("vgg", "vgg_like", 0.95, 0.9), family]}
    assert family_lines(results) == ["Family: fam (3 deepdog members per category, majority vote) scores mean ROC AUC "
                                     "0.900 and mean balanced accuracy 80.0 %, against dd's 0.870 and 75.0 %: it "
                                     "beats its single member on both."]
    family["family"]["members"] = {"mean_member_roc_auc": 0.84, "unanimous": 0.93}
    assert family_lines(results)[0].endswith("beats its single member on both. Its members on their own (one-vs-rest, "
                                             "each with its own initialisation) score mean ROC AUC 0.840, and a "
                                             "category's 3 members vote alike on 93.0 % of the test images: a vote "
                                             "adds what its members disagree on.")
    del family["family"]["members"]
    results["models"][0]["metrics"]["mean_category_balanced_accuracy"] = 0.81  # the single: better balanced acc.
    assert family_lines(results)[0].endswith("against dd's 0.870 and 81.0 %: it does NOT beat its single member: "
                                             "higher on ROC AUC only.")
    results["models"][0]["metrics"]["roc_auc_macro"] = 0.91
    assert family_lines(results)[0].endswith("against dd's 0.910 and 81.0 %: it does NOT beat its single member: "
                                             "higher on neither.")
    # a single that learnt other targets (the people's mean scores) is not the family's member
    results["models"].insert(1, row("dd-soft", "deepdog", 0.99, 0.99, targets="score"))
    assert family_lines(results)[0].endswith("against dd's 0.910 and 81.0 %: it does NOT beat its single member: "
                                             "higher on neither.")
    family["targets"] = "score"
    assert family_lines(results)[0].endswith("against dd-soft's 0.990 and 99.0 %: it does NOT beat its single member: "
                                             "higher on neither.")
    results["models"].pop(1)  # no single model of its member architecture learnt its targets: nothing to compare
    assert family_lines(results) == []


def test_observer_line_reads_the_bound_at_one_view_and_at_the_targets_views():
    from stemsim.benchmarks.sections.bound import observer_line

    bounds = [{"views": k, "selection": sel, "accuracy_bound": b}
              for k, sel, b in [(1, "first", 0.91), (2, "first", 0.95), (4, "first", 0.99), (4, "spread", 0.995)]]
    curve = {"fusion": "mean", "selection": "first", "points": [{"views": 4, "accuracy": 0.9, "n_objects": 50}]}
    results = {"bench": {"target": {"metric": "accuracy", "value": 0.97, "views": 4}},
               "models": [{"name": "m", "metrics": {}, "by_views": [curve]}],
               "observer": {"file": "observer/results.md", "n_objects": 50, "bounds": bounds}}
    assert observer_line(results) == (
        "Shot noise alone allows an accuracy up to 91.00 % with 1 view, 99.00 % with 4 first views, 99.50 % with 4 "
        "spread views: the ideal observer, told everything the simulator drew but the label, on 50 test objects "
        "(`observer/results.md`). The dose hides no label: the gap to the target is in the models, which must also "
        "find the orientation, size and cut depth the observer is told.")
    bounds[2]["accuracy_bound"] = 0.96  # the bound at the target's views is below it: the dose is the limit
    assert observer_line(results).endswith("(`observer/results.md`). The bound is below the target: at this dose the "
                                           "images hide the label of some objects, and no classifier reaches it.")
    bounds[2]["accuracy_bound"] = 0.99
    curve["points"][0]["accuracy"] = 0.98  # reached: nothing to explain
    assert observer_line(results).endswith("on 50 test objects (`observer/results.md`).")
    del results["observer"]
    assert observer_line(results) == ""


def test_ceiling_lines_set_the_best_model_beside_what_the_labels_allow():
    from stemsim.benchmarks.sections.labels import _ceiling_lines, ceiling_line

    def fit(values, mean):
        return {"per_category": {c: {"roc_auc": v, "log_likelihood": -100.0} for c, v in values.items()},
                "mean_roc_auc": mean}

    ceiling = {"threshold": 0.5, "free": fit({"dimers": 0.94, "rows": 0.96}, 0.95),
               "beta": fit({"dimers": 0.96, "rows": 0.97}, 0.965)}
    per = {"dimers": {"roc_auc": 0.90}, "rows": {"roc_auc": 0.965}}
    results = {"bench": {"target": {"metric": "roc_auc_macro", "value": 0.95}}, "labels": {"ceiling": ceiling},
               "models": [{"name": "weak", "metrics": {"roc_auc_macro": 0.8, "per_category": per}},
                          {"name": "best", "metrics": {"roc_auc_macro": 0.93, "per_category": per}}]}
    assert ceiling_line(results) == (
        "The labels allow a mean ROC AUC of about 0.950–0.965: what a model that knew every image's tick probability "
        "exactly would score against them, estimated two ways from the people's ticks (section The labels). The "
        "target, 0.950, lies in that range: only a model close to perfect reaches it.")
    lines = _ceiling_lines(results)
    assert lines[2:7] == ["| category | best | ceiling, free fit | ceiling, beta fit |", "|---|---|---|---|",
                          "| dimers | 0.900 | 0.940 (-100.0) | 0.960 (-100.0) |",
                          "| rows | 0.965 | 0.960 (-100.0) | 0.970 (-100.0) |", "| mean | 0.930 | 0.950 | 0.965 |"]
    assert lines[8].startswith("On rows, best scores above the free fit's ceiling, so that fit is too pessimistic")
    results["bench"]["target"]["value"] = 0.99
    assert ceiling_line(results).endswith("The target, 0.990, is above what a perfect model would score by either estimate.")
    results["bench"]["target"]["value"] = 0.9
    assert ceiling_line(results).endswith("(section The labels).")
    del results["labels"]
    assert ceiling_line(results) == ""


def test_time_line_adds_the_rows_training_times_against_the_budget():
    from stemsim.benchmarks.sections.timing import time_line

    results = {"bench": {"mode": "default", "target": {"minutes": 60}}, "environment": {"device": "cpu", "cpus": 2},
               "models": [{"train_seconds": 1800.0, "evaluation_seconds": 120.0}, {"train_seconds": 1260.0}]}
    assert time_line(results) == ("Time: training the 2 models took 51 min and evaluating 1 of them 2 min (cpu, 2 cpus; "
                                  "the others' evaluation was not timed); a default run's budget is 60 min: within it "
                                  "without the untimed evaluations.")
    del results["models"][0]["evaluation_seconds"]
    assert time_line(results) == ("Time: training the 2 models took 51 min (cpu, 2 cpus; the evaluation was not "
                                  "timed); a default run's budget is 60 min: within it without the untimed "
                                  "evaluations.")
    results["models"][0]["evaluation_seconds"] = 120.0
    results["models"][1]["evaluation_seconds"] = 480.0
    assert time_line(results) == ("Time: training the 2 models took 51 min and evaluating them 10 min (cpu, 2 cpus); "
                                  "a default run's budget is 60 min: OVER it.")
    results["bench"]["mode"] = "full"
    assert time_line(results).endswith("them 10 min (cpu, 2 cpus); a --full run has no time budget.")
    results["models"][1]["processor"] = "AMD EPYC"  # a row added on another machine than the first's
    assert time_line(results).endswith("(cpu, 2 cpus); the rows were trained on more than one machine (each row's "
                                       "`processor` in results.json, unrecorded for rows from before it was), so "
                                       "their times compare within one machine only; a --full run has no time budget.")
    results["bench"]["mode"] = "default"
    del results["bench"]["target"]  # a bench file without a budget: the times, no verdict
    assert time_line(results).endswith("their times compare within one machine only.")
    results["models"] = [{"train_seconds": 25.0, "evaluation_seconds": 20.0}]  # a model that trains in seconds
    assert time_line(results).startswith("Time: training the 1 model took under a minute and evaluating them under a "
                                         "minute (cpu, 2 cpus)")


def test_count_errors_say_how_far_off_a_count_is():
    from stemsim.benchmarks.sections.counts import count_errors

    confusion = [[3, 1, 0], [0, 2, 2], [1, 0, 1]]  # rows: true 0, 1, 2 corners
    errors = count_errors(confusion, ["0", "1", "2"])
    assert errors["exact"] == pytest.approx(6 / 10)
    assert errors["within_one"] == pytest.approx(9 / 10)  # only the true 2 called 0 is further off
    assert errors["mean_absolute_error"] == pytest.approx((1 + 2 + 2) / 10)
    assert count_errors(confusion, ["edge", "face", "body"]) is None  # not counts


def test_bad_bench_file_exits_2(tmp_path, capsys):
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BENCH, "modles": []}))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == "stemsim: error: modles: unknown key (allowed: name, title, note, " \
                                               "dataset, seed, prior, target, models, full, views)"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BENCH, "note": ["a", "list"]}))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == "stemsim: error: note: expected a sentence, got ['a', 'list']"
    # a model may change how its training learns the labels, never which images a split holds
    model = {"name": "m", "experiment": {"model": {"name": "texture"}, "data": {"targets": "score", "test_fraction": 0.5}}}
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BENCH, "models": [model]}))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == (
        "stemsim: error: models[0].experiment.data.test_fraction: set by the bench (every model is tested on the "
        "same images); a model may set only targets, weighting, oversample_max_repeat")
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BENCH, "models": [{**model, "experiment": {"seed": 3}}]}))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == "stemsim: error: models[0].experiment.seed: set by the bench, not per model"
    (tmp_path / "b.yaml").write_text(yaml.safe_dump({**BENCH, "target": {**BENCH["target"], "minutes": 0}}))
    assert run("bench", tmp_path / "b.yaml", "--out", tmp_path / "r") == 2
    assert capsys.readouterr().err.strip() == "stemsim: error: target.minutes: must be > 0, got 0.0"
    assert not (tmp_path / "r").exists()


def test_a_models_own_data_keys_change_its_training_and_nothing_else():
    from stemsim.benchmarks.benchfile import model_experiment

    data = {"kind": "stm", "path": "/x", "min_agreement": 0.4, "weighting": "score"}
    entry = {"name": "m", "experiment": {"model": {"name": "texture"}, "data": {"targets": "score", "weighting": "none"}}}
    experiment = model_experiment(entry, data, 7)
    assert experiment["data"] == {"kind": "stm", "path": "/x", "min_agreement": 0.4, "weighting": "none",
                                  "targets": "score"}
    assert experiment["seed"] == 7 and entry["experiment"]["data"] == {"targets": "score", "weighting": "none"}
    assert model_experiment({"name": "n", "experiment": {"model": {"name": "texture"}}}, data, 7)["data"] == data


@pytest.mark.parametrize("full", [False, True], ids=["default", "full"])
def test_shipped_bench_files_hold_valid_experiments(full, tmp_path):
    from pathlib import Path

    from stemsim.benchmarks.benchfile import load_bench, model_experiment
    from stemsim.classifiers.config import load_experiment
    from stemsim.errors import InputError

    files = sorted((Path(__file__).parents[1] / "configs" / "benchmarks").glob("*.yaml"))
    assert len(files) >= 6
    for path in files:
        bench = load_bench(path, full)
        if "spec" in bench["dataset"]:
            data = {"kind": "stemsim", "path": str(tmp_path)}
        else:
            data = bench["dataset"]["data"]
            if not Path(data["path"]).is_dir():
                pytest.skip("the shared STM set is not beside the repository")
        for entry in bench["models"]:
            try:
                load_experiment(model_experiment(entry, data, 0))
            except InputError as error:  # pretrained weights that are not on this machine
                assert str(error).startswith("model.weights: "), (path.name, entry["name"], str(error))


def test_accuracy_by_deformation_joins_predictions_to_the_manifest(tmp_path):
    from stemsim.benchmarks.sections.deformation import accuracy_by_deformation

    (tmp_path / "manifest.csv").write_text(
        "id,object_id,view,n_deformed,depth\n"
        "a-00,a,0,0,0.0\na-01,a,1,0,0.0\nb-00,b,0,2,0.18\nb-01,b,1,2,0.18\n"
        "c-00,c,0,1,0.32\nc-01,c,1,1,0.32\nd-00,d,0,1,0.33\nd-01,d,1,1,0.33\n")
    (tmp_path / "predictions.csv").write_text(  # per object, as a multi-view evaluation writes them
        "id,true,predicted\na,undeformed,undeformed\nb,deformed,undeformed\nc,deformed,deformed\n"
        "d,deformed,undeformed\n")
    result = accuracy_by_deformation(tmp_path, tmp_path / "predictions.csv")
    assert result["depth"] == [{"group": "0.00–0.20", "n": 1, "accuracy": 0.0},
                               {"group": "0.30–0.50", "n": 2, "accuracy": 0.5},
                               {"group": "undeformed", "n": 1, "accuracy": 1.0}]
    assert result["n_deformed"] == [{"group": "0", "n": 1, "accuracy": 1.0}, {"group": "1", "n": 2, "accuracy": 0.5},
                                    {"group": "2", "n": 1, "accuracy": 0.0}]
    assert accuracy_by_deformation(tmp_path / "missing", tmp_path / "predictions.csv") is None
