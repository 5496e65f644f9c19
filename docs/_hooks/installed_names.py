"""mkdocs hook: the API pages read the code under the names it installs with (``stemsim.simulator``...).

pyproject's package-dir installs the repository's folders ``simulator/``, ``classifiers/`` and
``benchmarks/`` as subpackages of ``stemsim``; mkdocstrings (griffe) reads source files from a
search path and cannot see that mapping. So before the build this hook lays out the installed
tree as links (``build/api-src/stemsim/`` -> the files of ``stemsim/`` plus the three
folders), the search path of mkdocs.yml's python handler. Links only: nothing is copied.
"""

from __future__ import annotations

import shutil
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TREE = ROOT / "build" / "api-src"  # git-ignored, outside docs/ so that mkdocs does not publish it


def installed_tree() -> Path:
    """Make ``TREE/stemsim`` mirror the installed package; returns ``TREE``."""
    mapping = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    package = TREE / "stemsim"
    shutil.rmtree(TREE, ignore_errors=True)
    package.mkdir(parents=True)
    for entry in (ROOT / mapping["stemsim"]).iterdir():
        if entry.name != "__pycache__":
            (package / entry.name).symlink_to(entry)
    for name, folder in mapping.items():
        if name != "stemsim":
            (package / name.removeprefix("stemsim.")).symlink_to(ROOT / folder, target_is_directory=True)
    return TREE


# When mkdocs loads this hook, before any plugin's `config` event: mkdocstrings takes its search
# paths in its own, which runs before the hooks' events.
installed_tree()
