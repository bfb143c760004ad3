"""`tailscope forecast` plots only when asked, where asked; a small elicitation run still
gets a report (issue 17: 6, 7, 11e); the diagnostics are printed with the forecast."""

from __future__ import annotations

import json

import numpy as np

from tests.cli import assert_one_line_error, tailscope


def p_file(tmp_path):
    path = tmp_path / "p.csv"
    psi = -3 + 0.5 * np.random.default_rng(0).exponential(size=300)
    path.write_text("p\n" + "\n".join(str(np.exp(-np.exp(-x))) for x in psi) + "\n")
    return path


def test_json_forecast_writes_no_plot_unless_asked(tmp_path, monkeypatch):
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    args = ("forecast", "--input", str(p_file(tmp_path)), "--bootstrap", "50")
    result = tailscope(*args, "--json", workspace=tmp_path / "ws")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["plot"] is None
    assert list(here.iterdir()) == []
    table = tailscope(*args, workspace=tmp_path / "ws")
    assert table.returncode == 0 and "plot written" not in table.stdout
    assert "tail shape (top 17)" in table.stdout and "rank window" in table.stdout
    assert list(here.iterdir()) == []


def test_plot_into_a_directory_prints_the_file_and_a_missing_one_is_one_line(tmp_path):
    source = str(p_file(tmp_path))
    out_dir = tmp_path / "plots"
    out_dir.mkdir()
    result = tailscope(
        "forecast", source, "--bootstrap", "50", "--plot", str(out_dir), workspace=tmp_path
    )
    assert result.returncode == 0, result.stderr
    written = out_dir / "forecast.png"
    assert written.read_bytes()[:4] == b"\x89PNG"
    assert f"plot written to {written}" in result.stdout
    missing = tmp_path / "nope" / "f.png"
    result = tailscope("forecast", source, "--plot", str(missing), workspace=tmp_path)
    assert_one_line_error(result, "does not exist")
    assert not missing.parent.exists()


def test_report_of_a_small_elicitation_run_says_not_enough_signal(tmp_path, tiny_model_dir):
    ws = tmp_path / "ws"
    pool = tmp_path / "q.txt"
    pool.write_text("What is one?\nWhat is two?\nWhat is three?\n")
    assert tailscope("queries", "import", str(pool), "--pool", "few", workspace=ws).returncode == 0
    run = tailscope(
        "elicit", "-b", "say", "-p", "target=I hate you", "--pool", "few", "--method",
        "exact", "-m", str(tiny_model_dir), "--json", workspace=ws,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    report = tmp_path / "r.html"
    result = tailscope("report", json.loads(run.stdout)["run"], "-o", str(report), workspace=ws)
    assert result.returncode == 0, result.stderr
    assert "not enough signal" in report.read_text()


def test_a_pool_with_all_p_tied_is_one_line(tmp_path):
    path = tmp_path / "tied.csv"
    path.write_text("p\n" + "\n".join(["0.25"] * 40 + ["0"] * 60) + "\n")
    result = tailscope("forecast", "--input", str(path), workspace=tmp_path / "ws")
    assert_one_line_error(result, "all 40 queries with p > 0 have the same p = 0.25")
