"""The contrast-model speed benches run and record what they timed (their numbers live in
results/fidelity/, never asserted here)."""

from __future__ import annotations

import json

from stemsim.benchmarks import contrast_speed, crystal_speed


def test_the_contrast_speed_bench_records_both_models(tmp_path):
    out = tmp_path / "contrast.json"
    payload = contrast_speed.main(["--images", "2", "--size", "64", "--out", str(out)])
    assert json.loads(out.read_text()) == payload
    assert payload["command"] == "python -m stemsim.benchmarks.contrast_speed --images 2 --size 64"
    assert payload["images_per_model"] == 2 and payload["linear"]["median_ms"] > 0
    assert payload["ratio_median"] == payload["calibrated"]["median_ms"] / payload["linear"]["median_ms"]


def test_the_crystal_speed_bench_records_every_case(tmp_path):
    out = tmp_path / "crystal.json"
    payload = crystal_speed.main(["--images", "2", "--size", "64", "--out", str(out)])
    assert json.loads(out.read_text()) == payload
    assert {case for case, *_ in crystal_speed.CASES} <= set(payload)
    assert payload["001"]["atoms"] == payload["off_axis"]["atoms"] > 20_000  # the same 8 nm cube
    assert payload["001"]["scatterers"] < payload["off_axis"]["scatterers"]  # columns on the axis
