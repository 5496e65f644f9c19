"""Every script of the examples gallery (examples/, rendered into the docs site by mkdocs-gallery)
runs on its own, from a clean process, in a few seconds, without a display."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("plot_*.py"))
TIMEOUT = 60  # s: each takes < 10 s on one core, the first also compiles the simulator's kernels


def test_there_is_a_gallery():
    assert 4 <= len(EXAMPLES) <= 6
    assert (ROOT / "examples" / "README.md").exists()  # mkdocs-gallery's header of the gallery
    for script in EXAMPLES:
        docstring = script.read_text().split('"""')[1]
        assert docstring.lstrip().startswith("# "), f"{script.name}: the page's title comes first"


@pytest.mark.slow
@pytest.mark.parametrize("script", EXAMPLES, ids=[script.stem for script in EXAMPLES])
def test_example_runs(script, tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg", "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), f"{script.name} prints what it found"
    assert not list(tmp_path.iterdir()), f"{script.name} writes into the folder it is run in"
