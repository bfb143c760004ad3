"""The one recorded-execution path: validate, check capabilities, load the models, record
the run, execute it, and keep its status true whatever happens.

- A bad config or a missing capability is one line (TailscopeError) before anything loads
  or is recorded.
- Ctrl-C marks the run interrupted and raises `RunInterrupted` with the resume command.
- An error marks the run failed with its message, and propagates.
"""

from __future__ import annotations

from pydantic import ValidationError

from tailscope.errors import TailscopeError, first_problem
from tailscope.models.base import LanguageModel
from tailscope.models.registry import require
from tailscope.runs.config import ModelNeed, RunConfig, reject_non_finite
from tailscope.runs.executor import Executor, chosen
from tailscope.runs.progress import Progress
from tailscope.runs.registry import RunContext, run_kind
from tailscope.store import Run, Workspace


class RunInterrupted(Exception):
    """Ctrl-C during a run: it is marked interrupted and can be resumed."""

    def __init__(self, run_id: str, resume: str):
        super().__init__(f"interrupted: continue with `{resume}`")
        self.run_id = run_id
        self.resume = resume


def execute(
    ws: Workspace,
    kind: str,
    config: RunConfig,
    seed: int,
    *,
    resume: str | None = None,
    progress: Progress | None = None,
    models: dict[str, LanguageModel] | None = None,
    executor: Executor | None = None,
) -> str:
    """Run `config` as a new run of `kind` (or continue run `resume`); returns the run id.
    `models` (by role) replaces loading them from their specs, e.g. for models built in code;
    `executor` says where loaded models run [default: the one `executor.choose` set]."""
    progress = progress or Progress()
    spec = run_kind(kind)
    executor = executor or chosen()
    loading = not models
    try:
        reject_non_finite(config.model_dump())
        config.check()
        needs = config.model_needs()
        models = models or _load(needs, progress, executor)
        _check_loaded(needs, models)
        spec.prepare(config, models, progress)
        if resume is None:
            run_id = ws.runs.create(kind, config.model_dump(mode="json"), seed, _identity(models))
        else:
            run_id = resume
            ws.runs.set_status(run_id, "running")  # and clears an earlier error
        progress.note(f"run {run_id} in {ws.path}")
        counted = _attach_caches(ws, models)
        try:
            _run(spec, RunContext(ws, run_id, config, seed, models, progress))
        finally:
            _record_usage(ws, run_id, counted, progress)
        return run_id
    finally:
        if loading and models:
            executor.release(models)
        progress.finish()


def _run(spec, ctx: RunContext) -> None:
    try:
        spec.execute(ctx)
    except KeyboardInterrupt:
        ctx.ws.runs.set_status(ctx.run_id, "interrupted")
        raise RunInterrupted(ctx.run_id, spec.resume_hint(ctx.run_id)) from None
    except TailscopeError as exc:
        ctx.ws.runs.set_status(ctx.run_id, "failed", error=str(exc))
        raise
    except BaseException as exc:
        ctx.ws.runs.set_status(ctx.run_id, "failed", error=f"{exc.__class__.__name__}: {exc}")
        raise
    ctx.ws.runs.set_status(ctx.run_id, "completed")


def _attach_caches(ws: Workspace, models: dict[str, LanguageModel]) -> dict:
    """Endpoint models answer from the workspace's response cache; returns role -> (model,
    its counts now), so that this execution's requests, retries and cache hits are recorded."""
    counted: dict[str, tuple[LanguageModel, dict]] = {}
    for role, model in models.items():
        if hasattr(model, "attach_cache") and all(m is not model for m, _ in counted.values()):
            model.attach_cache(ws.responses)
            counted[role] = (model, model.usage())
    return counted


def _record_usage(ws: Workspace, run_id: str, counted: dict, progress: Progress) -> None:
    for role, (model, before) in counted.items():
        delta = _minus(model.usage(), before)
        ws.responses.add_usage(run_id, role, model.name, delta)
        progress.note(
            f"{role} {model.name}: {delta['requests']} requests, {delta['retries']} retries, "
            f"{delta['cache_hits']} replies from the cache"
        )


def _minus(now: dict, before: dict) -> dict:
    return {
        k: _minus(v, before.get(k, {})) if isinstance(v, dict) else v - before.get(k, 0)
        for k, v in now.items()
    }


def _load(
    needs: dict[str, ModelNeed], progress: Progress, executor: Executor
) -> dict[str, LanguageModel]:
    for need in needs.values():
        require(need.spec, need.needs, need.purpose)  # all checked before any loads
    loaded: dict[tuple[str, bool], LanguageModel] = {}
    models = {}
    for role, need in needs.items():
        key = (need.spec, executor.remote(role, need))
        if key not in loaded:
            where = " on Ray actors" if key[1] else ""
            with progress.status(f"loading {need.spec}{where}"):
                loaded[key] = executor.load(role, need)
        models[role] = loaded[key]
    return models


def _check_loaded(needs: dict[str, ModelNeed], models: dict[str, LanguageModel]) -> None:
    for role, need in needs.items():
        model = models[role]
        missing = need.needs - model.capabilities
        if missing:
            raise TailscopeError(
                f"{need.purpose} needs {', '.join(sorted(missing))} of the {role} model "
                f"{model.name!r}, which it does not offer"
            )
        context = getattr(model, "context_length", None)
        for option, tokens in need.generates.items():
            if tokens < 1 or (context is not None and tokens >= context):
                limit = f"1 to {context - 1}" if context is not None else "at least 1"
                raise TailscopeError(
                    f"{option} {tokens} does not fit the {role} model {model.name!r}: "
                    f"use {limit} tokens"
                )


def _identity(models: dict[str, LanguageModel]) -> dict:
    """The target's identity, with every other role's (an attacker) nested under its role."""
    first, *others = models.items()
    identity = first[1].identity()
    for role, model in others:
        identity[role] = model.identity()
    return identity


def resumable(ws: Workspace, run_id: str, kinds: tuple[str, ...]) -> tuple[Run, RunConfig]:
    """Run `run_id` and its validated config, if it is a run of one of `kinds`."""
    run = ws.runs.get(run_id)
    if run.kind not in kinds:
        raise TailscopeError(
            f"run {run_id} is a {run.kind} run, not a {kinds[0]} run: continue it with "
            f"`{run_kind(run.kind).resume_hint(run_id)}`"
        )
    try:
        return run, run_kind(run.kind).Config.model_validate(run.config)
    except ValidationError as exc:
        field, message, _ = first_problem(exc)
        raise TailscopeError(
            f"run {run_id}'s recorded config cannot be read by this tailscope "
            f"({field}: {message}): start a new run"
        ) from None
