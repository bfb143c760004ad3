"""The workspace database and the typed records it stores."""

from tailscope.store.records import (
    Elicitation,
    Finding,
    Label,
    Pool,
    RedTeamCase,
    Run,
    Verification,
)
from tailscope.store.workspace import Workspace

__all__ = [
    "Elicitation",
    "Finding",
    "Label",
    "Pool",
    "RedTeamCase",
    "Run",
    "Verification",
    "Workspace",
]
