"""What the contrast-model speed benches share: their command line and their JSON record."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path


def speed_arguments(doc: str, out: str, argv=None) -> argparse.Namespace:
    """``--images`` (per model or case), ``--size`` (pixels) and ``--out`` (the JSON file)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--out", type=Path, default=Path(out))
    return parser.parse_args(argv)


def write_speed(args: argparse.Namespace, module: str, description: str, result: dict, start: float, **extra) -> dict:
    """The record of one run — what was timed, the command, the machine and its load, the wall
    time since ``start`` (``time.perf_counter``) and ``result`` — written to ``args.out``."""
    payload = {
        "description": description,
        "command": f"python -m {module} --images {args.images} --size {args.size}",
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "wall_s": round(time.perf_counter() - start, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),  # other processes on the machine share its cores
        **extra,
        **result,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(payload, indent=1) + "\n")
    return payload
