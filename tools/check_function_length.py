"""Fail when a function in src/ is longer than the house allows (60 lines, signature and
docstring included): ruff limits statements and branches, not lines.

Usage: python tools/check_function_length.py [--max N] [DIR_OR_FILE ...]   (default: src)
Exit status 1 and one line per function over the limit, longest first.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

MAX_LINES = 60


def long_functions(source: str, filename: str, limit: int) -> list[tuple[int, str, int]]:
    """(line, qualified name, length) of every function longer than `limit` lines."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    start = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    length = child.end_lineno - start + 1
                    if length > limit:
                        found.append((start, name, length))
                visit(child, f"{name}.")

    visit(ast.parse(source, filename), "")
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max", type=int, default=MAX_LINES)
    parser.add_argument("targets", nargs="*", default=["src"])
    args = parser.parse_args(argv)
    hits = []
    for target in map(Path, args.targets):
        files = [target] if target.is_file() else sorted(target.rglob("*.py"))
        for path in files:
            for line, name, length in long_functions(path.read_text(), str(path), args.max):
                message = f"{path}:{line}: {name} is {length} lines (at most {args.max})"
                hits.append((length, message))
    for _, message in sorted(hits, reverse=True):
        print(message)
    return 1 if hits else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
