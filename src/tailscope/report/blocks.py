"""The pieces every report section is built from. Everything from the workspace (prompts,
model output, names, configs) is untrusted text and goes through `esc`."""

from __future__ import annotations

import html
import json
import math

from tailscope.behaviors.ref import BehaviorRef
from tailscope.store import Run

_RUN_STATUS_CLASSES = {
    "completed": "ok",
    "running": "warn",
    "interrupted": "warn",
    "failed": "bad",
}


def esc(value) -> str:
    return html.escape("" if value is None else str(value), quote=True)


def badge(text: str, css: str) -> str:
    return f"<span class='badge {css}'>{esc(text)}</span>"


def run_badge(status: str) -> str:
    return badge(status, _RUN_STATUS_CLASSES.get(status, "muted"))


def figure(png: str | None, alt: str) -> str:
    """An inlined PNG (base64), or nothing when there was nothing to plot."""
    if not png:
        return ""
    return f"<figure><img alt='{esc(alt)}' src='data:image/png;base64,{png}'></figure>"


def table(head: list[str], rows: list[list[str]], css: str = "") -> str:
    """`head` and the cells of `rows` are HTML already (escape what goes in)."""
    header = "".join(f"<th>{h}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    cls = f" class='{css}'" if css else ""
    return f"<table{cls}><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>"


def quote(value) -> str:
    """Model input or output, shown verbatim (whitespace kept) and escaped."""
    if value is None:
        return "<span class='muted'>—</span>"
    if value == "":
        return "<span class='muted'>(empty)</span>"
    return f"<span class='quote'>{esc(value)}</span>"


def pct(x: float | None) -> str:
    return "-" if x is None or math.isnan(x) else f"{100 * x:.1f}%"


def num(x: float | None, digits: int = 3) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


def band(low: float | None, high: float | None) -> str:
    return "-" if low is None or high is None else f"[{low:.3g}, {high:.3g}]"


def behavior_label(run: Run) -> str:
    """The behavior a run records, as runs label it, e.g. say(target=Hi)."""
    return BehaviorRef.model_validate(run.config.get("behavior", {})).label()


def run_section(run: Run, title: str, parts: list[str]) -> str:
    """A run's section: its heading with status, its details, then `parts`."""
    return "\n".join(
        [
            f"<section class='run' id='run-{esc(run.id)}'>",
            f"<h2>{esc(title)} {esc(run.id)} {run_badge(run.status)}</h2>",
            *parts[:1],
            run_details(run),
            *parts[1:],
            "</section>",
        ]
    )


def run_details(run: Run) -> str:
    rows = [
        ("kind", esc(run.kind)),
        ("model", _model_identity(run.model)),
        ("seed", esc(run.seed)),
        ("created", esc(run.created_at)),
        ("updated", esc(run.updated_at)),
    ]
    if run.progress:
        done, total = run.progress.get("units_done", "?"), run.progress.get("units_total", "?")
        rows.append(("progress", f"{esc(done)} / {esc(total)}"))
    if run.error:
        rows.append(("error", f"<span class='error'>{esc(run.error)}</span>"))
    rows.append(("config", _key_values(_flatten(run.config))))
    env = ", ".join(f"{esc(k)} {esc(v)}" for k, v in run.environment.items() if v is not None)
    rows.append(("environment", env))
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table class='kv'>{body}</table>"


def _model_identity(model: dict) -> str:
    name = esc(model.get("name", "?"))
    rest = ", ".join(f"{esc(k)} {esc(v)}" for k, v in model.items() if k != "name")
    return f"<b>{name}</b>" + (f" <span class='muted'>({rest})</span>" if rest else "")


def _flatten(value, prefix: str = "") -> list[tuple[str, str]]:
    if isinstance(value, dict) and value:
        pairs = []
        for key, item in value.items():
            pairs += _flatten(item, f"{prefix}.{key}" if prefix else str(key))
        return pairs
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return [(prefix or "value", text)]


def _key_values(pairs: list[tuple[str, str]]) -> str:
    items = "".join(f"<li><code>{esc(k)}</code> = {esc(v)}</li>" for k, v in pairs)
    return f"<ul class='config'>{items}</ul>"
