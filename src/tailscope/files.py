"""Reading the files users hand in: a YAML file that must hold one mapping (behavior specs,
target files, run configs) and JSON-lines files (query pools, probabilities), with every
problem reported as one line naming the file, the line and the fix.

Files come from anywhere, so reading is bounded: a size cap before parsing, and YAML
aliases refused (an alias bomb expands a 1 kB file into gigabytes)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path

import yaml

from tailscope.errors import TailscopeError

MAX_YAML_BYTES = 1 << 20  # specs and configs are a few kB
MAX_DATA_BYTES = 1 << 30  # query pools and probability files

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def one_line(text: str) -> str:
    return " ".join(text.split())


def read_text_file(path: Path, label: str, max_bytes: int = MAX_DATA_BYTES) -> str:
    """The text of a UTF-8 (or BOM-marked UTF-16) file, or one line saying what is wrong."""
    if path.is_dir():
        raise TailscopeError(f"{label} is a directory, not a file: pass the file inside it")
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise TailscopeError(
                f"{label} is {size:,} bytes, over the {max_bytes:,}-byte limit for this file"
            )
        data = path.read_bytes()
    except OSError as e:
        raise TailscopeError(
            f"{label}: cannot read the file ({e.strerror}): check the path"
        ) from None
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as e:
        raise TailscopeError(
            f"{label} is not UTF-8 text (undecodable byte at offset {e.start}): save it as UTF-8"
        ) from None
    if "\x00" in text:
        raise TailscopeError(f"{label} holds NUL bytes, so it is not a text file: check the path")
    return text


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases (`*name`): nothing tailscope reads needs them."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, "YAML aliases (*name) are not allowed", event.start_mark
            )
        return super().compose_node(parent, index)


def read_mapping(path: Path, label: str, shape: str) -> dict:
    """The mapping in `path`. `label` starts every message ("behavior file x.yaml"); `shape`
    says what the mapping should hold, for the message when it is something else."""
    text = read_text_file(path, label, MAX_YAML_BYTES)
    try:
        raw = yaml.load(text, Loader=_NoAliasLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or str(e)
        raise TailscopeError(
            one_line(f"{label}: malformed YAML{where} ({problem}): fix the YAML syntax there")
        ) from None
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
