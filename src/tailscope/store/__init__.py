"""The workspace database: runs, units of work, findings, step traces, checkpoints."""

from tailscope.store.workspace import Run, Workspace

__all__ = ["Run", "Workspace"]
