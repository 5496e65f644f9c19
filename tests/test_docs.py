"""The documentation site (mkdocs.yml, docs/): every page is in the nav and every nav entry is a
page, every API page names modules that exist, and the site builds with no warning
(`mkdocs build --strict`, which also runs the examples gallery and renders the docstrings)."""

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _config() -> dict:
    # mkdocs.yml holds plain YAML (the gallery plugin adds its python tags at run time)
    return yaml.safe_load((ROOT / "mkdocs.yml").read_text())


def _gallery_dir(config: dict) -> str:
    gallery = next(plugin["gallery"] for plugin in config["plugins"] if isinstance(plugin, dict) and "gallery" in plugin)
    return Path(gallery["gallery_dirs"]).relative_to("docs").as_posix()


def _nav_pages(nav):
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        yield from _nav_pages(value) if isinstance(value, list) else [value]


def test_the_nav_has_every_page_and_only_pages():
    config = _config()
    listed = list(_nav_pages(config["nav"]))
    assert [next(iter(entry)) for entry in config["nav"] if isinstance(entry, dict)][:6] == [
        "Home", "Tutorial", "Simulator", "Datasets", "Classifiers", "Benchmarks"]
    gallery = _gallery_dir(config)
    assert gallery in listed  # the examples, generated at build time
    for page in listed:
        assert page == gallery or (DOCS / page).is_file(), page
    generated = DOCS / gallery
    pages = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md") if generated not in p.parents}
    assert pages <= set(listed), sorted(pages - set(listed))


def test_every_api_page_names_modules_that_exist():
    pages = sorted((DOCS / "api").glob("*.md"))
    assert len(pages) >= 16
    for page in pages:
        names = re.findall(r"^::: (\S+)$", page.read_text(), re.M)
        assert names or page.name == "index.md", page.name
        for name in names:
            assert importlib.util.find_spec(name) is not None, f"{page.name}: {name}"


@pytest.mark.slow
def test_the_site_builds_with_no_warning(tmp_path):
    for tool in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_gallery"):
        pytest.importorskip(tool, reason='the docs tools: pip install -e ".[docs]"')
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                          cwd=ROOT, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MPLBACKEND": "Agg", "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-4000:]
    site = tmp_path / "site"
    assert (site / "api" / "microscope" / "index.html").read_text().count("pixel_size") >= 1
    examples = site / _gallery_dir(_config())
    assert len(list(examples.glob("plot_*/index.html"))) >= 4
    shutil.rmtree(site)
