"""A search run's execution: behaviors × restarts as units of work in the workspace.

Each unit (one restart on one behavior) is committed to the store with its finding and
step trace the moment it completes; while it runs, its progress, trace, random state and
the optimizer's own state are checkpointed every few seconds, so a killed run resumes
mid-unit and redoes nothing that was completed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch

from tailscope.behaviors.spec import Behavior
from tailscope.errors import TailscopeError
from tailscope.models.base import WhiteBoxModel
from tailscope.runs.progress import Progress
from tailscope.search.config import SearchConfig, SearchSettings
from tailscope.search.methods import make_optimizer
from tailscope.search.objective import Objective
from tailscope.search.problem import MAX_LENGTH, SearchProblem, build_problem
from tailscope.search.runner import Budget, RestartOutcome, run_restart
from tailscope.search.runner import Progress as RestartProgress
from tailscope.search.state import SearchState, initial_state
from tailscope.search.universal import (
    UniversalObjective,
    UniversalVerification,
    check_universal,
)
from tailscope.search.verify import Verification, verify
from tailscope.store import Finding, Workspace
from tailscope.store.records import Verification as VerificationRecord

CHECKPOINT_INTERVAL_S = 2.0


@dataclass
class Unit:
    key: str
    behavior_index: int
    behavior_label: str
    restart: int


def units_of(config: SearchConfig) -> list[Unit]:
    restarts = range(config.settings.restarts)
    if config.settings.universal:
        return [Unit(f"universal/restart{r}", -1, "universal", r) for r in restarts]
    return [
        Unit(f"{b}:{ref.label()}/restart{r}", b, ref.label(), r)
        for b, ref in enumerate(config.behaviors)
        for r in restarts
    ]


def unit_seed(seed: int, unit: Unit) -> int:
    return (seed * 1_000_003 + unit.behavior_index * 10_007 + unit.restart) % (2**63)


@dataclass
class Target:
    """What one unit optimizes: one behavior, or (universal) several sharing one prompt."""

    model: WhiteBoxModel
    behaviors: list[Behavior]
    labels: list[str]
    objective: Objective | UniversalObjective

    def verify(self, state: SearchState):
        if not isinstance(self.objective, UniversalObjective):
            return verify(self.model, self.behaviors[0], self.objective.problem, state)
        parts = zip(
            self.behaviors, self.objective.parts, self.objective.part_states(state), strict=True
        )
        return UniversalVerification([verify(self.model, b, o.problem, s) for b, o, s in parts])

    def tokens_run(self) -> tuple[int, int]:
        """Forward and backward tokens run through the model so far by this target."""
        return self.objective.forward_tokens, self.objective.backward_tokens

    def findings(
        self, settings: SearchSettings, unit: Unit, outcome: RestartOutcome, cost: dict
    ) -> list[Finding]:
        """One finding per behavior: its own verification of the (shared) prompt."""
        v, state = outcome.verification, outcome.state
        if isinstance(self.objective, UniversalObjective):
            verifications, parts = v.parts, self.objective.parts
            outputs = self.objective.split(state.output)
        else:
            verifications, parts, outputs = [v], [self.objective], [state.output]
        rows = zip(self.behaviors, self.labels, parts, verifications, outputs, strict=True)
        return [
            _finding(self.model, b, label, part.problem, settings, unit, outcome, pv).model_copy(
                update={"output_ids": output.tolist(), **cost}
            )
            for b, label, part, pv, output in rows
        ]


def execute_search(
    ws: Workspace,
    run_id: str,
    model: WhiteBoxModel,
    config: SearchConfig,
    seed: int,
    progress: Progress | None = None,
) -> None:
    """Run (or continue) every unit of search run `run_id` not yet completed."""
    progress = progress or Progress()
    behaviors = [ref.load() for ref in config.behaviors]
    done = ws.units.completed(run_id)
    units = units_of(config)
    overall = progress.task("units", total=len(units), completed=len(done))
    # The bar counts steps when there is a step budget, else seconds.
    by_steps = config.settings.max_steps is not None
    budget = config.settings.max_steps if by_steps else config.settings.max_seconds
    current = progress.task("restart", total=budget)
    targets: dict[int, Target] = {}
    for unit in units:
        if unit.key in done:
            continue
        if unit.behavior_index not in targets:
            targets.clear()  # one objective (and its prefix caches) alive at a time
            targets[unit.behavior_index] = _target(model, config, behaviors, unit)
        current.update(description=unit.key, completed=0)

        def tick(row: dict) -> None:
            current.update(completed=row["step"] if by_steps else row["elapsed_s"])

        _complete(ws, run_id, unit, targets[unit.behavior_index], config.settings, seed, tick)
        done = ws.units.completed(run_id)
        ws.runs.set_progress(run_id, {"units_done": len(done), "units_total": len(units)})
        overall.update(completed=len(done))


def _complete(ws, run_id, unit: Unit, target: Target, settings, seed: int, tick) -> None:
    """Run one unit to its end and commit it, its findings and its step trace at once."""
    forward_before, backward_before = target.tokens_run()
    outcome, steps = _run_unit(ws, run_id, unit, target, settings, seed, tick)
    forward, backward = target.tokens_run()
    cost = {
        "forward_tokens": forward - forward_before,
        "backward_tokens": backward - backward_before,
        **candidate_counts(steps),
    }
    findings = target.findings(settings, unit, outcome, cost)
    ws.units.complete(run_id, unit.key, {"success": outcome.verification.success}, findings, steps)


def candidate_counts(steps: list[dict]) -> dict:
    """A restart's candidates over its step trace: scored, and dropped per filter reason."""
    dropped: dict[str, int] = {}
    for row in steps:
        for reason, count in row.get("dropped", {}).items():
            dropped[reason] = dropped.get(reason, 0) + count
    scored = sum(row.get("n_candidates", 0) for row in steps)
    return {"candidates_scored": scored, "candidates_dropped": dropped}


