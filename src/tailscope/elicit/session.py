"""A recorded elicitation run: one behavior over a stored query pool, resumable per query.

Queries are processed in chunks; each chunk's per-query results are committed in one
transaction when it finishes, so a killed run loses at most the chunk in flight and
`--resume` skips every query already recorded. The chunks and their seeds depend only on
the pool and the config, so a resumed run gives the same numbers as an uninterrupted one.
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
from pydantic import Field

from tailscope.behaviors.ref import BehaviorRef
from tailscope.elicit.exact import exact_logprobs
from tailscope.elicit.sampling import check_sampling, sample_probabilities
from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.runs.progress import Progress
from tailscope.stats import INTERVAL_METHODS
from tailscope.store import Elicitation, Workspace

EXACT_CHUNK = 256  # queries per committed batch: one or a few forward batches
SAMPLE_CHUNK = 32  # k samples each: a few hundred sequences per batch


class ElicitConfig(RunConfig):
    model: str
    behavior: BehaviorRef
    pool: str
    method: Literal["exact", "sample"] = "sample"
    k: int = 32
    temperature: float = 1.0
    max_new_tokens: int = 16
    threshold: float | None = None  # adaptive stopping against this p
    round_k: int | None = None
    confidence: float = 0.95
    interval: str = "wilson"
    chunk: int | None = Field(None, ge=1)  # queries per committed batch (default by method)
    limit: int | None = None  # only the first `limit` queries of the pool
    parent: str | None = None  # the audit run this elicitation belongs to, if any

    def check(self) -> None:
        behavior = self.behavior.load()
        if self.method == "exact":
            if not behavior.is_fixed_output:
                raise TailscopeError(
                    f"behavior {behavior.name!r} has no target string, so it has no exact "
                    "probability: use --method sample, or a behavior with output.target "
                    "(e.g. -b say -p target='I hate you')"
                )
        else:
            check_sampling(self.k, self.temperature, self.round_k)
        if self.interval not in INTERVAL_METHODS:
            raise TailscopeError(
                f"unknown interval {self.interval!r}: use {' or '.join(INTERVAL_METHODS)}"
            )
        if not 0 < self.confidence < 1:
            raise TailscopeError(f"confidence {self.confidence} must lie in (0, 1)")
        if self.threshold is not None and not 0 < self.threshold < 1:
            raise TailscopeError(f"threshold {self.threshold} must lie in (0, 1)")
        if self.limit is not None and self.limit < 1:
            raise TailscopeError(f"--limit {self.limit} must be at least 1")
        if self.max_new_tokens < 1:
            raise TailscopeError("--max-new-tokens must be at least 1")

    def model_needs(self) -> dict[str, ModelNeed]:
        if self.method == "exact":
            need = ModelNeed(self.model, frozenset({Capability.LOGPROB}), "elicit --method exact")
        else:
            need = ModelNeed(
                self.model,
                frozenset({Capability.GENERATE}),
                "elicit --method sample",
                generates={"--max-new-tokens": self.max_new_tokens},
            )
        return {"target": need}


def pool_slice(ws: Workspace, config: ElicitConfig) -> list[str]:
    queries = ws.pools.queries(config.pool)
    if config.limit is not None:
        queries = queries[: config.limit]
    if not queries:
        raise TailscopeError(
            f"query pool {config.pool!r} is empty: add queries with `tailscope queries import` "
            "or `tailscope queries generate`"
        )
    return queries


def execute_elicitation(
    ws: Workspace,
    run_id: str,
    model,
    config: ElicitConfig,
    seed: int,
    progress: Progress | None = None,
) -> None:
    """Run (or continue) the elicitation run `run_id`; returns when every query is done."""
    progress = progress or Progress()
    behavior = config.behavior.load()
    queries = pool_slice(ws, config)
    done = ws.elicitations.indices(run_id)
    total = len(queries)
    task = progress.task(f"elicit ({config.method})", total=total, completed=len(done))
    started = time.monotonic()
    if config.method == "exact":
        # Chunks of the length-sorted order, so each forward batch pads little.
        todo = [i for i in _length_order(model, queries) if i not in done]
        chunk = config.chunk or EXACT_CHUNK
    else:
        todo = [i for i in range(total) if i not in done]
        chunk = config.chunk or SAMPLE_CHUNK
    for start in range(0, len(todo), chunk):
        idx = todo[start : start + chunk]
        ws.elicitations.record(run_id, _elicit(model, behavior, config, queries, idx, seed))
        done.update(idx)
        elapsed = round(time.monotonic() - started, 1)
        ws.runs.set_progress(
            run_id, {"units_done": len(done), "units_total": total, "elapsed_s": elapsed}
        )
        task.update(completed=len(done))


def _elicit(model, behavior, config: ElicitConfig, queries, idx: list[int], seed: int):
    """The results of one chunk of queries (their pool indices `idx`)."""
    texts = [behavior.prompt_prefix + queries[i] for i in idx]
    system_prompt = behavior.system_prompt
    if config.method == "exact":
        logp = exact_logprobs(model, texts, behavior.output.target, system_prompt=system_prompt)
        return [
            Elicitation(
                query_idx=i, query=queries[i], method="exact", logp=float(lp), p=float(np.exp(lp))
            )
            for i, lp in zip(idx, logp, strict=True)
        ]
    estimates = sample_probabilities(
        model,
        texts,
        lambda replies: behavior.output_ok(replies),
        k=config.k,
        temperature=config.temperature,
        max_new_tokens=config.max_new_tokens,
        threshold=config.threshold,
        round_k=config.round_k,
        confidence=config.confidence,
        interval=config.interval,
        seed=seed * 1_000_003 + min(idx),
        system_prompt=system_prompt,
    )
    return [
        Elicitation(query_idx=i, query=queries[i], method="sample", **e.to_json())
        for i, e in zip(idx, estimates, strict=True)
    ]


def _length_order(model, queries: list[str]) -> list[int]:
    encode = getattr(model, "encode", None)
    lengths = [len(encode(q)) if encode else len(q) for q in queries]
    return [int(i) for i in np.argsort(lengths, kind="stable")]
