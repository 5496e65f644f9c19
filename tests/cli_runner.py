"""Run the ``stemsim`` program in-process, as the tests of every verb do."""

from stemsim.cli import main


def run(*args) -> int:
    """``stemsim ARGS...``; returns the exit status."""
    try:
        main([str(a) for a in args])
    except SystemExit as exit_:
        return exit_.code
    return 0
