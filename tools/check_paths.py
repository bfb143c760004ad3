"""Fail when source, test or benchmark code names an absolute path on this machine.

A fresh clone has none of what earlier work left in the temp directory, a home directory
or another checkout: a test that reads such a path passes only where it was written. Every
string literal (f-string parts included) is checked for the roots such paths live under;
the test suite's own `tmp_path` and the user cache found through `tailscope.paths` are the
ways to get a directory.

Usage: python tools/check_paths.py [DIR_OR_FILE ...]   (default: src tests benchmarks tools)
Exit status 1 and one line per hit when any literal names such a path.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

# Roots of per-machine state: temp dirs, home dirs, checkouts and mounts.
MACHINE_ROOTS = ("tmp", "var/tmp", "root", "home", "Users", "work", "mnt", "opt", "srv", "private")
_MACHINE_PATH = re.compile(
    r"(?<![\w.~-])/(?:" + "|".join(map(re.escape, MACHINE_ROOTS)) + r")(?=/|\b)"
)
DEFAULT_TARGETS = ("src", "tests", "benchmarks", "tools")


def machine_paths(source: str, filename: str = "<string>") -> list[tuple[int, str]]:
    """(line, literal) for every string literal in `source` that names a machine path."""
    hits = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _MACHINE_PATH.search(node.value):
                hits.append((node.lineno, node.value))
    return sorted(hits)


def python_files(targets: list[str]) -> list[Path]:
    files = []
    for target in map(Path, targets):
        if target.is_file():
            files.append(target)
        elif target.is_dir():
            files.extend(sorted(target.rglob("*.py")))
    return files


def main(argv: list[str]) -> int:
    targets = argv or [t for t in DEFAULT_TARGETS if Path(t).exists()]
    found = 0
    for path in python_files(targets):
        for line, literal in machine_paths(path.read_text(encoding="utf-8"), str(path)):
            shown = literal if len(literal) <= 60 else literal[:57] + "..."
            print(
                f"{path}:{line}: absolute machine path in {shown!r}: use tmp_path, "
                "an installed package or tailscope.paths instead"
            )
            found += 1
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
