"""`tailscope review`, `labels export|import` and `calibrate`: people label what the
detectors flagged, and the labels measure the detectors."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from tailscope.cli.common import (
    JsonOpt,
    RegistryGroup,
    RegistryHelp,
    SeedOpt,
    WorkspaceOpt,
    add_row,
    console,
    open_workspace,
    out,
    print_json,
    say,
)
from tailscope.errors import TailscopeError

labels_app = typer.Typer(
    help="Move human labels in and out of the workspace (JSONL or CSV).",
    no_args_is_help=True,
    cls=RegistryGroup,
)
RunIdsArg = Annotated[
    list[str] | None, typer.Argument(help="Run ids (default: every run in the workspace).")
]


@labels_app.command("export", cls=RegistryHelp)
def labels_export(
    output: Annotated[Path, typer.Option("--output", "-o", help="A .jsonl or .csv file.")],
    run_ids: RunIdsArg = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Write the labels, one row per label: item text, the detector's suggestion with its
    score, and the human response (the flat shape Argilla and Label Studio export)."""
    from tailscope.review.exchange import export_rows, write_labels

    ws = open_workspace(workspace)
    rows = export_rows(ws, list(run_ids or []))
    write_labels(rows, output)
    say(f"{len(rows)} labels written to {output}", to_stdout=True)


