"""detector: any registered detector as a guard, e.g. `secret` (the system prompt's secret
in the reply, also spaced out or in leetspeak) or `toxicity`: a baseline for the trained
guards. `detector:` is the detector's mapping, as in a behavior spec."""

from __future__ import annotations

from typing import Any

import numpy as np
from pydantic import Field, field_validator

from tailscope.detectors import make_detector
from tailscope.guard.base import GUARDS, GuardParams, Stage, TextGuard


class DetectorParams(GuardParams):
    detector: dict[str, Any] = Field(description="the detector, e.g. {kind: toxicity}")

    @field_validator("detector")
    @classmethod
    def _named(cls, value: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(value.get("kind"), str):
            raise ValueError("give the detector's kind, e.g. {kind: secret, secret: PINEAPPLE}")
        return value


@GUARDS.register
class DetectorGuard(TextGuard):
    kind = "detector"
    summary = "a detector's score (secret, toxicity, ...) on the prompt, reply or both"
    default_stage = Stage.OUTPUT
    Params = DetectorParams
    order = 20

    def __init__(self, params: DetectorParams):
        super().__init__(params)
        settings = dict(params.detector)
        self.detector = make_detector(settings.pop("kind"), **settings)  # bad params: one line
        self.name = params.name or f"detector:{self.detector.kind}"

    def score_texts(self, texts) -> np.ndarray:
        return np.clip(np.asarray(self.detector.score(list(texts)), np.float32), 0.0, 1.0)

    def score_stream(self, prompts, pieces, *, system_prompt=None, hidden=None):
        # Detectors score a batch fastest: every prefix of every reply in one call.
        prefixes = [["".join(reply[: t + 1]) for t in range(len(reply))] for reply in pieces]
        flat = self.score_texts([text for row in prefixes for text in row]) if pieces else []
        scores, start = [], 0
        for row in prefixes:
            scores.append(np.asarray(flat[start : start + len(row)], np.float32))
            start += len(row)
        return scores
