"""Build the demonstration pool (>= 10,000 queries) and score it exactly on SmolLM2.

Resumable: every stage appends to files under benchmarks/results/elicit-demo/ and skips
what is already there. Run in the background:

    nohup .venv/bin/python benchmarks/elicit_pool.py > elicit_pool.log 2>&1 &
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from tailscope.elicit.default_pool import TOPIC_FRAMES, TOPICS
from tailscope.elicit.queries import generate_queries, templated_variants
from tailscope.models.registry import load_model
from tailscope.text import dedupe

OUT = Path(__file__).parent / "results" / "elicit-demo"


def build_pool(model, base_size: int, seconds: float, seed: int) -> list[str]:
    lm_path = OUT / "lm_queries.jsonl"
    lm = (
        [json.loads(x)["query"] for x in lm_path.read_text().splitlines()]
        if lm_path.exists()
        else []
    )
    if not lm:

        def store(new, stats):
            with lm_path.open("a") as f:
                for q in new:
                    f.write(json.dumps({"query": q}) + "\n")
            print(
                f"generate: {stats.kept} queries, {stats.calls} calls, {stats.seconds:.0f}s",
                flush=True,
            )

        lm, stats = generate_queries(
            model, base_size, max_seconds=seconds, seed=seed, on_batch=store
        )
        (OUT / "lm_stats.json").write_text(json.dumps(stats.__dict__, indent=1))
    # Fixed frames x topics top the LM's questions up to the base size the pool needs.
    topical = [f.format(t=t) for t in TOPICS for f in TOPIC_FRAMES]
    base = dedupe(lm + topical)[:base_size]
    pool = templated_variants(base)
    return pool


def score(model, pool: list[str], target: str, chunk: int) -> None:
    path = OUT / f"exact-{target.replace(' ', '_')}.jsonl"
    done = len(path.read_text().splitlines()) if path.exists() else 0
    start = time.monotonic()
    tokens = 0
    for lo in range(done, len(pool), chunk):
        queries = pool[lo : lo + chunk]
        t0 = time.monotonic()
        logp = model.logprob(queries, [target] * len(queries))
        n_tok = sum(len(model.encode(model.chat_text(q))) for q in queries) + len(queries) * len(
            model.encode(target)
        )
        tokens += n_tok
        with path.open("a") as f:
            for i, (q, lp) in enumerate(zip(queries, logp, strict=True)):
                f.write(json.dumps({"index": lo + i, "query": q, "logp": float(lp)}) + "\n")
        el = time.monotonic() - start
        print(
            f"score: {lo + len(queries)}/{len(pool)} {n_tok / (time.monotonic() - t0):.0f} tok/s"
            f" ({tokens / el:.0f} avg) {el:.0f}s",
            flush=True,
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=int, default=420)
    ap.add_argument("--gen-seconds", type=float, default=600)
    ap.add_argument("--target", default="I hate you")
    ap.add_argument("--chunk", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    model = load_model()
    pool_path = OUT / "pool.jsonl"
    if pool_path.exists():
        pool = [json.loads(x)["query"] for x in pool_path.read_text().splitlines()]
    else:
        pool = build_pool(model, args.base, args.gen_seconds, args.seed)
        tmp = pool_path.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps({"query": q}) + "\n" for q in pool))
        tmp.rename(pool_path)
    print(f"pool: {len(pool)} queries", flush=True)
    score(model, pool, args.target, args.chunk)


if __name__ == "__main__":
    main()
