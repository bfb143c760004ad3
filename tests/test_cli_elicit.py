"""`tailscope queries|elicit|forecast|backtest` as a user runs them: subprocesses, exit codes."""

from __future__ import annotations

import html
import json
from pathlib import Path

import numpy as np

from tailscope.store.workspace import Workspace
from tests.cli import assert_one_line_error, kill_when, start, tailscope

QUESTIONS = [f"Question number {i}: what is {i} plus {i * 3}?" for i in range(39)] + [
    "Is <script>alert(1)</script> safe?"
]


def test_import_elicit_exact_forecast_and_backtest(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    pool_file = tmp_path / "q.txt"
    pool_file.write_text("\n".join(QUESTIONS + QUESTIONS[:5]) + "\n")
    result = tailscope("queries", "import", str(pool_file), "--pool", "qs", "--json", workspace=ws)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"pool": "qs", "read": 45, "added": 40, "size": 40}

    result = tailscope(
        "elicit",
        "-b",
        "say",
        "-p",
        "target=I hate you",
        "--pool",
        "qs",
        "--method",
        "exact",
        "-m",
        str(tiny_model_dir),
        "--json",
        workspace=ws,
    )
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    rows = data["results"]
    assert [r["query"] for r in rows] == QUESTIONS
    assert all(r["method"] == "exact" and r["logp"] < 0 for r in rows)
    assert all(np.isclose(r["p"], np.exp(r["logp"])) for r in rows)

    plot = tmp_path / "f.png"
    result = tailscope(
        "forecast",
        data["run"],
        "--deploy",
        "1e5",
        "--plot",
        str(plot),
        "--bootstrap",
        "100",
        "--json",
        workspace=ws,
    )
    assert result.returncode == 0, result.stderr
    fc = json.loads(result.stdout)
    assert fc["m"] == 40 and fc["deploy_n"] == 100_000
    gumbel = next(m for m in fc["methods"] if m["method"] == "expected")
    assert gumbel["status"] == "ok"
    assert gumbel["q_p_low"] <= gumbel["q_p"] <= gumbel["q_p_high"]
    assert gumbel["q_p"] >= fc["observed_max_p"]  # the worst of 1e5 beats the worst of 40
    assert plot.read_bytes()[:4] == b"\x89PNG"
    table = tailscope(
        "forecast",
        data["run"],
        "--deploy",
        "1e5",
        "--plot",
        str(plot),
        "--bootstrap",
        "50",
        workspace=ws,
    )
    assert table.returncode == 0 and "expected" in table.stdout

    report = tmp_path / "report.html"
    result = tailscope("report", data["run"], "-o", str(report), workspace=ws)
    assert result.returncode == 0, result.stderr
    page = report.read_text()
    assert "Forecast" in page and "data:image/png;base64," in page
    top = max(rows, key=lambda r: r["logp"])["query"]
    assert html.escape(top) in page and "<script>alert" not in page

    p_file = tmp_path / "p.csv"
    rng = np.random.default_rng(0)
    p_file.write_text("p\n" + "\n".join(str(x) for x in rng.uniform(0, 0.01, 300)) + "\n")
    result = tailscope(
        "backtest",
        "--input",
        str(p_file),
        "--m",
        "20",
        "--n",
        "200",
        "--repeats",
        "20",
        "--json",
        workspace=ws,
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)["methods"]
    assert {s["method"] for s in scores} == {
        "expected",
        "paper",
        "pot",
        "log-normal",
        "eval-max",
        "fixed-slope",
    }
    assert all(s["forecasts"] == 20 for s in scores)

    # A file where the run id goes is read as the file, the same as --input FILE.
    forecasts = [
        tailscope("forecast", *source, "--plot", str(plot), "--json", workspace=ws)
        for source in ([str(p_file)], ["--input", str(p_file)])
    ]
    assert all(f.returncode == 0 for f in forecasts), forecasts[0].stderr
    assert json.loads(forecasts[0].stdout) == json.loads(forecasts[1].stdout)
    missing = tailscope("forecast", str(tmp_path / "nope.csv"), workspace=ws)
    assert_one_line_error(missing, "nope.csv")


def test_not_enough_signal_is_said_not_computed(tmp_path):
    p_file = tmp_path / "p.csv"
    p_file.write_text("p\n" + "\n".join(["0"] * 95 + ["0.01"] * 5) + "\n")
    result = tailscope(
        "forecast",
        "--input",
        str(p_file),
        "--deploy",
        "1e6",
        "--plot",
        str(tmp_path / "f.png"),
        workspace=tmp_path / "ws",
    )
    assert result.returncode == 0, result.stderr
    assert "not enough signal" in result.stdout
    assert "only 5 of 100" in " ".join(result.stdout.split())


