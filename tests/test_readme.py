"""The README and the docs tell the truth: the simulator page's Python example runs, the README's
commands are the CI's and fit the shipped configs, the bench tables are the committed numbers,
every link leads somewhere, and the README stays short."""

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"
SIMULATOR = (DOCS / "simulator.md").read_text()
DATASETS = (DOCS / "datasets.md").read_text()
BENCHMARKS = (DOCS / "benchmarks.md").read_text()


def test_python_example_runs():
    block = re.search(r"```python\n(.*?)```", SIMULATOR, re.S).group(1)
    namespace: dict = {}
    exec(compile(block, "docs/simulator.md", "exec"), namespace)
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

    schema = re.search(r"## The spec \(YAML\).*?```yaml\n(.*?)```", DATASETS, re.S).group(1)
    for section, value in DEFAULTS.items():
        assert re.search(rf"^{section}:", schema, re.M), section
        if isinstance(value, dict) and section != "splits":  # split names are the user's
            for key in value:
                assert re.search(rf"^\s+{key}:", schema, re.M), f"{section}.{key}"


def test_benchmark_numbers_are_the_committed_ones():
    import json

    results = json.loads((ROOT / "results" / "simulator" / "results.json").read_text())
    row = results["sizes"]["128"]
    assert f"| stemsim, 1 core | {row['ours_1_core']:.0f} |" in BENCHMARKS
    assert f"| stemsim, 2 cores | {row['ours_2_cores']:.0f} ({row['scaling']:.2f}×) |" in BENCHMARKS
    assert f"**{row['speedup_per_core']:.0f}×**" in BENCHMARKS
    assert f"writing costs {100 * results['generation']['writing_cost_1_job']:.0f} %" in BENCHMARKS


def test_bench_numbers_in_the_docs_are_the_committed_ones():
    import json

    from stemsim.benchmarks.sections.timing import time_line
    from stemsim.benchmarks.readme import maps_line

    index = re.search(r"<!-- bench-results -->(.*)<!-- /bench-results -->", BENCHMARKS, re.S).group(1)
    for path in sorted((ROOT / "results").glob("*/results.json")):
        if path.parent.name == "simulator":
            continue
        results = json.loads(path.read_text())
        assert f"](benchmarks/{path.parent.name}.md)" in index  # the index links every bench's page
        section = (DOCS / "benchmarks" / f"{path.parent.name}.md").read_text()
        assert results["command"] in section
        assert time_line(results) in section
        for model in results["models"]:
            metrics = model["metrics"]
            headline = metrics.get("exact_match_accuracy", metrics.get("accuracy"))
            row = next(line for line in section.splitlines() if line.startswith(f"| {model['name']} "))
            assert f"| {100 * headline:.1f} % |" in row
            assert f"| {100 * metrics['macro_f1']:.1f} % | {metrics['roc_auc_macro']:.3f} |" in row
            if "mask_iou" in model.get("maps", {}):
                assert maps_line(model) in section


def test_readme_is_short():
    assert len(README.splitlines()) <= 200  # the details live in docs/


def test_the_first_command_fits_the_shipped_configs():
    """generate's --out is where the experiment reads, and predict's glob names a split and class."""
    command = re.search(r"```bash\n(.*?)\n\n", README, re.S).group(1)
    out = re.search(r"stemsim generate configs/quickstart.yaml --out (\S+)", command).group(1)
    run = re.search(r"stemsim train configs/experiments/quickstart.yaml --out (\S+)", command).group(1)
    assert f"stemsim evaluate {run}" in command
    glob = re.search(rf"stemsim predict {re.escape(run)} (\S+)", command).group(1)
    experiment = yaml.safe_load((ROOT / "configs" / "experiments" / "quickstart.yaml").read_text())
    assert experiment["data"]["path"] == out
    spec = yaml.safe_load((ROOT / "configs" / "quickstart.yaml").read_text())
    split, label, pattern = glob.removeprefix(out + "/").split("/")
    assert split in spec["splits"] and label in spec["classes"]["values"] and pattern == "*.png"
    assert "png" in spec["output"]["formats"]
    assert (DOCS / "index.md").read_text().count(command) == 1  # the site's home page shows the same


def _links(text):
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    return re.findall(r"\]\(([^)\s]+)\)", text)


def _anchors(text):
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    headings = re.findall(r"^#+ (.+)$", text, re.M)
    slugs = {re.sub(r"[\s]+", "-", re.sub(r"[^\w\s-]", "", h.strip().lower())) for h in headings}
    return slugs | set(re.findall(r'<a id="([^"]+)">', text))


def test_every_link_of_the_readme_and_the_docs_leads_somewhere():
    pages = [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]
    for page in pages:
        for link in _links(page.read_text()):
            if re.match(r"[a-z]+://", link):
                continue
            target, _, anchor = link.partition("#")
            path = (page.parent / target).resolve() if target else page
            assert path.exists(), f"{page.name}: {link}"
            if anchor:
                assert anchor in _anchors(path.read_text()), f"{page.name}: {link}"


def _nav_pages(nav):
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        yield from _nav_pages(value) if isinstance(value, list) else [value]


def test_the_site_lists_every_page_and_the_pictures_are_small():
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert config["site_name"] == "stemsim" and config["theme"]["name"] == "material"
    listed = list(_nav_pages(config["nav"]))  # the API, examples and reference sections nest
    assert sorted(page for page in listed if "/" not in page) == sorted(p.name for p in DOCS.glob("*.md"))
    assert listed[0] == "index.md"
    pictures = [DOCS / link for link in _links((DOCS / "tutorial.md").read_text()) if link.endswith(".png")]
    assert len(pictures) >= 4
    for picture in pictures:
        assert picture.stat().st_size <= 200_000, picture.name
    assert 'pip install -e ".[docs]" && mkdocs serve' in README
