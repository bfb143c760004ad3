"""Transfer runs in numbers and in the report: each replayed prompt's outcome on the new
target, and the transfer table (source method × behavior → success on the new target,
with a Wilson interval)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from tailscope.report.blocks import band, esc, pct, quote, run_section, table
from tailscope.stats import binomial_interval
from tailscope.store.records import Record


class TransferResult(Record):
    """One source prompt replayed against the new target: what it sent, what came back, and
    whether the behavior's check (output condition and prompt constraints) held there."""

    source_run: str
    source_kind: str  # search (or audit) | redteam
    source_method: str  # the search method, or the red-team method that wrote the case
    behavior: str  # the behavior's label, e.g. say(target=Hi)
    prompt: str  # the whole user turn sent
    system_prompt: str | None = None
    source_reply: str
    reply: str
    score: float | None = None  # the output detector's score (None for an exact target)
    success: bool


@dataclass
class TransferRow:
    source_method: str
    behavior: str
    successes: int
    total: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.successes / self.total

    def to_json(self) -> dict:
        return {**self.__dict__, "rate": self.rate}


def transfer_table(results: list[TransferResult]) -> list[TransferRow]:
    """One row per (source method, behavior), in first-seen order."""
    groups: dict[tuple[str, str], list[bool]] = defaultdict(list)
    for r in results:
        groups[(r.source_method, r.behavior)].append(r.success)
    if not groups:
        return []
    hits = [sum(v) for v in groups.values()]
    totals = [len(v) for v in groups.values()]
    low, high = binomial_interval(hits, totals)
    return [
        TransferRow(method, behavior, h, n, float(lo), float(hi))
        for (method, behavior), h, n, lo, hi in zip(groups, hits, totals, low, high, strict=True)
    ]


def overall(results: list[TransferResult]) -> str:
    done = sum(r.success for r in results)
    return f"{done}/{len(results)} prompts transferred" if results else "no prompts yet"


def transfer_section(run, results: list[TransferResult]) -> str:
    target = esc(run.config.get("model", ""))
    sources = ", ".join(esc(s) for s in run.config.get("sources", []))
    intro = f"<p>Prompts of {sources} replayed on <code>{target}</code>: {overall(results)}.</p>"
    rows = [
        [
            esc(r.source_method),
            esc(r.behavior),
            f"{r.successes}/{r.total}",
            pct(r.rate),
            band(r.low, r.high),
        ]
        for r in transfer_table(results)
    ]
    head = ["source method", "behavior", "success", "rate", "95% interval"]
    items = [
        [
            esc(r.source_run),
            esc(r.behavior),
            quote(r.prompt),
            quote(r.source_reply),
            quote(r.reply),
            "yes" if r.success else "no",
        ]
        for r in results
    ]
    item_head = ["source run", "behavior", "prompt", "source reply", "reply", "transferred"]
    return run_section(run, "Transfer", [intro, table(head, rows), table(item_head, items)])
