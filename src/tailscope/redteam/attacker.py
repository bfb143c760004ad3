"""Test cases from an attacker LM: sampling, numbered-list parsing, the question filter and
deduplication (Perez et al. 2022). The parsing is the query generator's (`elicit.queries`),
so zero-shot red teaming and pool generation are one mechanism."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from tailscope.behaviors.spec import Behavior
from tailscope.models.base import LanguageModel
from tailscope.text import (
    QueryFilter,
    clean,
    continues_list,
    keep,
    normalize,
    parse_numbered_list,
)

_FIRST_ITEM = re.compile(r"^[ \t]*1[ \t]*[.)]", re.MULTILINE)


def split_list_prompt(prompt: str) -> tuple[str, str]:
    """(user turn, reply prefix) of a list prompt: the list itself ("1. ...\n6.") pre-fills
    the attacker's reply, so a chat model continues it as a pretrained LM would (the
    paper's setting) instead of answering the request with chatter first."""
    match = _FIRST_ITEM.search(prompt)
    if not continues_list(prompt) or match is None or match.start() == 0:
        return prompt, ""
    return prompt[: match.start()].rstrip(), prompt[match.start() :]


@dataclass(frozen=True)
class Proposal:
    """A test case a method wants sent to the target, with where it came from."""

    text: str
    source: str  # the method (or phase) that produced it, e.g. "zero-shot", "few-shot"
    meta: dict = field(default_factory=dict)


def test_case_rules(behavior: Behavior) -> QueryFilter:
    """The question filter of the paper, unless the behavior's test cases need not be
    questions (e.g. requests to reveal a secret)."""
    return QueryFilter(
        min_chars=8, max_chars=300, require_question=behavior.redteam.require_question
    )


def parse_test_cases(reply: str, prompt: str, rules: QueryFilter, limit: int = 1) -> list[str]:
    """Up to `limit` test cases from one attacker reply to `prompt`.

    The paper keeps the first line of each sample; a chat attacker often repeats the
    list's numbering, so numbered items count as lines and unnumbered chatter is skipped.
    """
    items = [clean(x) for x in parse_numbered_list(reply, continues_list(prompt))]
    if not items and not continues_list(prompt):
        items = [clean(line) for line in reply.splitlines()[:1]]
    return [x for x in items if keep(x, rules)][:limit]


@dataclass
class AttackerSampler:
    """Draws distinct test cases from an attacker for a list of prompts.

    It asks for more samples than it needs, by its running estimate of how many samples
    yield a usable test case, and gives up after `max_calls` calls in one request so an
    attacker that writes nothing parsable cannot loop forever.
    """

    attacker: LanguageModel
    rules: QueryFilter
    temperature: float = 1.0
    max_new_tokens: int = 40
    max_calls: int = 4
    yield_rate: float = 0.5
    calls: int = 0
    samples: int = 0
    parsed: int = 0

    def snapshot(self) -> dict:
        """What a resumed run needs to draw exactly the samples an uninterrupted one would:
        the yield estimate sets how many samples a call asks for."""
        return {k: getattr(self, k) for k in ("yield_rate", "calls", "samples", "parsed")}

    def restore(self, snapshot: dict) -> None:
        for key, value in snapshot.items():
            setattr(self, key, value)

    def sample(
        self, prompts: Sequence[str], count: int, seen: set[str], seed: int, source: str
    ) -> list[Proposal]:
        """Up to `count` new test cases (normalized text not in `seen`; `seen` is updated).
        Prompts are used round-robin, one sample each."""
        found: list[Proposal] = []
        for attempt in range(self.max_calls):
            want = count - len(found)
            if want <= 0:
                break
            n = min(256, math.ceil(want / max(self.yield_rate, 0.1)))
            batch = [prompts[(attempt * n + i) % len(prompts)] for i in range(n)]
            turns, prefixes = zip(*map(split_list_prompt, batch), strict=True)
            replies = self.attacker.generate(
                list(turns),
                reply_prefix=list(prefixes),
                n=1,
                temperature=self.temperature,
                max_new_tokens=self.max_new_tokens,
                seed=seed * 101 + attempt,
            )
            self.calls += 1
            usable = 0
            for prompt, (reply,) in zip(batch, replies, strict=True):
                self.samples += 1
                for text in parse_test_cases(reply, prompt, self.rules):
                    usable += 1
                    key = normalize(text)
                    if key not in seen and len(found) < count:
                        seen.add(key)
                        found.append(Proposal(text, source, {"attacker_prompt": prompt}))
            self.parsed += usable
            # Running yield estimate, kept away from 0 so requests stay bounded.
            self.yield_rate = 0.5 * self.yield_rate + 0.5 * max(usable / n, 0.05)
        return found
