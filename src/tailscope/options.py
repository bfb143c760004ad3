"""Method options: `-o KEY=VALUE` pairs validated into a method's config dataclass.

Search and red-team methods each keep a registry of pydantic dataclass configs; this is
the one place that turns unknown keys and bad values into a single clear line.
"""

from __future__ import annotations

from dataclasses import asdict

from pydantic import ValidationError

from tailscope.errors import TailscopeError, first_problem


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
