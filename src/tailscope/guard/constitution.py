"""Constitutions: restricted and permitted content in plain language, YAML in, a validated
`Constitution` out, every mistake reported in one line.

The permitted categories matter as much as the restricted ones (Sharma et al. 2025): they
are what the guard must keep answering, so a constitution without one is refused. Each
category has a description and a few example queries, which seed the synthetic data
(`guard/data.py`). A built-in constitution is a YAML file in `guard/library/`."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from tailscope.errors import TailscopeError
from tailscope.files import one_line, read_mapping

MAX_TEXT_CHARS = 2_000  # a description or an example; longer ones are a mistake
_STRICT = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def _text(value: str, what: str) -> str:
    value = " ".join(value.split())
    if not value:
        raise ValueError(f"the {what} is empty: write one")
    if len(value) > MAX_TEXT_CHARS:
        limit = f"{MAX_TEXT_CHARS:,}"
        raise ValueError(f"the {what} has {len(value):,} characters; use at most {limit}")
    return value


class Category(BaseModel):
    """One kind of content: what it is, and example queries a user would send."""

    model_config = _STRICT
    name: str
    description: str
    examples: list[str] = Field(min_length=1)
    # How the generator's completions of this category begin (e.g. "Sure, here are the
    # steps: 1."): a small model refuses or drifts, and a restricted example whose
    # completion refuses would teach the output guard the wrong thing.
    reply_prefix: str = ""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return _text(value, "category name")

    @field_validator("description")
    @classmethod
    def _description(cls, value: str) -> str:
        return _text(value, "description")

    @field_validator("examples")
    @classmethod
    def _examples(cls, value: list[str]) -> list[str]:
        return [_text(v, "example") for v in value]


class Constitution(BaseModel):
    model_config = _STRICT
    name: str
    description: str = ""
    # The deployment's system prompt, e.g. the one holding a secret: data are generated with
    # it, and the guard reads it with every prompt (so a secret guard knows the secret).
    system_prompt: str | None = None
    restricted: list[Category] = Field(min_length=1)
    # None by default so that a missing list gets the same message as an empty one
    permitted: list[Category] = Field(None, min_length=1, validate_default=True)

    @field_validator("permitted", mode="before")
    @classmethod
    def _some_permitted(cls, value):
        if not value:
            raise ValueError(
                "there is no permitted category: list what the guard must keep answering "
                "(without it nothing holds false refusals down)"
            )
        return value

    @field_validator("restricted", "permitted", mode="after")
    @classmethod
    def _distinct(cls, value: list[Category]) -> list[Category]:
        names = [c.name for c in value]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"category {repeated[0]!r} is listed twice: merge or rename it")
        return value

    @model_validator(mode="after")
    def _disjoint(self) -> Constitution:
        overlap = {c.name for c in self.restricted} & {c.name for c in self.permitted}
        if overlap:
            raise ValueError(
                f"category {sorted(overlap)[0]!r} is both restricted and permitted: rename one"
            )
        return self

    def categories(self) -> list[tuple[Category, bool]]:
        """Every category with whether it is restricted."""
        return [(c, True) for c in self.restricted] + [(c, False) for c in self.permitted]


def library_dir() -> Path:
    return Path(str(resources.files("tailscope.guard") / "library"))


def builtin_constitutions() -> list[str]:
    return sorted(p.stem for p in library_dir().glob("*.yaml"))


def load_constitution(name_or_path: str) -> Constitution:
    """A built-in constitution by name, or one from a .yaml path."""
    path, label = _resolve(name_or_path)
    raw = read_mapping(path, label, "with name, restricted and permitted (see guard/library)")
    return parse_constitution(raw, label)


def parse_constitution(raw: dict, label: str = "constitution") -> Constitution:
    try:
        return Constitution.model_validate(raw)
    except ValidationError as e:
        raise TailscopeError(f"{label}: {_explain(e)}") from None


def _resolve(name_or_path: str) -> tuple[Path, str]:
    available = ", ".join(builtin_constitutions())
    if name_or_path in builtin_constitutions():
        return library_dir() / f"{name_or_path}.yaml", f"constitution {name_or_path!r}"
    path = Path(name_or_path)
    if path.is_file():
        return path, f"constitution file {name_or_path}"
    if path.suffix in (".yaml", ".yml") or "/" in name_or_path:
        raise TailscopeError(f"constitution file {name_or_path} not found: check the path")
    raise TailscopeError(
        f"unknown constitution {name_or_path!r}: use one of {available}, or a .yaml path"
    )


def _explain(error: ValidationError) -> str:
    """The first validation error as one line naming the field."""
    first = error.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or "constitution"
    if first["type"] == "extra_forbidden":
        return f"unknown field {field!r}: see a built-in constitution for the fields"
    if first["type"] == "missing":
        return f"missing required field {field!r}: add it"
    if first["type"] == "too_short":
        return f"field {field!r} is empty: give at least one entry"
    return one_line(f"field {field!r}: {first['msg'].removeprefix('Value error, ')}")
