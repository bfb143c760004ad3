"""A red-team run: its config and its resumable execution.

Every round (test cases, replies, scores and the method's state) is committed in one
transaction; `--resume` rebuilds the history from the workspace and goes on with the
budget that is left. Trained adapters live under the workspace's artifacts directory.
"""

from __future__ import annotations

from pydantic import Field

from tailscope.behaviors.ref import BehaviorRef
from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.redteam.attacker import AttackerSampler, test_case_rules
from tailscope.redteam.loop import RedTeamContext, Session
from tailscope.redteam.methods import REDTEAM_METHODS, method_config, resolved_options
from tailscope.redteam.target import TargetEvaluator
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.runs.progress import Progress
from tailscope.store import Workspace


class RedTeamConfig(RunConfig):
    model: str
    attacker: str | None = None  # None: the target model attacks itself
    behavior: BehaviorRef
    method: str = "zero-shot"
    options: dict[str, float | int | bool | str] = Field(default_factory=dict)
    budget: int = Field(128, ge=1)  # target queries
    batch: int = Field(32, ge=1)  # test cases per round
    max_new_tokens: int = Field(48, ge=1)  # target reply length
    attacker_max_new_tokens: int = Field(40, ge=4)
    attacker_temperature: float = Field(1.0, gt=0)
    system_prompt: str | None = None  # overrides the behavior's
    parent: str | None = None  # the audit run this belongs to, if any

    def check(self) -> None:
        self.behavior.load()
        method_config(self.method, self.options)

    def model_needs(self) -> dict[str, ModelNeed]:
        method = REDTEAM_METHODS.get(self.method)
        purpose = f"red-team method {self.method}"
        return {
            "target": ModelNeed(
                self.model,
                frozenset({Capability.GENERATE}),
                purpose,
                generates={"--max-new-tokens": self.max_new_tokens},
            ),
            "attacker": ModelNeed(
                self.attacker or self.model,
                frozenset({Capability.GENERATE}) | method.attacker_needs,
                f"{purpose} (the attacker)",
                generates={"attacker_max_new_tokens": self.attacker_max_new_tokens},
            ),
        }

    def resolved(self) -> RedTeamConfig:
        """This config with every method option spelled out, as a new run records it: a
        resumed run then behaves the same even if a default changes in between."""
        return self.model_copy(update={"options": resolved_options(self.method, self.options)})


def extend_budget(ws: Workspace, run_id: str, budget: int) -> RedTeamConfig:
    """Set run `run_id`'s budget to `budget` target queries (a finished run goes on from its
    history and trained adapters when executed again); returns the new config."""
    config = RedTeamConfig.model_validate(ws.runs.get(run_id).config)
    done = len(ws.redteam.cases(run_id))
    if budget < max(done, 1):
        raise TailscopeError(
            f"--budget {budget} is below the {done} test cases run {run_id} already holds"
        )
    config = config.model_copy(update={"budget": budget})
    ws.runs.set_config(run_id, config.model_dump(mode="json"))
    return config


def execute_redteam(
    ws: Workspace,
    run_id: str,
    config: RedTeamConfig,
    seed: int,
    target,
    attacker,
    progress: Progress | None = None,
) -> Session:
    """Run (or continue) red-team run `run_id` until its budget is spent or it stops."""
    progress = progress or Progress()
    behavior = config.behavior.load()
    system_prompt = behavior.system_prompt if config.system_prompt is None else config.system_prompt
    rules = test_case_rules(behavior)
    sampler = AttackerSampler(
        attacker,
        rules,
        temperature=config.attacker_temperature,
        max_new_tokens=config.attacker_max_new_tokens,
    )
    ctx = RedTeamContext(
        attacker=attacker,
        behavior=behavior,
        rules=rules,
        sampler=sampler,
        batch=config.batch,
        seed=seed,
        artifacts=ws.artifact_dir(run_id, config.method),
    )
    label = f"red team ({config.method})"
    task = progress.task(label, total=config.budget)

    def tick(session: Session) -> None:
        task.update(completed=len(session.cases), description=f"{label} · {session.hits} hits")

    evaluator = TargetEvaluator(target, behavior, config.max_new_tokens, system_prompt)
    session = Session(ws, run_id, evaluator, config.budget, tick)
    tick(session)
    method = REDTEAM_METHODS.get(config.method)(method_config(config.method, config.options), ctx)
    method.run(session)
    _finish(ws, run_id, config, session, method, progress)
    return session


def _finish(ws, run_id, config: RedTeamConfig, session: Session, method, progress) -> None:
    if not session.cases:
        reason = session.stop_reason or "the attacker wrote no usable test case"
        raise TailscopeError(f"red-team run {run_id} produced no test case: {reason}")
    sampler = method.ctx.sampler
    ws.runs.set_progress(
        run_id,
        {
            "units_done": len(session.cases),
            "units_total": config.budget,
            "hits": session.hits,
            "stop_reason": session.stop_reason,
            "attacker_samples": sampler.samples,
            "attacker_parsed": sampler.parsed,
            "warnings": method.warnings(),
        },
    )
    if session.stop_reason:
        progress.note(f"stopped early: {session.stop_reason}")
    for warning in method.warnings():
        progress.note(f"warning: {warning}")
