"""The ``stemsim`` command line: one verb per capability.

Every verb turns bad input into one line on stderr and exit status 2
(:class:`stemsim.errors.InputError`); anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer

from stemsim.errors import InputError

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
    from benchmarks import cli as bench_cli
    from classifiers import cli as classifier_cli
    from stemsim.dataset import cli as dataset_cli

    dataset_cli.register(app)
    classifier_cli.register(app)
    bench_cli.register(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``stemsim`` program."""
    _register_verbs()
    try:
        app(args=argv, standalone_mode=False)
    except InputError as error:
        typer.echo(f"stemsim: error: {error}", err=True)
        sys.exit(2)
    except typer.Abort:
        typer.echo("stemsim: aborted", err=True)
        sys.exit(130)
    except Exception as error:  # click usage errors come here in non-standalone mode
        import click

        if isinstance(error, click.exceptions.ClickException):
            error.show()
            sys.exit(error.exit_code)
        if isinstance(error, click.exceptions.Exit):
            sys.exit(error.exit_code)
        raise


if __name__ == "__main__":
    main()
