"""The one exception type that the command line turns into a clean error line."""


class InputError(ValueError):
    """Bad user input (a spec key, a file, an option).

    The message must be one line that names the key or file and the problem;
    ``stemsim`` prints it and exits with status 2, without a traceback.
    """
