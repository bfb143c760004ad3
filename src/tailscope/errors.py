"""User-facing errors: the CLI prints the message on one line and exits with status 2."""


class TailscopeError(Exception):
    """Bad input or an unusable environment. The message names the problem and the fix."""


def first_problem(exc) -> tuple[str, str, object]:
    """Field path, message and offending value of a pydantic ValidationError's first error."""
    problem = exc.errors()[0]
    return ".".join(str(p) for p in problem["loc"]), problem["msg"], problem.get("input")
