"""Reading the files users hand in: a YAML file that must hold one mapping (behavior specs,
target files, run configs) and JSON-lines files (query pools, probabilities), with every
problem reported as one line naming the file, the line and the fix."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from tailscope.errors import TailscopeError


def one_line(text: str) -> str:
    return " ".join(text.split())


def read_mapping(path: Path, label: str, shape: str) -> dict:
    """The mapping in `path`. `label` starts every message ("behavior file x.yaml"); `shape`
    says what the mapping should hold, for the message when it is something else."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise TailscopeError(
            one_line(f"{label}: malformed YAML{where} ({problem}): fix the YAML syntax there")
        ) from None
    except (OSError, UnicodeDecodeError) as e:
        raise TailscopeError(f"{label}: cannot read the file ({e}): check the path") from None
    if not isinstance(raw, dict):
        raise TailscopeError(f"{label}: the file must be a YAML mapping {shape}")
    return raw


def jsonl_rows(path: Path, text: str) -> Iterator[tuple[int, object]]:
    """(line number, parsed value) for every non-blank line of a JSON-lines text."""
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            yield number, json.loads(line)
        except json.JSONDecodeError as exc:
            raise TailscopeError(
                f"{path}:{number} is not valid JSON ({exc.msg}): one object per line"
            ) from None
