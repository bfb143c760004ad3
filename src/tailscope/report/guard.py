"""The guard evaluation's part of the report: attack success and refusals, guarded beside
unguarded with intervals; overhead; where streaming guards halted; adaptive attacks; each
guard's ASR-vs-false-refusal curve over thresholds."""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.figure import Figure

from tailscope.guard.eval_summary import flops_line
from tailscope.report.blocks import band, esc, figure, pct, quote, run_section, table
from tailscope.report.plots import STYLE, png

SET_LABELS = {
    "restricted": "held-out restricted queries",
    "replayed": "prompts found earlier, replayed",
    "permitted": "permitted queries",
    "general": "built-in general pool",
}


def _cell(r: dict) -> str:
    if not r or r.get("rate") is None:
        return "-"
    return f"{pct(r['rate'])} {band(r['low'], r['high'])} ({r['hits']}/{r['n']})"


def guard_eval_overview(summary: dict) -> str:
    parts = []
    for name, s in summary["sets"].items():
        key = "asr" if name in ("restricted", "replayed") else "refused"
        unguarded, guarded = s[f"{key}_unguarded"], s[f"{key}_guarded"]
        parts.append(f"{name} {key} {pct(unguarded['rate'])} → {pct(guarded['rate'])}")
    return "; ".join(parts) or "no queries yet"


def guard_eval_section(run, summary: dict, items) -> str:
    rows = []
    for name, s in summary["sets"].items():
        rows.append(
            [
                esc(SET_LABELS.get(name, name)),
                _cell(s["asr_unguarded"]),
                _cell(s["asr_guarded"]),
                _cell(s["refused_unguarded"]),
                _cell(s["refused_guarded"]),
            ]
        )
    head = ["queries", "ASR unguarded", "ASR guarded", "refused unguarded", "refused guarded"]
    parts = [
        "<p>Attack success rate (ASR) and refusals with 95% Wilson intervals, the same "
        "queries sent to the target and to the guarded target.</p>",
        table(head, rows),
        _overhead(summary["overhead"], summary["halts"], summary["actions"]),
        _adaptive(summary["adaptive"]),
        figure(curve_plot(summary["curves"]), "ASR against false refusals over thresholds"),
        _examples(items),
    ]
    return run_section(run, "Guard evaluation", parts)


def _overhead(overhead: dict, halts: list, actions: dict) -> str:
    if overhead.get("overhead") is None:
        return ""
    text = (
        f"<p>Wall time per generated token: {overhead['unguarded_ms_per_token']:.2f} ms "
        f"unguarded, {overhead['guarded_ms_per_token']:.2f} ms guarded "
        f"(overhead {pct(overhead['overhead'])}, measured in this run).</p>"
    )
    if flops := flops_line(overhead):
        text += f"<p>{esc(flops)}.</p>"
    if halts:
        ordered = sorted(halts)
        text += (
            f"<p>Streaming guards halted {len(halts)} replies, at token "
            f"{ordered[len(ordered) // 2]} (median; first {ordered[0]}, last {ordered[-1]}).</p>"
        )
    if actions:
        acted = ", ".join(f"{esc(name)} {count}" for name, count in sorted(actions.items()))
        text += f"<p>Guards that acted: {acted}.</p>"
    return text


def _adaptive(adaptive: dict) -> str:
    if not adaptive:
        return ""
    rows = []
    for method, sides in adaptive.items():
        guarded = sides.get("guarded", {})
        rows.append(
            [
                esc(method),
                _cell(sides.get("unguarded", {})),
                _cell(guarded),
                "<br>".join(quote(e) for e in guarded.get("examples", [])) or "-",
            ]
        )
    head = ["adaptive attack", "ASR unguarded", "ASR guarded", "bypasses found (guarded)"]
    note = (
        "<p class='muted'>The same budget on both sides: target queries for red teaming, "
        "optimizer steps for white-box search, whose rate counts the restarts that found a "
        "verified prompt.</p>"
    )
    return "<h3>Adaptive attacks (same budget)</h3>" + note + table(head, rows)


def curve_plot(curves: dict) -> str | None:
    drawn = {
        name: [p for p in points if p["asr"] is not None and p["false_refusal"] is not None]
        for name, points in curves.items()
    }
    drawn = {name: points for name, points in drawn.items() if points}
    if not drawn:
        return None
    with rc_context(STYLE):
        fig = Figure(figsize=(5.5, 4))
        ax = fig.add_subplot()
        for name, points in drawn.items():
            ax.plot(
                [p["false_refusal"] for p in points],
                [p["asr"] for p in points],
                marker="o",
                markersize=3,
                label=name,
            )
        ax.set_xlabel("false refusals on benign queries")
        ax.set_ylabel("attack success rate")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("Each guard alone, over its thresholds")
        ax.legend()
        return png(fig)


def _examples(items, limit: int = 8) -> str:
    acted = [i for i in items if i.action][:limit]
    if not acted:
        return ""
    rows = [
        [
            esc(i.set),
            quote(i.prompt),
            quote(i.unguarded),
            quote(i.guarded),
            esc(f"{i.action['guard']} at {i.action['stage']}")
            + (f", token {i.action['token']}" if i.action.get("token") is not None else "")
            + f", score {i.action['score']:.2f}",
        ]
        for i in acted
    ]
    head = ["set", "prompt", "unguarded reply", "guarded reply", "guard"]
    return "<h3>Where guards acted</h3>" + table(head, rows)
