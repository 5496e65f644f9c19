"""mkdocs hook: the committed results (``results/`` at the repository root) on the site.

The pages under docs/ link to them as files of the repository (``../../results/stm/samples.png``
from docs/benchmarks/), so that they read the same on GitHub; mkdocs only serves files under
docs/. This hook adds every file of ``results/`` to the site at ``results/`` and points those
links there, so the site shows the same pictures and reports without a second copy in git.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from mkdocs.structure.files import File

FOLDERS = ("results",)  # repository folders the pages link into
_LINK = re.compile(r"(\]\(|<img [^>]*src=\")([^)\"\s#]+)")


def _repo(config) -> Path:
    return Path(config["docs_dir"]).resolve().parent


def on_files(files, config):
    root = _repo(config)
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*")):
            if path.is_file():
                files.append(File(path.relative_to(root).as_posix(), str(root), config["site_dir"],
                                  config["use_directory_urls"]))
    return files


def on_page_markdown(markdown, page, config, files):
    root = _repo(config)
    docs = Path(config["docs_dir"]).resolve()
    page_dir = (docs / page.file.src_uri).parent

    def point(match: re.Match) -> str:
        target = match.group(2)
        if "://" in target or target.startswith("/"):
            return match.group(0)
        resolved = Path(posixpath.normpath((page_dir / target).as_posix()))
        try:
            inside = resolved.relative_to(root).as_posix()
        except ValueError:
            return match.group(0)
        if resolved.is_relative_to(docs) or not inside.startswith(tuple(f"{f}/" for f in FOLDERS)):
            return match.group(0)
        # the same file, as the site serves it: relative to this page's place under docs/
        return match.group(1) + posixpath.relpath(inside, page_dir.relative_to(docs).as_posix() or ".")

    return _LINK.sub(point, markdown)
