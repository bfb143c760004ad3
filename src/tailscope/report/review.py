"""The report's section on human labels: for every reported run that has labels, each
detector's error rates against them and the run's hit rate raw beside the one corrected for
those errors (Rogan–Gladen), so a reader sees how far the detector moves the headline."""

from __future__ import annotations

from tailscope.errors import TailscopeError
from tailscope.report.blocks import band, esc, figure, num, table
from tailscope.report.plots import STYLE, png
from tailscope.review.calibration import Calibration, Rate, calibrate
from tailscope.review.items import REVIEWABLE, run_items
from tailscope.review.uncertainty import EnsembleEvaluation, evaluate_labels
from tailscope.store import Run, Workspace

_HEAD = [
    "run",
    "behavior",
    "detector",
    "labelled (TP / FP / FN / TN), by queue order",
    "precision",
    "recall",
    "hit rate, raw",
    "hit rate, corrected",
]


def review_section(ws: Workspace, runs: list[Run]) -> str:
    """'' when no reported run has labels."""
    rows, notes, ensembles = [], [], {}
    for run in runs:
        labels = ws.labels.list([run.id]) if run.kind in REVIEWABLE else []
        if not labels:
            continue
        items = run_items(ws, run)
        try:
            results = calibrate(items, labels)
        except TailscopeError as exc:  # too few labels: say how many, as the CLI does
            notes.append(f"<li>{esc(run.id)}: {esc(exc)}</li>")
            continue
        rows += [_row(run.id, items[0].behavior.label, result) for result in results]
        try:
            ensembles[run.id] = evaluate_labels(items, labels)
        except TailscopeError as exc:
            notes.append(f"<li>{esc(run.id)}, ensemble: {esc(exc)}</li>")
    if not rows and not notes:
        return ""
    parts = ["<section id='review'>", "<h2>Detectors against human labels</h2>", _INTRO]
    if rows:
        parts.append(table(_HEAD, rows))
    if ensembles:
        parts += [_ENSEMBLE_INTRO, table(_ENSEMBLE_HEAD, _ensemble_rows(ensembles))]
        parts.append(figure(risk_coverage_plot(ensembles), "risk-coverage curves"))
    if notes:
        parts.append("<p>Not calibrated:</p><ul>" + "".join(notes) + "</ul>")
    parts.append("</section>")
    return "\n".join(parts)


_ENSEMBLE_INTRO = (
    "<p class='muted'>A bagged ensemble of logistic regressions on each reply's MiniLM "
    "embedding and the detector's score, every item predicted by members that never saw its "
    "label (stratified folds). Risk–coverage: answer the most confident items first (the "
    "ensemble by |P − 0.5|, the detector by its distance from the threshold); AURC is the "
    "mean risk, lower is better. Spearman's correlation of the members' disagreement with "
    "being wrong says whether it tracks the errors (Gleave &amp; Irving 2022).</p>"
)
_ENSEMBLE_HEAD = [
    "run",
    "labelled",
    "accuracy (ensemble / detector)",
    "AURC (ensemble / detector)",
    "Spearman(disagreement, error)",
    "abstains on",
    "error where it answers",
]


def _ensemble_rows(ensembles: dict[str, EnsembleEvaluation]) -> list[list[str]]:
    return [
        [
            esc(run_id),
            str(e.labelled),
            f"{e.accuracy:.3f} / {e.detector_accuracy:.3f}",
            f"{e.aurc:.4f} / {e.detector_aurc:.4f}",
            num(e.disagreement_error_spearman),
            f"{e.abstained} of {e.labelled}",
            num(e.risk_answered),
        ]
        for run_id, e in ensembles.items()
    ]


def risk_coverage_plot(ensembles: dict[str, EnsembleEvaluation]) -> str:
    from matplotlib import rc_context
    from matplotlib.figure import Figure

    with rc_context(STYLE):
        fig = Figure(figsize=(6, 3.6))
        ax = fig.add_subplot()
        for run_id, e in ensembles.items():
            line = ax.plot(e.coverage, e.risk, label=f"{run_id} ensemble")[0]
            ax.plot(
                e.coverage,
                e.detector_risk,
                linestyle="--",
                color=line.get_color(),
                label=f"{run_id} detector",
            )
        ax.set_xlabel("coverage (share of items answered, most confident first)")
        ax.set_ylabel("risk (error rate among them)")
        ax.set_xlim(0, 1)
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=7, frameon=False)
        ax.set_title("Risk-coverage against the human labels")
        return png(fig)


_INTRO = (
    "<p class='muted'>Each labelled item's human verdict (the majority of its present/absent "
    "labels) against the detector's verdict at its threshold; 95% Wilson intervals. The "
    "corrected hit rate is Rogan–Gladen's (observed + specificity − 1) / (sensitivity + "
    "specificity − 1), its interval carrying the uncertainty of both error rates. The error "
    "rates are only as representative as the labelled items: labels gathered in uncertainty "
    "order over-represent hard cases.</p>"
)


def _row(run_id: str, behavior: str, c: Calibration) -> list[str]:
    tp, fp, fn, tn = c.confusion
    corrected, low, high = c.corrected
    return [
        esc(run_id),
        esc(behavior),
        esc(c.detector),
        f"{c.labelled} ({tp} / {fp} / {fn} / {tn})<br><span class='muted'>"
        + esc(", ".join(f"{name} {n}" for name, n in sorted(c.orders.items())))
        + "</span>",
        _rate(c.rates["precision"]),
        _rate(c.rates["recall"]),
        f"{_rate(c.hit_rate)} <span class='muted'>{c.hit_rate.numerator}/"
        f"{c.hit_rate.denominator}</span>",
        "undefined (detector no better than chance)"
        if corrected != corrected
        else f"{num(corrected)} {band(_finite(low), _finite(high))}",
    ]


def _rate(r: Rate) -> str:
    if r.value is None:
        return "-"
    return f"{num(r.value)} {band(r.low, r.high)}"


def _finite(x: float) -> float | None:
    return None if x != x else x
