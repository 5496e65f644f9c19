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


class _Short(__import__("reprlib").Repr):
    """:mod:`reprlib` with YAML's spelling of true, false and null (a spec's reader wrote them so),
    and a size instead of the digits of an integer too long to print."""

    def __init__(self, limit: int, yaml: bool):
        super().__init__()
        self.maxlevel, self.maxstring, self.maxother, self.maxlong = 3, limit, limit, limit
        self.maxlist = self.maxdict = self.maxtuple = self.maxset = self.maxfrozenset = 8
        self.yaml = yaml

    def repr1(self, x, level):
        if self.yaml and (x is None or isinstance(x, bool)):
            return {None: "null", True: "true", False: "false"}[x]
        return super().repr1(x, level)

    def repr_int(self, x, level):
        if x.bit_length() > 1000:  # repr would be slow, or refused (Python's 4300-digit limit)
            return f"<an integer of about {int(x.bit_length() * 0.30103)} digits>"
        return super().repr_int(x, level)


def shown(value, limit: int = 80, yaml: bool = False) -> str:
    """A user's value for an error message: its repr, built with bounded work (deep or huge
    structures are summarised, as :mod:`reprlib` does) and cut to ``limit`` characters, on one
    line. ``yaml``: true, false and null spelt as a YAML file spells them (not True, False, None)."""
    text = one_line(_Short(limit, yaml).repr(value))
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
