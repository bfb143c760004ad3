"""The forecast figure: the fitted tail over the observed points, and Q_p(n) with its band.

Built on `matplotlib.figure.Figure` (Agg, no pyplot), math text off, like report/plots.py.
"""

from __future__ import annotations

import numpy as np
from matplotlib import rc_context
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from tailscope.forecast.data import Observations
from tailscope.forecast.estimators import estimator
from tailscope.forecast.forecast import ForecastResult

COLORS = {"expected": "#c0392b", "paper": "#e67e22", "pot": "#27ae60", "log-normal": "#3f6fb5"}
_RC = {
    "text.parse_math": False,
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def forecast_figure(obs: Observations, result: ForecastResult, title: str = "") -> Figure:
    with rc_context(_RC):
        fig = Figure(figsize=(9.5, 3.6))
        tail_ax, curve_ax = fig.subplots(1, 2)
        _tail_panel(tail_ax, obs, result)
        _curve_panel(curve_ax, result)
        if title:
            fig.suptitle(title, fontsize=10)
        fig.tight_layout()
    return fig


def _tail_panel(ax, obs: Observations, result: ForecastResult) -> None:
    finite = np.sort(obs.psi[np.isfinite(obs.psi)])[::-1]
    shown = finite[: max(50, 3 * result.k_tail)]
    ranks = np.log(np.arange(1, shown.size + 1) / obs.m)
    ax.scatter(shown, ranks, s=9, color="#555555", label=f"observed (top {shown.size} of {obs.m})")
    if shown.size:
        grid = np.linspace(shown.min(), shown.max() + 0.3 * max(np.ptp(shown), 0.5), 100)
        for method in result.methods:
            if not method.ok:
                continue
            y = estimator(method.method).fit(obs, result.k_tail).log_survival(grid)
            ax.plot(grid, y, color=COLORS.get(method.method), label=method.method)
        ax.set_ylim(bottom=min(ranks.min(), np.log(1 / obs.m)) - 3, top=0.5)
    ax.set_xlabel("psi = -log(-log p)")
    ax.set_ylabel("log survival  log(rank / m)")
    ax.set_title("upper tail of the evaluation set")
    ax.legend(fontsize=7, frameon=False)


def _curve_panel(ax, result: ForecastResult) -> None:
    for method in result.methods:
        color = COLORS.get(method.method)
        if not method.ok:
            ax.plot([], [], color=color, label=f"{method.method}: not enough signal")
            continue
        n = np.array(method.curve["n"])
        ax.plot(n, method.curve["log10_q_p"], color=color, label=method.method)
        if "log10_low" in method.curve:
            ax.fill_between(
                n, method.curve["log10_low"], method.curve["log10_high"], color=color, alpha=0.18
            )
    if np.isfinite(result.observed_log10_max_p):
        ax.scatter(
            [result.m],
            [result.observed_log10_max_p],
            color="black",
            zorder=5,
            s=14,
            label="observed max (n = m)",
        )
    ax.set_xscale("log")
    # math text is off, so the default 10^k labels would print as raw TeX
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.0e}".replace("e+0", "e")))
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("deployment queries n")
    ax.set_ylabel("log10 Q_p(n): largest p among n queries")
    pct = round(100 * result.confidence)
    ax.set_title(f"worst-query forecast ({pct}% band)")
    ax.legend(fontsize=7, frameon=False)


def save_forecast_plot(path, obs: Observations, result: ForecastResult, title: str = "") -> None:
    forecast_figure(obs, result, title).savefig(
        path, dpi=110, bbox_inches="tight", metadata={"Software": None}
    )
