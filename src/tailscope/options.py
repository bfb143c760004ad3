"""Options from the command line: `KEY=VALUE` pairs, and method options validated into a
method's config dataclass.

Search and red-team methods each declare a pydantic dataclass config; this is the one
place that turns unknown keys and bad values into a single clear line.
"""

from __future__ import annotations

from dataclasses import asdict

from pydantic import ValidationError

from tailscope.errors import TailscopeError, first_problem


def parse_pairs(pairs: list[str], what: str) -> dict[str, str]:
    """`["k=v", ...]` → `{"k": "v"}`; `what` names the option in the error, e.g. "--param"."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise TailscopeError(
                f"{what} {pair!r} is not KEY=VALUE: write e.g. {what} target=hello"
            )
        parsed[key.strip()] = value
    return parsed


def parse_option_value(text: str) -> int | float | bool | str:
    """A method option's value as the type it reads as: int, float, bool or text."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    return text


def parse_options(pairs: list[str], what: str = "-o") -> dict[str, int | float | bool | str]:
    return {key: parse_option_value(value) for key, value in parse_pairs(pairs, what).items()}


def option_defaults(config_cls) -> dict[str, object]:
    """Option name → default, for help texts, docs and recorded runs."""
    return asdict(config_cls())


def build_config(config_cls, options: dict, label: str):
    """`config_cls(**options)`, or a TailscopeError naming the option and the fix.
    `label` names the method in messages, e.g. "method gcg"."""
    known = option_defaults(config_cls)
    for key in options:
        if key not in known:
            raise TailscopeError(
                f"unknown option {key!r} for {label}: its options are {', '.join(known) or 'none'}"
            )
    try:
        return config_cls(**options)
    except ValidationError as exc:
        where, message, value = first_problem(exc)
        raise TailscopeError(f"option {where} of {label}: {message} (got {value!r})") from None
