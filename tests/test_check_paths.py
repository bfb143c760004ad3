"""The absolute-path check `make test` runs: it must catch what broke fresh clones.

The sample sources are built from pieces, so that this file names no such path itself."""

from __future__ import annotations

import importlib.util
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("check_paths", REPO / "tools" / "check_paths.py")
check_paths = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(check_paths)

TMP, HOME, ROOT, WORK, VAR = (f"/{root}" for root in ("tmp", "home", "root", "work", "var/tmp"))


def test_literals_naming_machine_roots_are_caught():
    source = "\n".join(
        [
            f'a = AutoTokenizer.from_pretrained("{TMP}/smol")',
            f'b = f"{HOME}/{{user}}/models"',
            f"c = Path('{ROOT}/.cache/tailscope')",
            f'd = "cd {WORK}/main && make"',
            f'e = "{VAR}/x"',
        ]
    )
    hits = check_paths.machine_paths(source)
    assert [line for line, _ in hits] == [1, 2, 3, 4, 5]
    assert hits[0][1] == f"{TMP}/smol"


def test_relative_paths_urls_and_lookalikes_pass():
    source = "\n".join(
        [
            'a = "https://example.com/home/page"',
            'b = "benchmarks/results/tmp/x.json"',
            'c = "tmp/x"',
            f'd = "{TMP}file is not a root"',
            "e = tmp_path / 'ws'",
            'f = "~/.cache/tailscope"',
        ]
    )
    assert check_paths.machine_paths(source) == []


def test_the_repository_names_no_machine_path(monkeypatch, capsys):
    monkeypatch.chdir(REPO)
    assert check_paths.main([]) == 0, capsys.readouterr().out


def test_a_bad_file_fails_the_check_with_its_line(tmp_path, capsys):
    bad = tmp_path / "test_bad.py"
    bad.write_text(f'x = 1\nTOKENIZER = "{TMP}/smol"\n')
    assert check_paths.main([str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:2:" in out and f"{TMP}/smol" in out
