"""Figures for the HTML report, each returned as a base64 PNG so the report is one file.

Built on `matplotlib.figure.Figure` (Agg, no pyplot): no global figure state, no display.
Labels come from behavior specs and unit keys, so math-text parsing is off: a `$` in a
target string must not break (or be interpreted by) the plot.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure

SUCCESS_COLOR = "#2e7d32"
FAILURE_COLOR = "#9e9e9e"
BAR_COLOR = "#3f6fb5"
STYLE = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _height(rows: int) -> float:
    return 1.2 + 0.35 * max(rows, 1)


def success_rate_plot(
    labels: Sequence[str], successes: Sequence[int], totals: Sequence[int]
) -> str:
    """Horizontal bars of the success rate per behavior, annotated with k/n."""
    with rc_context(STYLE):
        fig = Figure(figsize=(7, _height(len(labels))))
        ax = fig.add_subplot()
        rates = [s / t if t else 0.0 for s, t in zip(successes, totals, strict=True)]
        y = np.arange(len(labels))
        ax.barh(y, rates, color=BAR_COLOR)
        for yi, rate, s, t in zip(y, rates, successes, totals, strict=True):
            ax.text(min(rate, 1.0) + 0.01, yi, f"{s}/{t}", va="center")
        ax.set_yticks(y, labels)
        ax.invert_yaxis()
        ax.set_xlim(0, 1.12)
        ax.set_xlabel("success rate (verified successes / restarts)")
        ax.set_title("Success rate per behavior")
        return png(fig)


def time_to_success_plot(times: dict[str, list[float]]) -> str | None:
    """Each successful restart as a dot (jittered), a box where there are enough of them."""
    if not any(times.values()):
        return None
    labels = list(times)
    with rc_context(STYLE):
        fig = Figure(figsize=(7, _height(len(labels))))
        ax = fig.add_subplot()
        rng = np.random.default_rng(0)  # fixed jitter: the same data draws the same picture
        for y, label in enumerate(labels):
            values = times[label]
            if len(values) >= 3:
                ax.boxplot(values, positions=[y], vert=False, widths=0.5, showfliers=False)
            jitter = rng.uniform(-0.15, 0.15, len(values))
            ax.scatter(values, y + jitter, s=18, color=SUCCESS_COLOR, zorder=3)
        ax.set_yticks(range(len(labels)), labels)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_xlim(left=0)
        ax.set_xlabel("seconds to a verified success")
        ax.set_title("Time to success per behavior")
        return png(fig)


def objective_traces_plot(
    groups: dict[str, list[tuple[list[float], list[float], bool]]],
) -> str | None:
    """One panel per behavior/method, one line per unit: best objective over elapsed time.

    `groups` maps a panel title to (elapsed seconds, best objective, succeeded) per unit."""
    groups = {title: [u for u in units if u[0]] for title, units in groups.items()}
    groups = {title: units for title, units in groups.items() if units}
    if not groups:
        return None
    columns = min(3, len(groups))
    rows = math.ceil(len(groups) / columns)
    with rc_context(STYLE):
        fig = Figure(figsize=(3.6 * columns, 2.8 * rows), layout="constrained")
        axes = fig.subplots(rows, columns, squeeze=False).ravel()
        for ax, (title, units) in zip(axes, groups.items(), strict=False):
            # failures first, so successful restarts are drawn on top
            for xs, ys, succeeded in sorted(units, key=lambda unit: unit[2]):
                ax.plot(
                    xs,
                    ys,
                    color=SUCCESS_COLOR if succeeded else FAILURE_COLOR,
                    alpha=0.85,
                    linewidth=1.2,
                    drawstyle="steps-post",
                )
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("elapsed (s)")
            ax.set_ylabel("best objective")
        for ax in axes[len(groups) :]:
            ax.set_visible(False)
        handles = [
            axes[0].plot([], [], color=SUCCESS_COLOR, label="verified success")[0],
            axes[0].plot([], [], color=FAILURE_COLOR, label="no success")[0],
        ]
        fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
        fig.suptitle("Objective over time, one line per restart")
        return png(fig)
