"""The ``stemsim`` command line: one verb per capability.

Every verb turns bad input into one line on stderr and exit status 2
(:class:`stemsim.errors.InputError`, and every usage error: a missing option, a value of the
wrong type, an unknown option or verb); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import importlib
import inspect
import sys

import typer
from typer.core import TyperCommand

from stemsim.errors import InputError, one_line

app = typer.Typer(
    name="stemsim",
    help="Simulate ADF-STEM images of deformed nano-objects, make labelled datasets, "
    "train and benchmark classifiers.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register_verbs() -> None:
    # Each capability owns its verbs; importing here keeps `stemsim --help` in one place.
    # Once per process: main() is called many times in-process (the tests), and a verb added
    # twice would be listed twice and slow every later call down.
    if app.registered_commands:
        return
    from stemsim.benchmarks import cli as bench_cli
    from stemsim.classifiers import cli as classifier_cli
    from stemsim.dataset import cli as dataset_cli

    dataset_cli.register(app)
    classifier_cli.register(app)
    bench_cli.register(app)
    tidy_help(app)


class TidyHelpCommand(TyperCommand):
    """A verb whose ``--help`` shows no type for flags (``--spread``, ``--help``: no ``<bool>``)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for param in self.params:
            if getattr(param, "is_flag", False) and param.metavar is None:
                param.metavar = ""

    def get_help_option(self, ctx):
        option = super().get_help_option(ctx)
        if option is not None:
            option.metavar = ""
        return option


def help_text(function) -> str:
    """A verb's docstring as help: each paragraph one line (rich wraps it to the terminal
    instead of keeping the source's line breaks), paragraphs kept apart."""
    doc = inspect.cleandoc(function.__doc__ or "")
    return "\n\n".join(" ".join(paragraph.split()) for paragraph in doc.split("\n\n"))


def tidy_help(app: typer.Typer, callbacks=None) -> None:
    """Give the verbs of ``app`` registered for ``callbacks`` (default: all) whole-paragraph help
    (:func:`help_text`) and no ``<bool>`` for flags (:class:`TidyHelpCommand`)."""
    for info in app.registered_commands:
        if (callbacks is None or info.callback in callbacks) and info.cls in (None, TyperCommand):
            info.cls = TidyHelpCommand
            if info.help is None and info.callback is not None:
                info.help = help_text(info.callback)


def _click_modules() -> tuple:
    """The click packages whose exceptions typer may raise: its own copy (``typer._click``,
    typer >= 0.16) and the separate ``click`` that older typers use."""
    modules = []
    for name in ("typer._click", "click"):
        try:
            modules.append(importlib.import_module(name))
        except ImportError:
            pass
    return tuple(modules)


def _usage_line(error) -> str:
    """A click usage error as one line, with the command to ask for help."""
    message = " ".join(error.format_message().split())
    context = getattr(error, "ctx", None)
    where = f" (see `{context.command_path} --help`)" if context is not None else ""
    return f"stemsim: error: {message}{where}"


LEARN_MODULES = ("tensorflow", "tensorflow_hub", "keras", "sklearn", "skimage", "skops", "fastapi", "uvicorn",
                 "multipart", "rsciio", "h5py")
"""What ``pip install "stemsim[learn]"`` adds: the classifiers' libraries (the simulator and the
dataset verbs run without them)."""


def missing_extra(error: ModuleNotFoundError) -> str | None:
    """The one line for a verb that needs the ``learn`` extra when it is not installed, else None."""
    if (error.name or "").partition(".")[0] not in LEARN_MODULES:
        return None
    return (f"stemsim: error: this needs the classifier libraries (no module {error.name!r}): "
            f"pip install \"stemsim[learn]\"")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``stemsim`` program."""
    _register_verbs()
    clicks = _click_modules()
    aborts = (typer.Abort, *(c.exceptions.Abort for c in clicks if hasattr(c.exceptions, "Abort")))
    exits = (typer.Exit, *(c.exceptions.Exit for c in clicks if hasattr(c.exceptions, "Exit")))
    try:
        code = app(args=argv, prog_name="stemsim", standalone_mode=False)
        if isinstance(code, int) and code:  # a typer.Exit(code) comes back as the return value here
            sys.exit(code)
    except InputError as error:
        typer.echo(f"stemsim: error: {one_line(str(error))}", err=True)
        sys.exit(2)
    except ModuleNotFoundError as error:
        if (line := missing_extra(error)) is None:
            raise
        typer.echo(line, err=True)
        sys.exit(2)
    except aborts:
        typer.echo("stemsim: aborted", err=True)
        sys.exit(130)
    except tuple(c.exceptions.NoArgsIsHelpError for c in clicks if hasattr(c.exceptions, "NoArgsIsHelpError")):
        sys.exit(2)  # the help is printed already: a verb's usage was asked for by giving it nothing
    except tuple(c.exceptions.ClickException for c in clicks) as error:  # usage errors (non-standalone mode)
        typer.echo(_usage_line(error) if isinstance(error, tuple(c.exceptions.UsageError for c in clicks))
                   else f"stemsim: error: {one_line(error.format_message())}", err=True)
        sys.exit(2)
    except exits as error:
        sys.exit(error.exit_code)


if __name__ == "__main__":
    main()
