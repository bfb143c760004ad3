"""Synthetic guard data (`tailscope guard data`): an LM writes restricted and permitted
queries and completions from a constitution, the augmentations of `guard/augment.py` dress
them up, and every example is labelled by the category it was written for.

The run's units are one generation round of one category (`queries:CATEGORY:ROUND`), then
one chunk of one augmentation style (`augment:STYLE:CHUNK`). Each unit is committed with its
examples, so a killed run resumes after its last whole unit; a unit's randomness comes from
the run seed and its key, so a resumed run writes what an unbroken one would have.

Splits follow the plain query an example derives from (a hash of its text): train,
calibration or test, so no query's variants sit on both sides. Examples in a held-out
style are made from test queries only and go to `heldout`: no guard trains on those styles
or on those queries' completions, and the guard evaluation attacks with them."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence

from pydantic import Field, field_validator

from tailscope.errors import TailscopeError
from tailscope.guard.augment import (
    DEFAULT_HELDOUT_STYLES,
    LM_STYLES,
    PARAPHRASE_PROMPT,
    STYLES,
    SYSTEM_STYLE,
    check_styles,
    rewrite_prompt,
    system_prompt_variant,
)
from tailscope.guard.constitution import Category, Constitution, parse_constitution
from tailscope.models.base import Capability, LanguageModel
from tailscope.models.registry import DEFAULT_MODEL
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.runs.progress import Progress
from tailscope.store import Workspace
from tailscope.store.guard_data import GuardExample
from tailscope.text import (
    QueryFilter,
    clean,
    continues_list,
    dedupe,
    keep,
    normalize,
    parse_numbered_list,
)

AUGMENT_CHUNK = 32
QUERY_RULES = QueryFilter(min_chars=10, max_chars=300, require_question=False)

LIST_PROMPT = (
    "Here is a list of messages that users send to an AI assistant. Every message asks for "
    "this: {description}\n{examples}\n{next}."
)


class GuardDataConfig(RunConfig):
    constitution: dict  # the validated constitution, recorded so a resume needs no file
    generator: str = DEFAULT_MODEL  # any model spec: a bigger endpoint writes better data
    per_category: int = Field(40, ge=1, description="plain queries to write per category")
    list_prompts: int = Field(8, ge=1, description="list prompts sampled per round")
    temperature: float = Field(1.0, gt=0.0)
    max_new_tokens: int = Field(64, ge=8, description="tokens per completion")
    styles: list[str] = list(STYLES)
    heldout_styles: list[str] = list(DEFAULT_HELDOUT_STYLES)

    @field_validator("styles", "heldout_styles")
    @classmethod
    def _known(cls, value: list[str], info) -> list[str]:
        check_styles(value, "augmentation style")
        return value

    def check(self) -> None:
        parse_constitution(self.constitution)
        stray = [s for s in self.heldout_styles if s not in self.styles]
        if stray:
            raise TailscopeError(
                f"held-out style {stray[0]!r} is not among the styles generated: add it to "
                "--style or drop it from --heldout"
            )

    def model_needs(self) -> dict[str, ModelNeed]:
        needs = frozenset({Capability.GENERATE})
        generates = {"max_new_tokens": self.max_new_tokens}
        return {"generator": ModelNeed(self.generator, needs, "guard data", generates)}

    def rounds(self) -> int:
        """Generation rounds per category: enough for `per_category` at a poor yield."""
        return 2 * math.ceil(self.per_category / self.list_prompts) + 1


def source_id(prompt: str) -> int:
    return int(hashlib.sha256(normalize(prompt).encode()).hexdigest()[:12], 16)


def split_of(source: int) -> str:
    bucket = source % 10
    return "train" if bucket < 6 else "calibration" if bucket < 8 else "test"


def dedupe_key(example: GuardExample) -> str:
    return f"{normalize(example.prompt)}\x00{example.system_prompt or ''}"


def unit_rng(seed: int, key: str) -> random.Random:
    return random.Random(f"{seed}:{key}")


def execute_guard_data(
    ws: Workspace,
    run_id: str,
    config: GuardDataConfig,
    seed: int,
    generator: LanguageModel,
    progress: Progress,
) -> None:
    constitution = parse_constitution(config.constitution)
    writer = _Writer(ws, run_id, config, seed, generator)
    categories = constitution.categories()
    task = progress.task("categories", total=len(categories))
    for done, (category, restricted) in enumerate(categories):
        writer.write_queries(constitution, category, restricted)
        task.update(completed=done + 1)
    styles = [s for s in config.styles if s]
    task = progress.task("augmentations", total=len(styles))
    for done, style in enumerate(styles):
        writer.augment(style)
        task.update(completed=done + 1)
    progress.note(f"{len(ws.guard_data.examples(run_id))} examples in {run_id}")


class _Writer:
    """Writes a run's units, skipping those already committed."""

    def __init__(self, ws, run_id, config: GuardDataConfig, seed: int, generator):
        self.ws, self.run_id, self.config, self.seed = ws, run_id, config, seed
        self.generator = generator
        self.done = ws.guard_data.done(run_id)
        self.seen = {dedupe_key(e) for e in ws.guard_data.examples(run_id)}

    def commit(self, key: str, examples: list[GuardExample]) -> None:
        fresh = []
        for example in examples:
            if dedupe_key(example) not in self.seen:
                self.seen.add(dedupe_key(example))
                fresh.append(example)
        self.ws.guard_data.record(self.run_id, key, fresh)
        self.done.add(key)

    def write_queries(self, constitution: Constitution, category: Category, restricted: bool):
        for round_ in range(self.config.rounds()):
            key = f"queries:{category.name}:{round_}"
            if key in self.done:
                continue
            have = sum(
                e.category == category.name and e.style == "plain"
                for e in self.ws.guard_data.examples(self.run_id)
            )
            if have >= self.config.per_category:
                return
            rng = unit_rng(self.seed, key)
            queries = list(category.examples) if round_ == 0 else []
            queries += self._sample_queries(category, rng)
            fresh = [q for q in dedupe(queries) if _key(q, constitution) not in self.seen]
            fresh = fresh[: self.config.per_category - have]
            self.commit(key, self._complete(constitution, category, restricted, fresh, rng))

    def _sample_queries(self, category: Category, rng: random.Random) -> list[str]:
        prompts = [_list_prompt(category, rng) for _ in range(self.config.list_prompts)]
        replies = self.generator.generate(
            prompts,
            temperature=self.config.temperature,
            max_new_tokens=96,
            seed=rng.randrange(2**31),
        )
        items = []
        for prompt, (reply,) in zip(prompts, replies, strict=True):
            parsed = [clean(x) for x in parse_numbered_list(reply, continues_list(prompt))]
            items += [x for x in parsed if keep(x, QUERY_RULES)]
        return items

    def _complete(self, constitution, category, restricted, queries, rng) -> list[GuardExample]:
        if not queries:
            return []
        replies = self.generator.generate(
            queries,
            temperature=0.7,
            max_new_tokens=self.config.max_new_tokens,
            seed=rng.randrange(2**31),
            system_prompt=constitution.system_prompt,
            reply_prefix=category.reply_prefix,
        )
        return [
            GuardExample(
                prompt=q,
                completion=category.reply_prefix + reply,
                system_prompt=constitution.system_prompt,
                category=category.name,
                restricted=restricted,
                source=source_id(q),
                split=split_of(source_id(q)),
            )
            for q, (reply,) in zip(queries, replies, strict=True)
        ]

    def augment(self, style: str) -> None:
        plain = [e for e in self.ws.guard_data.examples(self.run_id) if e.style == "plain"]
        for start in range(0, len(plain), AUGMENT_CHUNK):
            key = f"augment:{style}:{start // AUGMENT_CHUNK}"
            if key not in self.done:
                chunk = plain[start : start + AUGMENT_CHUNK]
                self.commit(key, self._augmented(style, chunk, unit_rng(self.seed, key)))

    def _augmented(self, style: str, chunk: list[GuardExample], rng) -> list[GuardExample]:
        split = "heldout" if style in self.config.heldout_styles else None
        if split:  # held-out styles of test queries only: nothing trained on saw them
            chunk = [e for e in chunk if e.split == "test"]
        if style in LM_STYLES:
            prompts = self._paraphrases([e.prompt for e in chunk], rng)
        elif style == SYSTEM_STYLE:
            prompts = [e.prompt for e in chunk]
        else:
            prompts = [rewrite_prompt(style, e.prompt, rng) for e in chunk]
        out = []
        for example, prompt in zip(chunk, prompts, strict=True):
            if prompt is None:
                continue
            system = example.system_prompt
            if style == SYSTEM_STYLE:
                system = system_prompt_variant(system, rng)
            update = {"prompt": prompt, "system_prompt": system, "style": style}
            out.append(example.model_copy(update={**update, "split": split or example.split}))
        return out

    def _paraphrases(self, prompts: Sequence[str], rng) -> list[str | None]:
        replies = self.generator.generate(
            [PARAPHRASE_PROMPT.format(q=p) for p in prompts],
            temperature=0.7,
            max_new_tokens=48,
            seed=rng.randrange(2**31),
        )
        out: list[str | None] = []
        for (reply,) in replies:
            line = clean(next((x for x in reply.splitlines() if x.strip()), ""))
            out.append(line if keep(line, QUERY_RULES) else None)
        return out


def _list_prompt(category: Category, rng: random.Random) -> str:
    shown = rng.sample(category.examples, k=min(3, len(category.examples)))
    lines = "\n".join(f"{i + 1}. {q}" for i, q in enumerate(shown))
    return LIST_PROMPT.format(description=category.description, examples=lines, next=len(shown) + 1)


def _key(query: str, constitution: Constitution) -> str:
    return f"{normalize(query)}\x00{constitution.system_prompt or ''}"
