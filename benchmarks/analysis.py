"""The command line shared by the dataset analyses (:mod:`stemsim.benchmarks.ceiling`,
:mod:`stemsim.benchmarks.observer`): ``python -m stemsim.benchmarks.NAME DATASET --out DIR [--split S] ...``
writes ``DIR/results.json`` (with the command that made it) and ``DIR/results.md``; a bad
dataset gets one error line, exit status 2 and nothing written."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Callable

from stemsim.errors import InputError


def analysis_main(name: str, description: str, compute: Callable[..., dict], markdown: Callable[[dict], str],
                  options: Callable[[argparse.ArgumentParser], None] | None = None) -> None:
    """Parse the command line, run ``compute(dataset, split=..., **options)``, write its results."""
    parser = argparse.ArgumentParser(prog=f"python -m stemsim.benchmarks.{name}", description=description)
    parser.add_argument("dataset", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="folder for results.json and results.md")
    parser.add_argument("--split", default="test")
    if options:
        options(parser)
    args = parser.parse_args()
    chosen = {key: value for key, value in vars(args).items() if key not in ("dataset", "out")}
    try:
        results = compute(args.dataset, **chosen)
    except InputError as error:
        print(f"{name}: error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    results["command"] = " ".join([f"python -m stemsim.benchmarks.{name} {args.dataset} --out {args.out}"]
                                  + [f"--{key} {value}" for key, value in chosen.items()
                                     if value != parser.get_default(key)])
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(markdown(results))
    print(markdown(results))
