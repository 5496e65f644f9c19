"""The one exception type that the command line turns into a clean error line."""


def reason(error: BaseException) -> str:
    """The first line of an exception's message (at most 200 characters), or its type's name:
    the ``(reason)`` part of a one-line :class:`InputError` about a file that did not load."""
    text = str(error).strip()
    return text.splitlines()[0][:200] if text else type(error).__name__


class InputError(ValueError):
    """Bad user input (a spec key, a file, an option).

    The message must be one line that names the key or file and the problem;
    ``stemsim`` prints it and exits with status 2, without a traceback.
    """
