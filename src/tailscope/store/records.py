"""The typed records the workspace stores and returns: runs, search findings, red-team test
cases, per-query elicitation results and human labels.

Records are read leniently (`extra="ignore"`, defaults for fields older versions did not
write), so a workspace from an earlier tailscope still opens.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

RunStatus = Literal["running", "completed", "interrupted", "failed"]
STATUSES: tuple[str, ...] = ("running", "completed", "interrupted", "failed")


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def to_json(self) -> dict:
        return self.model_dump(mode="json")


class Run(Record):
    """One recorded execution: its kind, full config, seed, model identity and status."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str
    kind: str
    config: dict
    seed: int
    model: dict
    environment: dict
    status: RunStatus
    error: str | None = None
    progress: dict = Field(default_factory=dict)
    created_at: str
    updated_at: str


class Verification(Record):
    """How a found prompt fared when sent back as text (`search/verify.py`)."""

    status: str  # success | ids_only | constraint_failed | no_match
    roundtrip_ok: bool | None = None
    greedy_match: bool | None = None
    output_ok: bool | None = None
    prompt_ok: bool | None = None


# search/session.py names units "<behavior index>:<behavior label>/restart<k>".
_UNIT_KEY = re.compile(r"^\d+:(?P<label>.+)/restart\d+$")


class Finding(Record):
    """The outcome of one search restart on one behavior, verified for real."""

    id: int | None = None  # assigned by the store
    unit_key: str = ""
    behavior: str
    behavior_label: str | None = None
    method: str
    universal: bool = False
    prompt: str
    user_text: str | None = None
    output: str
    target_output: str | None = None
    prompt_ids: list[int] = Field(default_factory=list)
    output_ids: list[int] = Field(default_factory=list)
    objective: float | None = None
    success: bool
    verification: Verification
    scores: dict[str, dict[str, float]] = Field(default_factory=dict)
    steps: int = 0
    elapsed_s: float | None = None
    success_step: int | None = None
    success_s: float | None = None
    restart: int = 0
    system_prompt: str | None = None
    forward_tokens: int | None = None
    backward_tokens: int | None = None
    # The restart's candidates: re-scored exactly, and dropped before that per filter reason
    # (search/filters.py); empty in findings written before the filters counted them.
    candidates_scored: int | None = None
    candidates_dropped: dict[str, int] = Field(default_factory=dict)

    @property
    def label(self) -> str:
        """The behavior with its parameters, e.g. say(target=Hi). Findings written before
        `behavior_label` existed have it in their unit key only."""
        if self.behavior_label:
            return self.behavior_label
        match = _UNIT_KEY.match(self.unit_key)
        return match["label"] if match else self.behavior


class RedTeamCase(Record):
    """One target query of a red-team run: the test case, the reply and its classification."""

    test_case: str
    reply: str
    score: float  # the detector's score, 0 where the test case breaks the prompt constraints
    output_score: float | None = None  # the detector's score of the reply, constraints aside
    prompt_ok: bool = True
    hit: bool
    source: str  # the method or phase that wrote it
    meta: dict = Field(default_factory=dict)
    round: int = 0
    reward: float | None = None  # RL's reward for it
    judge: float | None = None  # PAIR's judge score of the reply, in [0, 1]


class Elicitation(Record):
    """One query's elicitation probability: exact (logp) or sampled (hits of k, interval)."""

    query_idx: int
    query: str
    method: Literal["exact", "sample"]
    p: float | None = None
    logp: float | None = None
    low: float | None = None
    high: float | None = None
    hits: int | None = None
    k: int | None = None
    stopped_early: bool = False
    examples: list[str] = Field(default_factory=list)


class Pool(Record):
    name: str
    meta: dict = Field(default_factory=dict)
    created_at: str
    size: int


LabelValue = Literal["present", "absent", "unsure"]
LABEL_VALUES: tuple[str, ...] = ("present", "absent", "unsure")
ItemKind = Literal["finding", "case", "elicitation"]
# How the labeller came to the item: a review-queue order, "census" (every item of the run
# labelled, in run order) or "" (not recorded: older labels, imports that do not say).
QueueOrder = Literal["", "uncertainty", "disagreement", "ensemble", "random", "census"]


class Label(Record):
    """One labeller's judgement of one item of a run: a search finding (its id), a red-team
    case (its index) or an elicitation query (its index). A labeller has one label per item;
    several labellers may label the same item."""

    run_id: str
    item_kind: ItemKind
    item_idx: int
    label: LabelValue
    labeller: str = Field(min_length=1)
    note: str = ""
    created_at: str = ""
    queue_order: QueueOrder = ""  # a queue ordered by uncertainty biases error rates