def test_bad_input_gets_one_line_and_exit_2(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    tiny = str(tiny_model_dir)
    (tmp_path / "empty.txt").write_text("\n\n")
    (tmp_path / "q.txt").write_text("one?\ntwo?\n")
    (tmp_path / "nan.csv").write_text("p\n0.1\nnan\n")
    (tmp_path / "range.csv").write_text("p\n0.1\n1.2\n")
    (tmp_path / "ok.csv").write_text("p\n" + "\n".join(["0.1", "0.2"] * 20) + "\n")
    assert (
        tailscope(
            "queries", "import", str(tmp_path / "q.txt"), "--pool", "qs", workspace=ws
        ).returncode
        == 0
    )
    Workspace(ws).pools.create("empty")
    elicit = ["elicit", "-m", tiny, "--pool", "qs"]
    cases = [
        (["queries", "import", str(tmp_path / "empty.txt"), "--pool", "x"], ["no queries"]),
        (["queries", "import", str(tmp_path / "none.txt"), "--pool", "x"], ["not found"]),
        ([*elicit[:3], "--pool", "empty", "-b", "toxic-from-benign"], ["empty"]),
        ([*elicit[:3], "--pool", "nope", "-b", "toxic-from-benign"], ["no query pool 'nope'"]),
        ([*elicit, "-b", "toxic-from-benign", "--k", "0"], ["k = 0"]),
        ([*elicit, "-b", "toxic-from-benign", "--temperature", "0"], ["temperature"]),
        ([*elicit, "-b", "toxic-from-benign", "--temperature", "-1"], ["temperature"]),
        ([*elicit, "-b", "toxic-from-benign", "--method", "exact"], ["no target string"]),
        ([*elicit, "-b", "toxic-from-benign", "--method", "magic"], ["unknown method"]),
        (["elicit", "--resume", "r-nope"], ["r-nope"]),
        (["forecast", "--input", str(tmp_path / "nan.csv")], ["row 2", "nan"]),
        (["forecast", "--input", str(tmp_path / "range.csv")], ["row 2", "1.2"]),
        (["forecast", "--input", str(tmp_path / "ok.csv"), "--deploy", "10"], ["smaller than"]),
        (["forecast", "--input", str(tmp_path / "ok.csv"), "--deploy", "lots"], ["--deploy"]),
        (["forecast"], ["--input"]),
        (["forecast", "r-nope"], ["r-nope"]),
        (
            ["backtest", "--input", str(tmp_path / "ok.csv"), "--m", "30", "--n", "20"],
            ["smaller than evaluation"],
        ),
        (
            ["backtest", "--input", str(tmp_path / "ok.csv"), "--m", "10", "--n", "100"],
            ["fewer than m + n"],
        ),
    ]
    for args, fragments in cases:
        assert_one_line_error(tailscope(*args, workspace=ws), *fragments)


def _recorded(ws: Path) -> int:
    if not (ws / "workspace.db").exists():
        return 0
    workspace = Workspace(ws)
    runs = workspace.runs.list()
    return len(workspace.elicitations.indices(runs[0].id)) if runs else 0


def test_killed_elicitation_resumes_without_losing_or_changing_results(
    tmp_path,
    tiny_model_dir,
):
    queries = tmp_path / "q.txt"
    queries.write_text("\n".join(f"Tell me fact {i} about the sea?" for i in range(48)))
    args = [
        "elicit",
        "-b",
        "say",
        "-p",
        "target=radar",
        "--pool",
        "qs",
        "-m",
        str(tiny_model_dir),
        "--k",
        "8",
        "--max-new-tokens",
        "2",
        "--chunk",
        "8",
        "--seed",
        "3",
    ]
    for name in ("killed", "whole"):
        ws = tmp_path / name
        assert (
            tailscope("queries", "import", str(queries), "--pool", "qs", workspace=ws).returncode
            == 0
        )
    proc = start(*args, workspace=tmp_path / "killed")
    kill_when(proc, lambda: _recorded(tmp_path / "killed") >= 16)
    done_before = _recorded(tmp_path / "killed")
    assert 16 <= done_before < 48 and done_before % 8 == 0  # whole chunks only

    killed = Workspace(tmp_path / "killed")
    run_id = killed.runs.list()[0].id
    before = killed.elicitations.list(run_id)
    resumed = tailscope("elicit", "--resume", run_id, workspace=tmp_path / "killed")
    assert resumed.returncode == 0, resumed.stderr
    after = Workspace(tmp_path / "killed").elicitations.list(run_id)
    assert [r.query_idx for r in after] == list(range(48))
    assert after[: len(before)] == before  # completed work untouched
    assert Workspace(tmp_path / "killed").runs.get(run_id).status == "completed"

    whole = tailscope(*args, "--json", workspace=tmp_path / "whole")
    assert whole.returncode == 0, whole.stderr
    uninterrupted = json.loads(whole.stdout)["results"]
    # The same seed gives the same numbers, killed or not.
    assert [(r.hits, r.k) for r in after] == [(r["hits"], r["k"]) for r in uninterrupted]


def test_generate_stores_what_the_model_produces_and_stops_at_its_call_budget(
    tmp_path,
    tiny_model_dir,
):
    ws = tmp_path / "ws"
    result = tailscope(
        "queries",
        "generate",
        "--pool",
        "gen",
        "--count",
        "5",
        "-m",
        str(tiny_model_dir),
        "--max-new-tokens",
        "8",
        "--calls",
        "2",
        "--json",
        workspace=ws,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # A random model writes no numbered questions: nothing is made up, the pool exists.
    assert summary["pool"] == "gen" and summary["added"] == summary["size"] == 0
    assert summary["calls"] == 2
    pools = json.loads(tailscope("queries", "list", "--json", workspace=ws).stdout)
    assert [p["name"] for p in pools] == ["gen"]
    bad = tailscope("queries", "generate", "--pool", "gen", "--calls", "0", workspace=ws)
    assert_one_line_error(bad, "--calls 0")
