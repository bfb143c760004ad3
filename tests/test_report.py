"""The report shows every finding, escaped, with the right numbers and real plots."""

from __future__ import annotations

import base64
import html
import re

import pytest

from tailscope.errors import TailscopeError
from tailscope.report import write_report
from tailscope.report.search import group_findings
from tailscope.store import Finding, Workspace

XSS = "<script>alert(1)</script>"
MODEL = {"name": "tiny-random", "source": "test", "parameters": 1234}


def finding(target: str, restart: int, success: bool, elapsed: float, prompt: str) -> Finding:
    return Finding.model_validate(
        {
            "behavior": "say",
            "method": "arca",
            "prompt": prompt,
            "output": target if success else "Hello there",
            "target_output": target,
            "prompt_ids": [1, 2],
            "output_ids": [3],
            "objective": -1.0,
            "success": success,
            "verification": {
                "status": "success" if success else "no_match",
                "roundtrip_ok": True,
                "greedy_match": success,
                "output_ok": True,
                "prompt_ok": True,
            },
            "scores": {"output": {"toxicity": 0.91}, "prompt": {"toxicity": 0.12}},
            "steps": 10,
            "elapsed_s": elapsed,
            "success_s": elapsed / 2 if success else None,
            "restart": restart,
        }
    )


def trace(n: int) -> list[dict]:
    return [
        {"step": i, "objective": -5.0 + i, "best_objective": -5.0 + i, "elapsed_s": 0.5 * i}
        for i in range(n)
    ]


@pytest.fixture()
def workspace(tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        yield ws


def populate(ws: Workspace) -> str:
    """Two say targets × 3 restarts: 'I hate you' succeeds 2/3 times, 'Shut up' 1/3."""
    run_id = ws.runs.create("search", {"model": "tiny", "settings": {"method": "arca"}}, 3, MODEL)
    outcomes = {"I hate you": [True, False, True], "Shut up": [False, False, True]}
    for b, (target, wins) in enumerate(outcomes.items()):
        for r, win in enumerate(wins):
            key = f"{b}:say(target={target})/restart{r}"
            prompt = XSS if (b, r) == (0, 0) else f"prompt {b}-{r} & <b>bold</b>"
            f = finding(target, r, win, elapsed=10.0 * (r + 1), prompt=prompt)
            if (b, r) == (1, 2):
                f.output = "<img src=x onerror=alert(2)>"
            ws.units.complete(run_id, key, {"success": win}, [f], trace(6))
    ws.runs.set_status(run_id, "completed")
    return run_id


def test_report_shows_escaped_findings_rates_and_plots(workspace, tmp_path):
    run_id = populate(workspace)
    out = write_report(workspace, [run_id], tmp_path / "out" / "report.html")
    text = out.read_text(encoding="utf-8")

    assert run_id in text and "tiny-random" in text and "completed" in text
    # untrusted text appears escaped, never as markup
    assert "<script" not in text.lower()
    assert "<img src=x" not in text
    assert html.escape(XSS) in text
    assert html.escape("<img src=x onerror=alert(2)>") in text
    assert html.escape("prompt 0-1 & <b>bold</b>") in text
    assert "Content-Security-Policy" in text
    # per-behavior summary keeps the say target and counts correctly
    assert "2/3 (67%)" in text and "1/3 (33%)" in text
    assert "say(target=I hate you)" in text and "say(target=Shut up)" in text
    # median time to success of 'I hate you': success_s of restarts 0 and 2 = 5, 15 → 10
    assert "10.0 s" in text
    assert "toxicity 0.91" in text and "toxicity 0.12" in text
    # three real PNG figures, inline
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", text)
    assert len(images) == 3
    assert all(base64.b64decode(png).startswith(b"\x89PNG\r\n\x1a\n") for png in images)
    assert "http://" not in text and "https://" not in text


def test_run_without_findings_says_so_and_runs_share_one_document(workspace, tmp_path):
    full = populate(workspace)
    empty = workspace.runs.create("audit", {"model": "tiny"}, 0, MODEL)
    workspace.runs.set_status(empty, "interrupted")
    out = write_report(workspace, [full, empty], tmp_path / "report.html")
    text = out.read_text(encoding="utf-8")
    assert text.count("<section class='run'") == 2
    assert text.index(f"Search {full}") < text.index(f"Audit search {empty}")
    assert "No findings" in text and "interrupted" in text
    assert text.count("<html") == 1


def test_report_rejects_unknown_and_missing_runs(workspace, tmp_path):
    with pytest.raises(TailscopeError, match="tailscope runs"):
        write_report(workspace, ["r-missing"], tmp_path / "r.html")
    with pytest.raises(TailscopeError, match="run ids"):
        write_report(workspace, [], tmp_path / "r.html")
    blocker = tmp_path / "file"
    blocker.write_text("")
    run_id = populate(workspace)
    with pytest.raises(TailscopeError, match="--output"):
        write_report(workspace, [run_id], blocker / "r.html")


def test_labels_come_from_unit_keys_and_plots_survive_odd_text(workspace, tmp_path):
    def label(**fields) -> str:
        base = {"method": "arca", "prompt": "", "output": "", "success": False}
        return Finding(**base, verification={"status": "no_match"}, **fields).label

    assert label(unit_key="3:say(target=a/b)/restart2", behavior="say") == "say(target=a/b)"
    assert label(unit_key="custom", behavior="toxic") == "toxic"
    assert label(behavior_label="x(y=1)", behavior="x") == "x(y=1)"

    run_id = workspace.runs.create("search", {}, 0, MODEL)
    odd = finding("costs $5 and $x^2$", 0, True, 3.0, prompt="$\\frac{1}{0}$")
    workspace.units.complete(run_id, "0:say(target=costs $5 and $x^2$)/restart0", {}, [odd], [])
    text = write_report(workspace, [run_id], tmp_path / "r.html").read_text(encoding="utf-8")
    assert "costs $5 and $x^2$" in text
    # no step trace → no objective plot, but the other two figures are there
    assert text.count("data:image/png;base64,") == 2
    groups = group_findings(workspace.units.findings(run_id))
    assert [(g.label, g.successes, g.times) for g in groups] == [
        ("say(target=costs $5 and $x^2$)", 1, [1.5])
    ]