def _target(model: WhiteBoxModel, config: SearchConfig, behaviors: list[Behavior], unit) -> Target:
    settings = config.settings
    labels = [ref.label() for ref in config.behaviors]
    if unit.behavior_index >= 0:
        i = unit.behavior_index
        return Target(model, [behaviors[i]], [labels[i]], _objective(model, behaviors[i], settings))
    parts = [_objective(model, b, settings) for b in behaviors]
    return Target(model, behaviors, labels, UniversalObjective(parts))


def check_search(model: WhiteBoxModel, config: SearchConfig) -> None:
    """Build every problem once so that bad settings fail before a run is recorded."""
    problems = [_problem(model, ref.load(), config.settings) for ref in config.behaviors]
    if config.settings.universal:
        check_universal(problems)


def _objective(model: WhiteBoxModel, behavior: Behavior, settings: SearchSettings) -> Objective:
    return Objective(model, _problem(model, behavior, settings))


def _problem(model: WhiteBoxModel, behavior: Behavior, settings: SearchSettings) -> SearchProblem:
    prompt_length = settings.prompt_length
    if settings.init_prompt:
        prompt_length = len(model.encode(settings.init_prompt))
        if not 1 <= prompt_length <= MAX_LENGTH:
            raise TailscopeError(
                f"--init-prompt is {prompt_length} tokens: give text of 1 to {MAX_LENGTH} tokens"
            )
    return build_problem(
        model,
        behavior,
        prompt_length=prompt_length,
        output_length=settings.output_length,
        unigram_weight=settings.unigram_weight,
        lam_perp=settings.lam_perp,
        allow_non_ascii=settings.allow_non_ascii,
        system_prompt=settings.system_prompt,
        placement=settings.placement,
        output_loss=settings.loss,
        mellowmax_alpha=settings.mellowmax_alpha,
        candidate_constraints=settings.candidate_constraints,
    )


def _run_unit(ws, run_id, unit: Unit, target: Target, settings, seed: int, tick):
    objective = target.objective
    optimizer = make_optimizer(settings.method, objective, settings.method_options)
    rng = torch.Generator().manual_seed(unit_seed(seed, unit))
    saved = ws.checkpoints.load(run_id, unit.key)
    if saved:
        rng.set_state(torch.tensor(saved["rng"], dtype=torch.uint8))
        optimizer.restore(saved.get("optimizer", {}))  # older checkpoints hold none
        progress = RestartProgress(
            state=SearchState.from_json(saved["state"], objective.device),
            step=saved["step"],
            elapsed_s=saved["elapsed_s"],
        )
        steps = saved["steps"]
    else:
        init = settings.init_prompt
        init_ids = objective.model.encode(init) if init else None
        progress = RestartProgress(state=initial_state(objective, rng, init_ids))
        steps = []
    last_save = time.monotonic()

    def on_step(row: dict, progress: RestartProgress) -> None:
        nonlocal last_save
        steps.append(row)
        tick(row)
        if time.monotonic() - last_save >= CHECKPOINT_INTERVAL_S:
            checkpoint = {
                "state": progress.state.to_json(),
                "step": progress.step,
                "elapsed_s": progress.elapsed_s,
                "rng": rng.get_state().tolist(),
                "optimizer": optimizer.state(),
                "steps": steps,
            }
            ws.checkpoints.save(run_id, unit.key, checkpoint)
            last_save = time.monotonic()

    budget = Budget(settings.max_steps, settings.max_seconds)
    outcome = run_restart(optimizer, progress, budget, rng, target.verify, on_step)
    return outcome, steps


def _finding(model, behavior, label, problem, settings, unit, outcome, v: Verification) -> Finding:
    return Finding(
        behavior=behavior.name,
        behavior_label=label,
        method=settings.method,
        universal=settings.universal,
        prompt=v.prompt,
        user_text=problem.user_text(v.prompt),
        output=v.reply,
        target_output=v.target_output,
        prompt_ids=outcome.state.prompt.tolist(),
        objective=outcome.state.objective,
        success=v.success,
        verification=VerificationRecord(
            status=v.status,
            roundtrip_ok=v.roundtrip_ok,
            greedy_match=v.greedy_match,
            output_ok=v.output_ok,
            prompt_ok=v.prompt_ok,
        ),
        scores=v.scores,
        steps=outcome.steps,
        elapsed_s=round(outcome.elapsed_s, 3),
        success_step=outcome.success_step,
        success_s=None if outcome.success_s is None else round(outcome.success_s, 3),
        restart=unit.restart,
        system_prompt=model.rendered_system_prompt(problem.system_prompt),
    )
