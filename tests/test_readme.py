"""The README tells the truth: its Python example runs, its commands are the CI's."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_python_example_runs():
    block = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    measurement = namespace["measurement"]
    assert measurement.image.shape == (128, 128)
    assert namespace["image8"].max() == 255
    assert abs(namespace["thickness"].sum() * 0.15**2 - (8**3 - 2 * 2**3 / 6)) < 0.01 * 8**3


def test_ci_runs_the_readme_test_command():
    command = 'pip install -e ".[test]" && python -m pytest -q'
    assert command in README
    assert command in (ROOT / ".ci" / "run").read_text()


def test_readme_lists_every_spec_key():
    from stemsim.dataset.spec import DEFAULTS

    schema = re.search(r"## The spec \(YAML\).*?```yaml\n(.*?)```", README, re.S).group(1)
    for section, value in DEFAULTS.items():
        assert re.search(rf"^{section}:", schema, re.M), section
        if isinstance(value, dict) and section != "splits":  # split names are the user's
            for key in value:
                assert re.search(rf"^\s+{key}:", schema, re.M), f"{section}.{key}"


def test_benchmark_numbers_are_the_committed_ones():
    import json

    results = json.loads((ROOT / "benchmarks" / "results" / "simulator" / "results.json").read_text())
    row = results["sizes"]["128"]
    assert f"| stemsim, 1 core | {row['ours_1_core']:.0f} |" in README
    assert f"| stemsim, 2 cores | {row['ours_2_cores']:.0f} ({row['scaling']:.2f}×) |" in README
    assert f"**{row['speedup_per_core']:.0f}×**" in README
    assert f"writing costs {100 * results['generation']['writing_cost_1_job']:.0f} %" in README


def test_bench_numbers_in_the_readme_are_the_committed_ones():
    import json

    from benchmarks.bench import time_line
    from benchmarks.readme import maps_line

    shown = re.search(r"<!-- bench-results -->(.*)<!-- /bench-results -->", README, re.S).group(1)
    for path in sorted((ROOT / "benchmarks" / "results").glob("*/results.json")):
        if path.parent.name == "simulator":
            continue
        results = json.loads(path.read_text())
        assert results["command"] in shown
        start = shown.index(results["command"])
        end = shown.find("\n**", start)
        section = shown[start:end if end >= 0 else len(shown)]
        assert time_line(results) in section
        for model in results["models"]:
            metrics = model["metrics"]
            headline = metrics.get("exact_match_accuracy", metrics.get("accuracy"))
            row = next(line for line in section.splitlines() if line.startswith(f"| {model['name']} "))
            assert f"| {100 * headline:.1f} % |" in row
            assert f"| {100 * metrics['macro_f1']:.1f} % | {metrics['roc_auc_macro']:.3f} |" in row
            if "mask_iou" in model.get("maps", {}):
                assert maps_line(model) in section
