"""Which settings make `tailscope queries generate` produce usable questions fastest.

One batched `generate` call per setting on the same 64 topic-slotted list prompts (2
replies each, 160 new tokens), on the default model: seconds, generated tokens per
second, parsed items and distinct kept questions per second. Settings vary the rows per
decoding batch (via batch_tokens), the temperature and the `1.` reply prefix.

    .venv/bin/python benchmarks/queries_generate.py --out benchmarks/results/FILE.json
"""

from __future__ import annotations

import argparse
import json
import time

from tailscope.elicit.queries import DEFAULT_TEMPLATES, list_prompts
from tailscope.models.registry import load_model
from tailscope.text import QueryFilter, clean, dedupe, keep, parse_numbered_list

# (batch_tokens, prompts, replies per prompt, temperature, reply prefix)
SETTINGS = (
    (4096, 64, 2, 1.0, ""),  # the CPU default batch: ~20 rows per decoding batch
    (32768, 64, 2, 1.0, ""),  # all 128 rows in one batch
    (32768, 64, 2, 1.0, "1."),
    (32768, 64, 2, 0.8, "1."),  # the defaults of `queries generate` now
    (32768, 64, 2, 0.7, "1."),
)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    model = load_model()
    prompts = list_prompts(DEFAULT_TEMPLATES)[:64]
    results = []
    for batch_tokens, n_prompts, n, temperature, prefix in SETTINGS:
        model.batch_tokens = batch_tokens
        asked = prompts[:n_prompts]
        start = time.monotonic()
        replies = model.generate(
            asked, n=n, temperature=temperature, max_new_tokens=160, seed=0, reply_prefix=prefix
        )
        seconds = time.monotonic() - start
        texts = [r for group in replies for r in group]
        items = [clean(x) for r in texts for x in parse_numbered_list(r, bool(prefix))]
        kept = dedupe(x for x in items if keep(x, QueryFilter()))
        tokens = sum(len(model.encode(r)) for r in texts)
        row = {
            "batch_tokens": batch_tokens,
            "prompts": n_prompts,
            "replies_per_prompt": n,
            "temperature": temperature,
            "reply_prefix": prefix,
            "seconds": round(seconds, 1),
            "generated_tokens_per_s": round(tokens / seconds, 1),
            "items": len(items),
            "kept_distinct": len(kept),
            "kept_per_s": round(len(kept) / seconds, 2),
            "examples": kept[:5],
        }
        print(json.dumps(row), flush=True)
        results.append(row)
    with open(args.out, "w") as f:
        json.dump({"settings": results}, f, indent=1)


if __name__ == "__main__":
    main()
