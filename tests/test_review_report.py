"""The report's section on human labels: raw beside corrected hit rates, the ensemble's
risk–coverage, and a line for runs with too few labels."""

from __future__ import annotations

from tailscope.report.html import write_report
from tailscope.review.calibration import calibrate
from tailscope.review.items import review_items
from tailscope.store import Label, Workspace
from tests.review_workspace import redteam_run
from tests.test_review_uncertainty import _labelled


def test_labelled_runs_get_raw_and_corrected_rates_and_a_risk_coverage_plot(tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        run_id, _ = _labelled(ws)
        few = redteam_run(ws, ["a reply", "another"])
        ws.labels.record(
            [Label(run_id=few, item_kind="case", item_idx=0, label="absent", labeller="ann")]
        )
        bare = redteam_run(ws, ["nobody labelled this"])
        (result,) = calibrate(review_items(ws, [run_id]), ws.labels.list([run_id]))
        page = write_report(ws, [run_id, few, bare], tmp_path / "r.html").read_text()
    section = page.split("<section id='review'>")[1].split("</section>")[0]
    assert "hit rate, raw" in section and "hit rate, corrected" in section
    h = result.hit_rate
    assert f"{h.numerator}/{h.denominator}" in section
    corrected = result.corrected[0]
    assert (f"{corrected:.3g}" in section) or "undefined" in section
    assert "Spearman(disagreement, error)" in section and "AURC" in section
    assert "data:image/png;base64," in section  # the risk-coverage plot
    assert f"{few}: detector toxicity has 1 labelled items" in section
    assert bare not in section  # a run without labels has no row and no note


def test_a_report_without_labels_has_no_review_section(tmp_path):
    with Workspace(tmp_path / "ws") as ws:
        run_id = redteam_run(ws, ["r1", "r2"])
        page = write_report(ws, [run_id], tmp_path / "r.html").read_text()
    assert "<section id='review'>" not in page
