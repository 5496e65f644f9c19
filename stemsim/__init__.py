"""stemsim: ADF-STEM simulation, labelled datasets and classifier benchmarks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("stemsim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+local"
