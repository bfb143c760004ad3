"""Self-contained HTML reports of workspace runs (findings, success rates, plots)."""

from tailscope.report.html import write_report

__all__ = ["write_report"]
