"""User-facing errors: the CLI prints the message on one line and exits with status 2."""


class TailscopeError(Exception):
    """Bad input or an unusable environment. The message names the problem and the fix."""
