"""The one exception type that the command line turns into a clean error line."""

import contextlib
import contextvars
import re


def reason(error: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), or its type's name:
    the ``(reason)`` part of a one-line :class:`InputError` about a file that did not load."""
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


def one_line(text: str) -> str:
    """``text`` as one printable line: newlines, NUL and other control characters escaped
    (an error line must stay one line whatever a user's value holds)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))


def shown(value, limit: int = 80) -> str:
    """A user's value for an error message: its repr, built with bounded work (deep or huge
    structures are summarised, as :mod:`reprlib` does) and cut to ``limit`` characters."""
    import reprlib

    short = reprlib.Repr()
    short.maxlevel, short.maxstring, short.maxother, short.maxlong = 3, limit, limit, limit
    short.maxlist = short.maxdict = short.maxtuple = short.maxset = 8
    text = one_line(short.repr(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


class InputError(ValueError):
    """Bad user input (a spec key, a file, an option).

    The message must be one line that names the key or file and the problem;
    ``stemsim`` prints it and exits with status 2, without a traceback. An option named in it
    is written with :func:`argument`, so that one message reads right from Python
    (``overwrite=True``) and from the command line (``--overwrite``).
    """

    def __str__(self) -> str:
        return render(super().__str__())


_ARGUMENT = re.compile("\x1f([^\x1e\x1f]*)\x1e([^\x1f]*)\x1f")
_STYLE: contextvars.ContextVar[str] = contextvars.ContextVar("stemsim_argument_style", default="api")


def argument(cli: str, api: str) -> str:
    """An option inside an :class:`InputError` message (or a warning passed through
    :func:`render`): ``cli`` as the command line spells it (``--overwrite``), ``api`` as the
    Python API does (``overwrite=True``). Rendered as ``api`` unless inside :func:`command_line`."""
    return f"\x1f{cli}\x1e{api}\x1f"


def render(text: str) -> str:
    """``text`` with every :func:`argument` spelt for the current reader (see :func:`command_line`)."""
    group = 1 if _STYLE.get() == "cli" else 2
    return _ARGUMENT.sub(lambda match: match.group(group), str(text))


@contextlib.contextmanager
def command_line():
    """Run a command-line verb: inside, every :func:`argument` renders as its option (``--overwrite``),
    and an :class:`InputError` that leaves is re-raised with its message rendered so (the
    program prints it after the verb has returned)."""
    token = _STYLE.set("cli")
    try:
        yield
    except InputError as error:
        raise InputError(str(error)) from None
    finally:
        _STYLE.reset(token)
