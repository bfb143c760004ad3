"""Rows per generation batch on the default model: the rule before 2026-12-03
(batch_tokens // (longest x n) sequences' worth of padded tokens) against
`HFModel._generation_rows` (prefill bounded by batch_tokens, the KV cache by memory), on a
`queries generate`-shaped call: 64 topic-list prompts x 2 replies x 160 tokens, replies
pre-filled with '1.', T = 0.8, the CPU default batch_tokens 4,096. Run it alone:

    .venv/bin/python benchmarks/generate_batching.py --out benchmarks/results/FILE.json
"""

from __future__ import annotations

import argparse
import json
import time

from tailscope.elicit.topics import GENERATION_TOPICS, TOPIC_TEMPLATES
from tailscope.models.registry import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    model = load_model("smollm2-135m-instruct")
    prompts = [
        TOPIC_TEMPLATES[i % len(TOPIC_TEMPLATES)].format(topic=GENERATION_TOPICS[i])
        for i in range(64)
    ]
    rules = {
        "before": lambda prompt, longest, n: max(1, model.batch_tokens // (longest * n)),
        "decode-aware": model._generation_rows,
    }
    results = []
    for name, rule in rules.items():
        model._generation_rows = rule
        prompt_tokens = max(len(model.encode(model.chat_text(p))) for p in prompts) + 2
        start = time.perf_counter()
        replies = model.generate(
            prompts, n=2, temperature=0.8, max_new_tokens=160, seed=0, reply_prefix="1."
        )
        seconds = time.perf_counter() - start
        tokens = sum(len(model.encode(r)) for group in replies for r in group)
        rows = rule(prompt_tokens, prompt_tokens + 160, 2)
        results.append(
            {
                "rule": name,
                "prompts_per_batch": rows,
                "seconds": round(seconds, 1),
                "reply_tokens": tokens,
                "reply_tokens_per_s": round(tokens / seconds, 1),
            }
        )
        print(results[-1], flush=True)
    out = {
        "batch_tokens": model.batch_tokens,
        "prompts": 64,
        "replies_per_prompt": 2,
        "max_new_tokens": 160,
        "results": results,
    }
    with open(args.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
