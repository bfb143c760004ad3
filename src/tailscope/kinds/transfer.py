"""Transfer runs (`tailscope transfer`): replay the verified prompts of search runs and the
failures of red-team runs against another target, and check the behavior there.

Each replayed prompt is one unit (`ws.units`), committed with its reply and verdict, so a
killed run resumes without re-asking what was answered. Replies are greedy, with the
source's generation length and system prompt (the run's own, else the behavior's; with
neither, the new target's default, e.g. a target YAML's `system_prompt`).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from tailscope.behaviors.ref import BehaviorRef
from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.redteam.session import RedTeamConfig
from tailscope.report.transfer import TransferResult, overall, transfer_section
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.runs.registry import RUN_KINDS, ReportPart, RunContext, RunKind
from tailscope.search.config import SearchConfig
from tailscope.store import Workspace

BATCH = 16  # prompts per target call; each prompt is committed on its own
SEARCH_KINDS = ("search", "audit")


class TransferConfig(RunConfig):
    model: str  # the new target
    sources: list[str] = Field(min_length=1)  # search, audit or red-team run ids
    # Reply length for exact-target search findings (a longer reply still starts with the
    # target); joint searches and red-team cases keep their source's length.
    max_new_tokens: int = Field(32, ge=1)

    def model_needs(self) -> dict[str, ModelNeed]:
        need = ModelNeed(
            self.model,
            frozenset({Capability.GENERATE}),
            "transfer",
            generates={"--max-new-tokens": self.max_new_tokens},
        )
        return {"target": need}


@dataclass(frozen=True)
class SourceItem:
    """A prompt to replay: where it came from and how the source sent it."""

    key: str
    behavior: BehaviorRef
    prompt: str  # the whole user turn
    checked: str  # the text the behavior's prompt constraints apply to
    system_prompt: str | None
    max_new_tokens: int
    source_reply: str
    source_run: str
    source_kind: str
    source_method: str


def source_items(ws: Workspace, config: TransferConfig) -> list[SourceItem]:
    """Every prompt to replay, in order; a source that is not a search or red-team run, or
    has nothing to replay, is one line."""
    items: list[SourceItem] = []
    for run_id in config.sources:
        run = ws.runs.get(run_id)
        if run.kind in SEARCH_KINDS:
            found = _search_items(ws, run, config.max_new_tokens)
        elif run.kind == "redteam":
            found = _redteam_items(ws, run)
        else:
            raise TailscopeError(
                f"run {run_id} is a {run.kind} run: transfer replays search, audit and "
                "red-team runs (see `tailscope runs`)"
            )
        if not found:
            what = "verified prompts" if run.kind in SEARCH_KINDS else "failures (hits)"
            raise TailscopeError(f"run {run_id} has no {what} to transfer: pass another run")
        items.extend(found)
    return items


def _search_items(ws: Workspace, run, max_new_tokens: int) -> list[SourceItem]:
    config = SearchConfig.model_validate(run.config)
    refs = {ref.label(): ref for ref in config.behaviors}
    items = []
    for finding in ws.units.findings(run.id):
        if not finding.success or finding.label not in refs:
            continue
        ref = refs[finding.label]
        behavior = ref.load()
        system_prompt = config.settings.system_prompt
        if system_prompt is None:
            system_prompt = behavior.system_prompt
        length = max_new_tokens
        if not behavior.is_fixed_output:
            length = config.settings.output_length or behavior.output_length
        items.append(
            SourceItem(
                key=f"{run.id}:finding{finding.id}",
                behavior=ref,
                prompt=finding.user_text or finding.prompt,
                checked=finding.prompt,
                system_prompt=system_prompt,
                max_new_tokens=length,
                source_reply=finding.output,
                source_run=run.id,
                source_kind="search",
                source_method=finding.method,
            )
        )
    return items


def _redteam_items(ws: Workspace, run) -> list[SourceItem]:
    config = RedTeamConfig.model_validate(run.config)
    behavior = config.behavior.load()
    system_prompt = config.system_prompt
    if system_prompt is None:
        system_prompt = behavior.system_prompt
    return [
        SourceItem(
            key=f"{run.id}:case{index}",
            behavior=config.behavior,
            prompt=behavior.prompt_prefix + case.test_case,
            checked=case.test_case,
            system_prompt=system_prompt,
            max_new_tokens=config.max_new_tokens,
            source_reply=case.reply,
            source_run=run.id,
            source_kind="redteam",
            source_method=case.source,
        )
        for index, case in enumerate(ws.redteam.cases(run.id))
        if case.hit
    ]


def replay(target, items: list[SourceItem]) -> list[TransferResult]:
    """One greedy call per group of items sent alike, then each behavior's check."""
    results: dict[str, TransferResult] = {}
    groups: dict[tuple, list[SourceItem]] = {}
    for item in items:
        key = (item.behavior.label(), item.system_prompt, item.max_new_tokens)
        groups.setdefault(key, []).append(item)
    for group in groups.values():
        first = group[0]
        replies = target.generate(
            [i.prompt for i in group],
            temperature=0.0,
            max_new_tokens=first.max_new_tokens,
            system_prompt=first.system_prompt,
        )
        verdicts = _verdicts(first.behavior, [i.checked for i in group], [r[0] for r in replies])
        for item, (reply,), (score, success) in zip(group, replies, verdicts, strict=True):
            results[item.key] = TransferResult(
                source_run=item.source_run,
                source_kind=item.source_kind,
                source_method=item.source_method,
                behavior=item.behavior.label(),
                prompt=item.prompt,
                system_prompt=item.system_prompt,
                source_reply=item.source_reply,
                reply=reply,
                score=score,
                success=success,
            )
    return [results[item.key] for item in items]


