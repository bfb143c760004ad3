"""A recorded red-team run: config, method registry, and the resumable execution.

Every round (test cases, replies, scores and the method's state) is committed in one
transaction; `--resume` rebuilds the history from the workspace and goes on with the
budget that is left. Trained adapters live under the workspace's artifacts directory.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict

from pydantic import BaseModel, ConfigDict, Field

from tailscope.behaviors.ref import BehaviorRef
from tailscope.errors import TailscopeError
from tailscope.options import build_config
from tailscope.redteam.attacker import AttackerSampler, test_case_rules
from tailscope.redteam.few_shot import FewShot, FewShotConfig, ZeroShot, ZeroShotConfig
from tailscope.redteam.loop import RedTeamContext, Session
from tailscope.redteam.pair import Pair, PairConfig
from tailscope.redteam.rl import ReinforcementLearning, RlConfig
from tailscope.redteam.supervised import Supervised, SupervisedConfig
from tailscope.redteam.target import TargetEvaluator

RUN_KIND = "redteam"

METHODS = {
    "zero-shot": (ZeroShotConfig, ZeroShot, "the behavior's templates as they are"),
    "few-shot": (FewShotConfig, FewShot, "5 earlier test cases in context, ∝ exp(score/0.1)"),
    "supervised": (SupervisedConfig, Supervised, "LoRA fine-tuning on zero-shot failures"),
    "rl": (RlConfig, ReinforcementLearning, "trl RL, reward -log(1-r), KL to the initial"),
    "pair": (PairConfig, Pair, "iterative refinement with a judge score (PAIR)"),
}


def method_config(method: str, options: dict):
    if method not in METHODS:
        raise TailscopeError(f"unknown method {method!r}: use one of {', '.join(METHODS)}")
    return build_config(METHODS[method][0], options, f"red-team method {method}")


class RedTeamConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
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

    def resolved(self) -> RedTeamConfig:
        """This config with every method option spelled out, as a new run records it: a
        resumed run then behaves the same even if a default changes in between."""
        options = asdict(method_config(self.method, self.options))
        return self.model_copy(update={"options": options})


def extend_budget(ws, run_id: str, budget: int) -> RedTeamConfig:
    """Set run `run_id`'s budget to `budget` target queries (a finished run goes on from its
    history and trained adapters when executed again); returns the new config."""
    config = RedTeamConfig.model_validate(ws.get_run(run_id).config)
    done = len(ws.redteam_cases(run_id))
    if budget < max(done, 1):
        raise TailscopeError(
            f"--budget {budget} is below the {done} test cases run {run_id} already holds"
        )
    config = config.model_copy(update={"budget": budget})
    ws.set_config(run_id, config.model_dump(mode="json"))
    return config


def execute_redteam(
    ws,
    run_id: str,
    config: RedTeamConfig,
    seed: int,
    target,
    attacker,
    on_progress: Callable[[Session], None] | None = None,
) -> Session:
    """Run (or continue) red-team run `run_id` until its budget is spent or it stops."""
    behavior = config.behavior.load()
    system_prompt = (
        config.system_prompt if config.system_prompt is not None else (behavior.system_prompt)
    )
    evaluator = TargetEvaluator(target, behavior, config.max_new_tokens, system_prompt)
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
    session = Session(ws, run_id, evaluator, config.budget, on_progress)
    ws.set_status(run_id, "running")
    method = METHODS[config.method][1](method_config(config.method, config.options), ctx)
    method.run(session)
    if not session.cases:
        reason = session.stop_reason or "the attacker wrote no usable test case"
        ws.set_status(run_id, "failed", reason)
        raise TailscopeError(f"red-team run {run_id} produced no test case: {reason}")
    ws.set_progress(
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
    ws.set_status(run_id, "completed")
    return session
