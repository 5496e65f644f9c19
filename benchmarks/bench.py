"""``stemsim bench``: the names it has always offered, from the modules that hold them now.

The bench is in parts: the bench file (:mod:`benchmarks.benchfile`), the runner
(:mod:`benchmarks.runner`: train, evaluate, reuse runs, ``--full``, ``--report-only``), the
analyses (:mod:`benchmarks.sections`, one registered section each), the report
(:mod:`benchmarks.report`), the figures (:mod:`benchmarks.figures`) and the reads of a
dataset's own files (:mod:`benchmarks.datafiles`).
"""

from __future__ import annotations

from benchmarks.benchfile import BENCH, BENCH_KEYS, MODEL_DATA_KEYS, load_bench, model_experiment  # noqa: F401
from benchmarks.report import markdown  # noqa: F401
from benchmarks.runner import prepare_dataset, processor, rewrite_report, run_bench, run_model  # noqa: F401
from benchmarks.sections.bound import observer_line  # noqa: F401
from benchmarks.sections.counts import count_errors  # noqa: F401
from benchmarks.sections.deformation import DEPTH_BINS, accuracy_by_deformation  # noqa: F401
from benchmarks.sections.family import family_lines  # noqa: F401
from benchmarks.sections.labels import (  # noqa: F401
    LABEL_CERTAINTY_GROUPS,
    _ceiling_lines,
    _certainty_lines,
    ceiling_line,
    label_noise,
    roc_auc_by_label_certainty,
)
from benchmarks.sections.target import accuracy_interval, target_line, target_outcome  # noqa: F401
from benchmarks.sections.timing import time_line  # noqa: F401
