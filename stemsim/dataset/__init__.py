"""Labelled datasets from YAML specs: plan, sample, simulate, write (see docs/datasets.md: "The spec")."""

from stemsim.dataset.generate import MANIFEST_COLUMNS, Summary, generate
from stemsim.dataset.sampling import (
           acquire,
           plan,
           sample_parameters,
           sample_views,
           scene_and_microscope,
)
from stemsim.dataset.spec import load_spec, resolve

__all__ = ["MANIFEST_COLUMNS", "Summary", "acquire", "generate", "load_spec", "plan", "resolve",
           "sample_parameters", "sample_views", "scene_and_microscope"]