@labels_app.command("import", cls=RegistryHelp)
def labels_import(
    path: Annotated[Path, typer.Argument(help="A .jsonl or .csv file, as `labels export` writes.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Read labels into the workspace; a labeller's label of an item replaces their old one.
    Needs the columns run_id, item_kind, item_idx, response and labeller."""
    from tailscope.review.exchange import import_labels

    count = import_labels(open_workspace(workspace), path)
    say(f"{count} labels imported from {path}", to_stdout=True)


def review(
    run_ids: RunIdsArg = None,
    port: Annotated[int, typer.Option(help="Port to listen on (0: any free port).")] = 8765,
    host: Annotated[
        str, typer.Option(help="Address to listen on; off loopback it needs --expose.")
    ] = "127.0.0.1",
    expose: Annotated[
        bool, typer.Option("--expose", help="Allow listening on a non-loopback address.")
    ] = False,
    no_browser: Annotated[
        bool, typer.Option("--no-browser", help="Do not open a browser.")
    ] = False,
    labeller: Annotated[str, typer.Option(help="Your name on the labels [default: $USER].")] = "",
    seed: SeedOpt = 0,
    workspace: WorkspaceOpt = None,
) -> None:
    """Label a run's items in the browser: a local web app, keyboard shortcuts, a queue
    ordered by uncertainty, disagreement or at random. Prints the URL, token included."""
    import os

    from tailscope.review.app import ReviewSession
    from tailscope.review.items import review_items
    from tailscope.review.server import bind, is_loopback, review_url, serve

    if not is_loopback(host) and not expose:
        raise TailscopeError(
            f"--host {host} is not a loopback address: anyone who can reach it and learns the "
            "token could label; pass --expose to mean it, or keep the default 127.0.0.1"
        )
    ws = open_workspace(workspace)
    items = review_items(ws, list(run_ids or []))
    if not items:
        where = " ".join(run_ids) if run_ids else f"workspace {ws.path}"
        raise TailscopeError(
            f"{where} has no items to review: run a search, red team or elicit first"
        )
    session = ReviewSession(
        ws.path, list(run_ids or []), items, labeller or os.environ.get("USER") or "reviewer", seed
    )
    sock = bind(host, port)
    url = review_url(sock, host, session.keys.token)
    if not is_loopback(host):
        console.print(
            f"warning: the review app listens on {host}, open to the network",
            style="bold red",
            markup=False,
        )
    say(f"reviewing {len(items)} items at {url}", to_stdout=True)
    if not no_browser:
        import webbrowser

        webbrowser.open(url)
    serve(session, sock, host)


def calibrate(
    run_id: Annotated[str, typer.Argument(help="Run id (see `tailscope runs`).")],
    method: Annotated[str, typer.Option(help="Recalibration: isotonic or platt.")] = "isotonic",
    precision: Annotated[
        float | None, typer.Option(help="Find the threshold that reaches this precision.")
    ] = None,
    recall: Annotated[
        float | None, typer.Option(help="Find the threshold that reaches this recall.")
    ] = None,
    order: Annotated[
        list[str] | None,
        typer.Option(
            "--order",
            help="Use only labels gathered in this queue order (repeatable): uncertainty, "
            "disagreement, ensemble, random, census or unrecorded.",
        ),
    ] = None,
    ensemble: Annotated[
        bool,
        typer.Option(
            "--ensemble",
            help="Also train the bagged ensemble on MiniLM features and score its "
            "uncertainty and abstention on held-out labels.",
        ),
    ] = False,
    members: Annotated[int, typer.Option(help="Ensemble members (with --ensemble).")] = 10,
    seed: SeedOpt = 0,
    workspace: WorkspaceOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Measure a run's detectors against the human labels: precision, recall, FPR and FNR at
    the current threshold with 95% intervals, a recalibrated score, and the run's hit rate
    raw beside the one corrected for the detector's errors (Rogan–Gladen)."""
    from tailscope.review.calibration import calibrate as calibrate_run
    from tailscope.review.items import run_items
    from tailscope.review.uncertainty import evaluate_labels

    target = _target(precision, recall)
    ws = open_workspace(workspace)
    run = ws.runs.get(run_id)
    items, labels = run_items(ws, run), ws.labels.list([run.id])
    results = calibrate_run(items, labels, method, target, orders=_orders(order))
    evaluation = evaluate_labels(items, labels, members, seed) if ensemble else None
    if as_json:
        print_json(calibration_json(results, evaluation))
        return
    print_calibration(results)
    if evaluation is not None:
        print_ensemble(evaluation)


def calibration_json(results, evaluation) -> dict:
    """The calibrations, each hit rate raw beside corrected as named fields, and the
    ensemble's evaluation where one was asked for."""
    from dataclasses import asdict

    detectors = []
    for r in results:
        row = asdict(r)
        value, low, high = row.pop("corrected")
        row["hit_rate_raw"] = row.pop("hit_rate")
        row["hit_rate_corrected"] = {"value": value, "low": low, "high": high}
        detectors.append(row)
    return {
        "detectors": detectors,
        "ensemble": asdict(evaluation) if evaluation is not None else None,
    }


def print_ensemble(e) -> None:
    say(
        f"ensemble of {e.members} bagged logistic regressions on MiniLM features, "
        f"{e.labelled} labelled items, {e.folds}-fold held-out predictions:",
        to_stdout=True,
    )
    table = Table("measure", "ensemble", "detector")
    add_row(table, "accuracy", f"{e.accuracy:.3f}", f"{e.detector_accuracy:.3f}")
    add_row(table, "AURC (lower is better)", f"{e.aurc:.4f}", f"{e.detector_aurc:.4f}")
    add_row(table, "Spearman(disagreement, error)", _maybe(e.disagreement_error_spearman), "-")
    add_row(
        table, "Spearman(total uncertainty, error)", _maybe(e.total_uncertainty_error_spearman), "-"
    )
    out.print(table)
    answered = "-" if e.risk_answered is None else f"{e.risk_answered:.3f}"
    say(
        f"abstain band |P - 0.5| < {e.band} or spread > {e.max_spread}: defers {e.abstained} "
        f"of {e.labelled} items; error rate on the rest {answered}",
        to_stdout=True,
    )


def _maybe(x: float) -> str:
    return "undefined" if x != x else f"{x:.3f}"


def _band(value: float | None, low: float | None, high: float | None) -> str:
    if value is None or value != value:  # None or NaN: no denominator, or undefined
        return "-"
    return f"{value:.3f} [{low:.3f}, {high:.3f}]"


def print_calibration(results) -> None:
    for r in results:
        tp, fp, fn, tn = r.confusion
        say(
            f"detector {r.detector} at threshold {r.threshold}: {r.labelled} labelled items "
            f"(TP {tp}, FP {fp}, FN {fn}, TN {tn})",
            to_stdout=True,
        )
        rates = Table("measure", "estimate [95% interval]", "count")
        for name, v in r.rates.items():
            add_row(rates, name, _band(v.value, v.low, v.high), f"{v.numerator}/{v.denominator}")
        out.print(rates)
        orders = ", ".join(f"{name} {count}" for name, count in sorted(r.orders.items()))
        say(f"labels by queue order: {orders}", to_stdout=True)
        hits = Table("hit rate", "raw", "corrected (Rogan-Gladen)")
        h = r.hit_rate
        add_row(
            hits,
            f"{h.numerator}/{h.denominator}",
            _band(h.value, h.low, h.high),
            _band(*r.corrected),
        )
        out.print(hits)
        curve = ", ".join(f"{s:.1f}->{p:.2f}" for s, p in r.curve)
        say(
            f"{r.method} recalibration, P(present) at score {curve}; Brier score raw "
            f"{r.brier_raw:.3f}, recalibrated {r.brier_calibrated:.3f} (cross-validated)",
            to_stdout=True,
        )
        if r.target is not None:
            say(_target_line(r.target), to_stdout=True)


def _target_line(t) -> str:
    if t.threshold is None:
        return f"no threshold reaches {t.metric} {t.wanted} on these labels"
    return (
        f"threshold {t.threshold:.4f} reaches {t.metric} {t.wanted}: precision "
        f"{t.precision:.3f}, recall {t.recall:.3f} on the labelled items"
    )


ORDER_CHOICES = ("uncertainty", "disagreement", "ensemble", "random", "census", "unrecorded")


def _orders(orders: list[str] | None) -> list[str] | None:
    unknown = [o for o in orders or [] if o not in ORDER_CHOICES]
    if unknown:
        raise TailscopeError(
            f"unknown queue order {unknown[0]!r}: use one of {', '.join(ORDER_CHOICES)}"
        )
    return orders or None


def _target(precision: float | None, recall: float | None) -> tuple[str, float] | None:
    if precision is not None and recall is not None:
        raise TailscopeError("give --precision or --recall, not both")
    metric, wanted = ("precision", precision) if precision is not None else ("recall", recall)
    if wanted is None:
        return None
    if not 0 < wanted <= 1:
        raise TailscopeError(f"--{metric} {wanted} must lie in (0, 1]")
    return metric, wanted


def register(app: typer.Typer) -> None:
    app.command(cls=RegistryHelp)(review)
    app.command(cls=RegistryHelp)(calibrate)
    app.add_typer(labels_app, name="labels")
