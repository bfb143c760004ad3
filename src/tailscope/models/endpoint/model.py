"""`EndpointModel`: a `LanguageModel` behind an OpenAI-compatible endpoint.

Every reply is one *sample slot*: (prompt, generation parameters, seed, sample index). A
slot is looked up in the workspace's response cache first (`attach_cache`; the run layer
attaches it) and only the missing ones are requested; each answer is cached as it
arrives, so a killed run resumes without asking again. Greedy slots drop the seed and the
index: every greedy reply to a prompt is the same reply.

Capabilities are negotiated: `n` samples in one request are tried once and, when the
server refuses or returns fewer (transformers serve ignores `n`), the rest are asked one
by one from then on. A chat endpoint cannot pre-fill the start of a reply, so a
`reply_prefix` is dropped there (the model starts its reply itself; identity says so)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability, LanguageModel
from tailscope.models.endpoint.client import EndpointClient, Request
from tailscope.models.endpoint.retry import RetryPolicy

_SEED_SPAN = 1_000_003  # sample seeds of one call stay apart from the next call's
_CHARS_PER_TOKEN = 4  # for the tokens/min bucket, before the server counts


@dataclass(frozen=True)
class Slot:
    prompt: int  # index into the call's prompts
    key: str
    sample: int  # index of the sample for its prompt (and its occurrence in the call)


class EndpointModel(LanguageModel):
    def __init__(self, client, model: str, options, capabilities, default_system_prompt=None):
        self.client, self.model, self.options = client, model, options
        self.capabilities = frozenset(capabilities)
        self.name = f"{model}@{client.base_url}"
        self.default_system_prompt = default_system_prompt
        self.n_per_request = options.n_per_request
        self.cache = None  # a ResponseTable; in memory only until one is attached
        self._memory: dict[str, str] = {}

    @classmethod
    def connect(cls, base_url, model, options, key, *, capabilities, default_system_prompt):
        """Connect and check the endpoint: it answers, it serves `model`, and it returns
        prompt log-probabilities if the options say it does. Each failure is one line."""
        client = EndpointClient(
            base_url,
            key,
            limits={
                "concurrency": options.concurrency,
                "requests_per_minute": options.requests_per_minute,
                "tokens_per_minute": options.tokens_per_minute,
            },
            timeout_s=options.timeout_s,
            policy=RetryPolicy(max_retries=options.max_retries),
        )
        served = client.model_ids()
        if served is not None and model not in served:
            shown = ", ".join(repr(s) for s in served[:5]) or "none"
            raise TailscopeError(
                f"endpoint {base_url} serves no model {model!r} (it serves {shown}): "
                f"write openai:{base_url}#NAME with one of them"
            )
        built = cls(client, model, options, capabilities, default_system_prompt)
        if Capability.LOGPROB in built.capabilities:
            built.check_logprobs()
        return built

    def attach_cache(self, responses) -> None:
        self.cache = responses

    # ---- generation --------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str],
        *,
        n: int = 1,
        temperature: float = 0.0,
        max_new_tokens: int = 32,
        seed: int | None = None,
        system_prompt: str | None = None,
        reply_prefix: str | Sequence[str] = "",
    ) -> list[list[str]]:
        prefixes = [reply_prefix] * len(prompts) if isinstance(reply_prefix, str) else reply_prefix
        inputs = [self._input(p, system_prompt, x) for p, x in zip(prompts, prefixes, strict=True)]
        params = {"max_tokens": max_new_tokens, "temperature": float(temperature)}
        slots = self._slots(inputs, n, params, seed)
        texts = self._answers(slots, inputs, params, seed)
        replies: list[list[str]] = [[] for _ in prompts]
        for slot in slots:
            replies[slot.prompt].append(texts[slot.key])
        return replies

    def _input(self, prompt: str, system_prompt: str | None, prefix: str) -> dict:
        system = self.default_system_prompt if system_prompt is None else system_prompt
        if self.options.api == "completions":  # raw text, no chat template
            head = f"{system}\n\n" if system else ""
            return {"prompt": head + prompt + prefix}
        messages = [{"role": "user", "content": prompt}]
        if system is not None:
            messages.insert(0, {"role": "system", "content": system})
        return {"messages": messages}

    def _slots(self, inputs: list[dict], n: int, params: dict, seed: int | None) -> list[Slot]:
        """One slot per reply; a prompt repeated in one call gets new sample indices."""
        greedy = params["temperature"] == 0
        seen: dict[str, int] = {}
        slots = []
        for i, item in enumerate(inputs):
            base = {"base_url": self.client.base_url, "model": self.model, **item, **params}
            if not greedy:
                base["seed"] = seed
            first = seen.get(response_key(base), 0)
            seen[response_key(base)] = first + n
            for j in range(n):
                sample = 0 if greedy else first + j
                slots.append(Slot(i, response_key({**base, "sample": sample}), sample))
        return slots

    def _answers(self, slots, inputs, params, seed) -> dict[str, str]:
        """Text per slot key: cached ones first, the missing ones requested."""
        keys = list(dict.fromkeys(s.key for s in slots))
        known = {k: self._memory[k] for k in keys if k in self._memory}
        if self.cache is not None:
            known.update(self.cache.get_many([k for k in keys if k not in known]))
        self.client.usage.cache_hits += sum(s.key in known for s in slots)
        while missing := _first_per_key([s for s in slots if s.key not in known]):
            requests, targets = self._requests(missing, inputs, params, seed)
            try:
                self.client.run_all(requests, partial(self._store, targets=targets, known=known))
            except TailscopeError as exc:
                asked_n = any("n" in r.body for r in requests)
                if not (asked_n and self.n_per_request is None and exc.status == 400):
                    raise
                self.n_per_request = False  # n refused: ask the samples one by one
        return known

    def _requests(self, missing: list[Slot], inputs, params, seed):
        """Requests for the missing slots; with `n` per request, one per prompt."""
        groups: dict[int, list[Slot]] = {}
        for slot in missing:
            together = self.n_per_request is not False and params["temperature"] > 0
            groups.setdefault(slot.prompt if together else -1 - len(groups), []).append(slot)
        requests, targets = [], []
        for group in groups.values():
            body = {"model": self.model, **inputs[group[0].prompt], **params}
            if params["temperature"] > 0:
                body["seed"] = ((seed or 0) * _SEED_SPAN + group[0].sample) % 2**31
            if len(group) > 1:
                body["n"] = len(group)
            size = len(str(inputs[group[0].prompt])) // _CHARS_PER_TOKEN
            tokens = size + params["max_tokens"] * len(group)
            requests.append(Request(self.options.api, body, tokens))
            targets.append(group)
        return requests, targets

    def _store(self, done: list[tuple[int, list[str]]], targets, known: dict) -> None:
        entries = []
        for index, texts in done:
            group = targets[index]
            if len(group) > 1 and len(texts) < len(group):
                self.n_per_request = False  # the server ignores n: ask the rest one by one
            for slot, text in zip(group, texts, strict=False):
                known[slot.key] = self._memory[slot.key] = text
                entries.append((slot.key, text, {"model": self.name, "sample": slot.sample}))
        self.client.usage.answered += len(entries)
        if self.cache is not None:
            self.cache.put_many(entries)

    # ---- log-probabilities -------------------------------------------------------------

    def logprob(self, prompts, continuations, *, system_prompt=None) -> np.ndarray:
        if Capability.LOGPROB not in self.capabilities:
            raise TailscopeError(
                f"endpoint model {self.name} has no log-probabilities: use a completions "
                "endpoint that returns prompt log-probabilities (options: api: completions, "
                "logprobs: true)"
            )
        from tailscope.models.endpoint.scoring import score_continuations

        return score_continuations(self, prompts, continuations, system_prompt)

    def check_logprobs(self) -> None:
        from tailscope.models.endpoint.scoring import check_prompt_logprobs

        check_prompt_logprobs(self)

    # ---- what the run records ----------------------------------------------------------

    def identity(self) -> dict:
        return {
            "name": self.name,
            "backend": "openai",
            "base_url": self.client.base_url,
            "model": self.model,
            "api": self.options.api,
            "api_key_env": self.options.api_key_env,  # the variable's name, never the key
            **({"system_prompt": self.default_system_prompt} if self.default_system_prompt else {}),
            "capabilities": sorted(self.capabilities),
            "reply_prefix": "pre-filled" if self.options.api == "completions" else "dropped",
        }

    def rendered_system_prompt(self, system_prompt: str | None = None) -> str:
        system = self.default_system_prompt if system_prompt is None else system_prompt
        return system or ""

    def usage(self) -> dict:
        return self.client.usage.as_dict()


def response_key(request: dict) -> str:
    """The content address of a request: sha256 of its canonical JSON."""
    canonical = json.dumps(request, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _first_per_key(slots: list[Slot]) -> list[Slot]:
    """Each key once: greedy slots of a prompt share one request."""
    unique: dict[str, Slot] = {}
    for slot in slots:
        unique.setdefault(slot.key, slot)
    return list(unique.values())
