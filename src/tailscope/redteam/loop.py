"""The one loop every red-team method runs in: budget, history, evaluation, commits.

A method proposes test cases; the session sends them to the target, classifies the
replies and commits each round (its test cases and the method's state) in one
transaction. The budget counts target queries, so methods compare at equal cost.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tailscope.behaviors.spec import Behavior
from tailscope.models.base import LanguageModel
from tailscope.redteam.attacker import AttackerSampler, Proposal
from tailscope.redteam.target import TargetEvaluator
from tailscope.store import RedTeamCase, Workspace
from tailscope.store.redteam import CHECKPOINT_KEY
from tailscope.text import QueryFilter, normalize


@dataclass
class RedTeamContext:
    """What a method may use: the attacker, the behavior and where to keep artifacts."""

    attacker: LanguageModel
    behavior: Behavior
    rules: QueryFilter
    sampler: AttackerSampler
    batch: int  # test cases per round
    seed: int
    artifacts: Path  # e.g. trained adapters, under the workspace

    @property
    def templates(self) -> list[str]:
        return list(self.behavior.redteam.templates)

    @property
    def goal(self) -> str:
        return self.behavior.redteam.goal or self.behavior.description


class Session:
    """A red-team run's progress: every recorded test case, the budget left, the round."""

    def __init__(
        self,
        ws: Workspace,
        run_id: str,
        evaluator: TargetEvaluator,
        budget: int,
        on_progress: Callable[[Session], None] | None = None,
    ):
        self.ws = ws
        self.run_id = run_id
        self.evaluator = evaluator
        self.budget = budget
        self.on_progress = on_progress
        self.cases: list[RedTeamCase] = ws.redteam.cases(run_id)
        self.round = 1 + max((c.round for c in self.cases), default=-1)
        self.seen = {normalize(c.test_case) for c in self.cases}
        self.saved_state = ws.checkpoints.load(run_id, CHECKPOINT_KEY) or {}
        self.stop_reason: str | None = None

    @property
    def remaining(self) -> int:
        return max(0, self.budget - len(self.cases))

    @property
    def hits(self) -> int:
        return sum(c.hit for c in self.cases)

    @property
    def done(self) -> bool:
        return self.remaining == 0 or self.stop_reason is not None

    def stop(self, reason: str) -> None:
        self.stop_reason = reason

    def evaluate(self, proposals: list[Proposal]) -> list[RedTeamCase]:
        """Target replies and classifier scores for up to `remaining` proposals."""
        return self.evaluator.evaluate(proposals[: self.remaining])

    def commit(self, cases: list[RedTeamCase], state: dict) -> None:
        self.ws.redteam.record_round(self.run_id, self.round, cases, state)
        self.cases.extend(c.model_copy(update={"round": self.round}) for c in cases)
        self.seen.update(normalize(c.test_case) for c in cases)
        self.round += 1
        self.ws.runs.set_progress(
            self.run_id,
            {"units_done": len(self.cases), "units_total": self.budget, "hits": self.hits},
        )
        if self.on_progress is not None:
            self.on_progress(self)

    def round_seed(self, base: int, attempt: int = 0) -> int:
        return base * 100_003 + self.round * 101 + attempt


class Method(ABC):
    """A red-team method: spends the session's budget of target queries.

    A method registers its subclass with `@REDTEAM_METHODS.register`, names its options'
    pydantic dataclass as `Config`, and lists in `attacker_needs` the capabilities it needs
    of the attacker beyond generation (e.g. trainable, for fine-tuning)."""

    name: str
    summary: str  # one line for `--help`
    Config: type
    attacker_needs: frozenset = frozenset()

    def __init__(self, config, ctx: RedTeamContext):
        self.config = config
        self.ctx = ctx

    @abstractmethod
    def run(self, session: Session) -> None: ...

    def warnings(self) -> list[str]:
        """Things the user should know about the run, e.g. unparsable judge outputs."""
        return []


class RoundMethod(Method):
    """Propose a batch, evaluate it, learn from it, commit; until the budget is spent.

    `patience` rounds in a row without a single usable test case end the run early with
    a reason (an attacker that writes nothing parsable), never an endless loop.
    """

    patience = 3

    def run(self, session: Session, until: int | None = None) -> None:
        """Rounds until the budget is spent, or until the run holds `until` test cases
        (another method's warm-up)."""
        self.ctx.sampler.restore(session.saved_state.get("sampler", {}))
        self.restore(session.saved_state, session)
        limit = session.budget if until is None else min(until, session.budget)
        empty = 0
        while not session.done and len(session.cases) < limit:
            seed = session.round_seed(self.ctx.seed, empty)
            count = min(self.ctx.batch, limit - len(session.cases))
            proposals = self.propose(count, session, seed)
            if not proposals:
                empty += 1
                if empty >= self.patience:
                    session.stop(
                        f"the attacker wrote no usable new test case in {empty} rounds "
                        f"({self.ctx.sampler.samples} samples, {self.ctx.sampler.parsed} "
                        "parsed): try another attacker, template or a higher temperature"
                    )
                continue
            empty = 0
            cases = session.evaluate(proposals)
            self.observe(cases, session)
            session.commit(cases, {**self.state(), "sampler": self.ctx.sampler.snapshot()})

    def restore(self, state: dict, session: Session) -> None:
        """Continue from a committed state (a resumed run)."""

    @abstractmethod
    def propose(self, count: int, session: Session, seed: int) -> list[Proposal]: ...

    def observe(self, cases: list[RedTeamCase], session: Session) -> None:
        """Learn from a round's results before they are committed."""

    def state(self) -> dict:
        return {}

    def zero_shot(self, count: int, session: Session, seed: int, source: str) -> list[Proposal]:
        return self.ctx.sampler.sample(self.ctx.templates, count, session.seen, seed, source)