def _verdicts(ref: BehaviorRef, prompts: list[str], replies: list[str]):
    """(detector score or None, success) per reply: the output condition and the prompt
    constraints both hold, as in search verification and red-team hits."""
    behavior = ref.load()
    output_ok = behavior.output_ok(replies)
    prompt_ok = behavior.prompt_ok(prompts)
    scores = [None] * len(replies)
    if not behavior.is_fixed_output:
        scores = [float(s) for s in behavior.output_detector().score(replies)]
    return [
        (score, bool(out and ok))
        for score, out, ok in zip(scores, output_ok, prompt_ok, strict=True)
    ]


@RUN_KINDS.register
class TransferKind(RunKind):
    name = "transfer"
    summary = "replay search runs' verified prompts and red-team failures on another target"
    Config = TransferConfig
    Record = TransferResult
    records_key = "results"
    order = 30

    def resume_hint(self, run_id: str) -> str:
        return f"tailscope transfer --resume {run_id}"

    def execute(self, ctx: RunContext) -> None:
        items = source_items(ctx.ws, ctx.config)
        done = ctx.ws.units.completed(ctx.run_id)
        todo = [item for item in items if item.key not in done]
        task = ctx.progress.task("transfer", total=len(items), completed=len(items) - len(todo))
        for start in range(0, len(todo), BATCH):
            batch = todo[start : start + BATCH]
            for item, result in zip(batch, replay(ctx.models["target"], batch), strict=True):
                ctx.ws.units.complete(ctx.run_id, item.key, result.to_json())
            task.update(completed=len(items) - len(todo) + start + len(batch))

    def records(self, ws: Workspace, run_id: str) -> list[TransferResult]:
        return [TransferResult(**r) for r in ws.units.completed(run_id).values()]

    def report(self, ws: Workspace, runs) -> ReportPart:
        part = ReportPart()
        for run in runs:
            results = self.records(ws, run.id)
            part.overview[run.id] = overall(results)
            part.sections.append(transfer_section(run, results))
        return part
