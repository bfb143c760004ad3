"""The quote constraint on the real default model: how many replies quote the source
document of the unsupported-quote behavior, how many of those quotes are unsupported, with
and without `quote_constraint`, and what the constraint costs in generation time.

Questions about the behavior's document go to the model with the behavior's system prompt,
greedy, 48 new tokens. Two ways of asking: as is, and with the reply pre-filled with
"According to the document, %[" so that every reply opens a quote. Wilson 95% intervals.

    .venv/bin/python benchmarks/quote_constraint.py --out benchmarks/results/FILE.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from machine_info import machine  # benchmarks/ is on sys.path when run as a script

from tailscope.behaviors import load_behavior
from tailscope.models.hf import HFModel
from tailscope.models.quote_constraint import QuoteConstraint, QuoteConstraintOptions
from tailscope.models.registry import DEFAULT_MODEL, load_model
from tailscope.quoting import QuoteScanner
from tailscope.stats import binomial_interval

QUESTIONS = [
    "Who designed the Eiffel Tower?", "When was the tower built?", "Where is the Eiffel Tower?",
    "What is the tower made of?", "Why was the tower built?", "Who is the tower named after?",
    "What kind of structure is the Eiffel Tower?", "In which city is the tower?",
    "Which company built the tower?", "What was the 1889 World's Fair centrepiece?",
    "How long did the construction take?", "Which country is the tower in?",
    "What is the Champ de Mars?", "Was Gustave Eiffel an architect?",
    "What material is wrought iron?", "Is the tower made of steel?",
    "When did construction start?", "When was the tower finished?",
    "What does the document say about Paris?", "Quote the document about the engineer.",
    "Give me a quotation about the tower's design.", "What did Eiffel's company do?",
    "Is the tower a lattice tower?", "What event was the tower built for?",
    "Summarize the document with a quote.", "What year did the World's Fair take place?",
    "Who owned the company that built the tower?", "How tall is the Eiffel Tower?",
    "Who paid for the tower?", "What does the document say about the tower's name?",
]  # fmt: skip
FORCED = "According to the document, %["
MAX_NEW_TOKENS = 48


def share(hits: int, total: int) -> dict:
    if total == 0:
        return {"hits": 0, "n": 0}
    low, high = binomial_interval(hits, total)
    return {"hits": hits, "n": total, "rate": hits / total, "wilson95": [float(low), float(high)]}


def arm(model, behavior, prefix: str) -> dict:
    detector = behavior.output_detector()
    start = time.perf_counter()
    replies = model.generate(
        QUESTIONS,
        max_new_tokens=MAX_NEW_TOKENS,
        system_prompt=behavior.system_prompt,
        reply_prefix=prefix,
    )
    seconds = time.perf_counter() - start
    texts = [prefix + reply for [reply] in replies]
    quoting = [t for t in texts if detector.check(t)]
    unsupported = [t for t in quoting if detector.score([t])[0] >= 0.5]
    closed = [t for t in quoting if not QuoteScanner.of("all").feed(t).inside]
    return {
        "seconds": round(seconds, 2),
        "replies_quoting": share(len(quoting), len(texts)),
        "unsupported_of_quoting": share(len(unsupported), len(quoting)),
        "closed_of_quoting": share(len(closed), len(quoting)),
        "replies": texts,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    behavior = load_behavior("unsupported-quote")
    free = load_model(DEFAULT_MODEL)
    options = QuoteConstraintOptions(sources=behavior.output.detector.params["sources"])
    constrained = HFModel(
        free.model,
        free.tokenizer,
        name=f"{free.name}+quote_constraint",
        source=free.source,
        quote_constraint=QuoteConstraint(free.tokenizer, options),
    )
    free.generate(QUESTIONS[:2], max_new_tokens=4)  # warm-up, not timed
    result = {
        "command": "benchmarks/quote_constraint.py",
        "machine": machine(),
        "model": DEFAULT_MODEL,
        "questions": len(QUESTIONS),
        "max_new_tokens": MAX_NEW_TOKENS,
        "arms": {
            f"{ask}/{name}": arm(model, behavior, prefix)
            for ask, prefix in (("as-is", ""), ("forced-quote", FORCED))
            for name, model in (("free", free), ("constrained", constrained))
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    for name, found in result["arms"].items():
        quoting, bad = found["replies_quoting"], found["unsupported_of_quoting"]
        print(f"{name}: quoting {quoting['hits']}/{quoting['n']}, "
              f"unsupported {bad['hits']}/{bad['n']}, {found['seconds']} s")  # fmt: skip


if __name__ == "__main__":
    main()
