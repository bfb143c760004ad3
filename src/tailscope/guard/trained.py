"""What every trained guard shares: its artifact (a directory `tailscope guard train` wrote:
`guard.json` with what it was trained on and its calibrated threshold, `head.npz` with the
head's arrays), opened once in `load()`, and the backbone model it reads text with."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import ClassVar

from pydantic import Field

from tailscope.guard.base import Guard, GuardParams, artifact_problem
from tailscope.guard.heads import LinearHead

_BACKBONES: dict[str, object] = {}
_BACKBONES_LOCK = threading.Lock()


class TrainedParams(GuardParams):
    artifact: str = Field(description="the directory `tailscope guard train` printed")
    threshold: float | None = Field(
        None, ge=0.0, le=1.0, description="act at p >= this [default: the calibrated one]"
    )


def backbone(spec: str):
    """The white-box model `spec`, loaded once per process (guards of one target share it)."""
    with _BACKBONES_LOCK:
        if spec not in _BACKBONES:
            from tailscope.models.registry import load_model

            _BACKBONES[spec] = load_model(spec)
        return _BACKBONES[spec]


def open_head(guard: str, artifact: str | Path, classifier: str) -> LinearHead:
    """The head saved in `artifact`, which must be a `classifier` artifact; one line when it
    is missing, damaged or of another kind."""
    path = Path(artifact)
    if not path.is_dir():
        raise artifact_problem(guard, path, "does not exist")
    try:
        head = LinearHead.load(path)
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise artifact_problem(guard, path, f"is unreadable ({type(exc).__name__})") from None
    found = head.meta.get("classifier")
    if found != classifier:
        raise artifact_problem(guard, path, f"holds a {found!r} classifier, not {classifier!r}")
    return head


class TrainedGuard(Guard):
    """A guard whose head is a trained artifact; the threshold defaults to its calibrated
    one."""

    classifier: ClassVar[str]  # what `guard.json` must name
    Params = TrainedParams

    def load(self) -> None:
        if getattr(self, "head", None) is not None:
            return
        self.head = open_head(self.name, self.params.artifact, self.classifier)
        if self.threshold is None:
            self.threshold = float(self.head.meta["threshold"])
        spec = self.head.meta.get("backbone")
        self.model = backbone(spec) if spec else None

    def halt_index(self, scores):
        self.load()
        return super().halt_index(scores)

    def describe(self) -> str:
        self.load()  # the threshold may be the artifact's
        return super().describe()
