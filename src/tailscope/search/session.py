"""A recorded search run: behaviors × restarts as units of work in the workspace.

Each unit (one restart on one behavior) is committed to the store with its finding and
step trace the moment it completes; while it runs, its progress, trace and random state
are checkpointed every few seconds, so a killed run resumes mid-unit and redoes nothing
that was completed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import torch
from pydantic import BaseModel, ConfigDict, Field
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from tailscope.behaviors.spec import Behavior, load_behavior
from tailscope.errors import TailscopeError
from tailscope.models.hf import HFModel
from tailscope.search.methods import make_optimizer, validate_method_options
from tailscope.search.objective import Objective
from tailscope.search.problem import MAX_LENGTH, build_problem
from tailscope.search.runner import Budget, RestartOutcome, run_restart
from tailscope.search.runner import Progress as RestartProgress
from tailscope.search.state import SearchState, initial_state
from tailscope.search.verify import verify
from tailscope.store.workspace import Workspace

CHECKPOINT_INTERVAL_S = 2.0


class BehaviorRef(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    params: dict[str, str] = Field(default_factory=dict)

    def label(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})" if args else self.name

    def load(self) -> Behavior:
        return load_behavior(self.name, self.params)


class SearchSettings(BaseModel):
    """Everything that determines a search, recorded with the run."""

    model_config = ConfigDict(extra="forbid")
    method: str = "arca"
    method_options: dict[str, float | int | bool | str] = Field(default_factory=dict)
    restarts: int = 1
    max_steps: int | None = 100
    max_seconds: float | None = None
    prompt_length: int | None = None
    output_length: int | None = None
    unigram_weight: float = 1.0
    lam_perp: float = 0.0
    allow_non_ascii: bool = False
    system_prompt: str | None = None

    def check(self) -> None:
        if self.restarts < 1:
            raise TailscopeError(f"restarts must be at least 1, got {self.restarts}")
        if self.max_steps is None and self.max_seconds is None:
            raise TailscopeError("give a budget: --steps N and/or --seconds S")
        if self.max_steps is not None and self.max_steps < 1:
            raise TailscopeError(f"--steps must be at least 1, got {self.max_steps}")
        if self.max_seconds is not None and self.max_seconds <= 0:
            raise TailscopeError(f"--seconds must be positive, got {self.max_seconds}")
        for label, value in (("prompt", self.prompt_length), ("output", self.output_length)):
            if value is not None and not 1 <= value <= MAX_LENGTH:
                raise TailscopeError(
                    f"{label} length {value} is out of range: use 1 to {MAX_LENGTH} tokens"
                )
        validate_method_options(self.method, self.method_options)


class RunConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    model: str
    behaviors: list[BehaviorRef]
    settings: SearchSettings


@dataclass
class Unit:
    key: str
    behavior_index: int
    behavior_label: str
    restart: int


def units_of(config: RunConfig) -> list[Unit]:
    return [
        Unit(f"{b}:{ref.label()}/restart{r}", b, ref.label(), r)
        for b, ref in enumerate(config.behaviors)
        for r in range(config.settings.restarts)
    ]


def unit_seed(seed: int, unit: Unit) -> int:
    return (seed * 1_000_003 + unit.behavior_index * 10_007 + unit.restart) % (2**63)


def execute_run(workspace: Workspace, run_id: str, model: HFModel, console=None) -> list[dict]:
    """Run (or continue) every unit of a search run not yet completed; returns all findings."""
    run = workspace.get_run(run_id)
    config = RunConfig.model_validate(run.config)
    behaviors = [ref.load() for ref in config.behaviors]
    done = workspace.completed_units(run_id)
    units = units_of(config)
    workspace.set_status(run_id, "running")
    problems: dict[int, Objective] = {}
    columns = [
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
    ]
    with Progress(*columns, console=console, transient=False, disable=console is None) as bars:
        overall = bars.add_task("units", total=len(units), completed=len(done))
        current = bars.add_task("", total=config.settings.max_steps or 1, visible=False)
        for unit in units:
            if unit.key in done:
                continue
            behavior = behaviors[unit.behavior_index]
            if unit.behavior_index not in problems:
                problems.clear()  # one objective (and its prefix cache) alive at a time
                problems[unit.behavior_index] = _objective(model, behavior, config.settings)
            objective = problems[unit.behavior_index]
            bars.update(current, description=unit.key, completed=0, visible=True)

            def tick(row: dict, _progress, task=current) -> None:
                bars.update(task, completed=row["step"])

            outcome, steps = _run_unit(
                workspace, run_id, unit, objective, behavior, config, run.seed, tick
            )
            finding = _finding(model, behavior, objective, config.settings, unit, outcome)
            workspace.complete_unit(
                run_id, unit.key, {"success": finding["success"]}, [finding], steps
            )
            done[unit.key] = {"success": finding["success"]}
            workspace.set_progress(run_id, {"units_done": len(done), "units_total": len(units)})
            bars.update(overall, completed=len(done))
    workspace.set_status(run_id, "completed")
    return workspace.findings(run_id)


def _objective(model: HFModel, behavior: Behavior, settings: SearchSettings) -> Objective:
    problem = build_problem(
        model,
        behavior,
        prompt_length=settings.prompt_length,
        output_length=settings.output_length,
        unigram_weight=settings.unigram_weight,
        lam_perp=settings.lam_perp,
        allow_non_ascii=settings.allow_non_ascii,
        system_prompt=settings.system_prompt,
    )
    return Objective(model, problem)


def _run_unit(workspace, run_id, unit, objective, behavior, config, seed, tick):
    settings = config.settings
    optimizer = make_optimizer(settings.method, objective, settings.method_options)
    rng = torch.Generator().manual_seed(unit_seed(seed, unit))
    saved = workspace.load_checkpoint(run_id, unit.key)
    if saved:
        rng.set_state(torch.tensor(saved["rng"], dtype=torch.uint8))
        progress = RestartProgress(
            state=SearchState.from_json(saved["state"], objective.device),
            step=saved["step"],
            elapsed_s=saved["elapsed_s"],
        )
        steps = saved["steps"]
    else:
        progress = RestartProgress(state=initial_state(objective, rng))
        steps = []
    last_save = time.monotonic()

    def on_step(row: dict, progress: RestartProgress) -> None:
        nonlocal last_save
        steps.append(row)
        tick(row, progress)
        if time.monotonic() - last_save >= CHECKPOINT_INTERVAL_S:
            workspace.save_checkpoint(
                run_id,
                unit.key,
                {
                    "state": progress.state.to_json(),
                    "step": progress.step,
                    "elapsed_s": progress.elapsed_s,
                    "rng": rng.get_state().tolist(),
                    "steps": steps,
                },
            )
            last_save = time.monotonic()

    outcome = run_restart(
        optimizer,
        progress,
        Budget(settings.max_steps, settings.max_seconds),
        rng,
        lambda state: verify(objective.model, behavior, objective.problem, state),
        on_step,
    )
    return outcome, steps


def _finding(model, behavior, objective, settings, unit, outcome: RestartOutcome) -> dict:
    v = outcome.verification
    problem = objective.problem
    return {
        "behavior": behavior.name,
        "behavior_label": unit.behavior_label,
        "method": settings.method,
        "prompt": v.prompt,
        "user_text": problem.user_prefix + v.prompt,
        "output": v.reply,
        "target_output": v.target_output,
        "prompt_ids": outcome.state.prompt.tolist(),
        "output_ids": outcome.state.output.tolist(),
        "objective": outcome.state.objective,
        "success": v.success,
        "verification": {
            "status": v.status,
            "roundtrip_ok": v.roundtrip_ok,
            "greedy_match": v.greedy_match,
            "output_ok": v.output_ok,
            "prompt_ok": v.prompt_ok,
        },
        "scores": v.scores,
        "steps": outcome.steps,
        "elapsed_s": round(outcome.elapsed_s, 3),
        "success_step": outcome.success_step,
        "success_s": None if outcome.success_s is None else round(outcome.success_s, 3),
        "restart": unit.restart,
        "system_prompt": model.rendered_system_prompt(problem.system_prompt),
        "forward_tokens": objective.forward_tokens,
        "backward_tokens": objective.backward_tokens,
    }
