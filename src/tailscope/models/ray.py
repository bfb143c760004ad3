"""A `LanguageModel` whose calls run on Ray actors, each holding its own copy of the model.

`--executor ray` puts a run's target behind this wrapper, so elicitation, red-team target
evaluation and transfer run over it unchanged while the driver commits every result (a
killed actor or driver loses no committed work). Each actor loads the model once. A call is
split into one contiguous chunk per actor and the replies are put back in order:

- greedy replies and exact log-probabilities do not depend on which prompts share a batch,
  so split calls equal the in-process ones;
- a sampled call draws every prompt from one random stream seeded once per call (HFModel),
  so it goes whole to the next actor: the same seed gives the same samples as in-process.

An actor that dies is restarted by Ray (it loads the model again) and its chunk retried.
Ray is optional: without it the executor says how to install it.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from itertools import cycle

import numpy as np

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability, LanguageModel
from tailscope.models.registry import backend, load_model, load_tokenizer, parse_model_spec

INSTALL = "pip install 'tailscope[ray]'"
RESTARTS = 3  # per actor; each restart reloads the model and retries the chunk in flight
BLACK_BOX = frozenset({Capability.GENERATE, Capability.LOGPROB})


def import_ray():
    """The `ray` module, or one line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise TailscopeError(
            f"--executor ray needs Ray, which is not installed: run `{INSTALL}`"
        ) from None
    return ray


class ModelActor:
    """What each actor runs: the model loaded once, then any of its calls."""

    def __init__(self, spec: str, threads: int):
        import torch

        torch.set_num_threads(threads)
        self.model, self.error = None, None
        try:
            self.model = load_model(spec)
        except TailscopeError as exc:  # said in one line by the driver, not as a Ray traceback
            self.error = str(exc)

    def call(self, method: str, args: tuple, kwargs: dict):
        return getattr(self.model, method)(*args, **kwargs)

    def describe(self) -> dict:
        if self.error is not None:
            return {"error": self.error}
        return {
            "name": self.model.name,
            "identity": self.model.identity(),
            "context_length": getattr(self.model, "context_length", None),
        }


class RayModel(LanguageModel):
    """Model `spec` on `actors` Ray actors: one CPU each, and a GPU each for a vllm model."""

    def __init__(self, spec: str, actors: int = 2):
        if actors < 1:
            raise TailscopeError(f"--actors {actors} must be at least 1")
        ray = import_ray()
        parsed = parse_model_spec(spec)
        self.capabilities = backend(parsed.backend).capabilities_of(parsed) & BLACK_BOX
        self.spec, self._ray = spec, ray
        start_ray(ray, actors)
        gpus = 1 if parsed.backend == "vllm" else 0
        remote = ray.remote(
            num_cpus=1, num_gpus=gpus, max_restarts=RESTARTS, max_task_retries=RESTARTS
        )(ModelActor)
        self.actors = [remote.remote(spec, 1) for _ in range(actors)]
        described = ray.get([a.describe.remote() for a in self.actors])[0]
        if "error" in described:
            self.close()
            raise TailscopeError(described["error"])
        self.name = described["name"]
        self.context_length = described["context_length"]
        self._identity = {**described["identity"], "executor": {"ray": {"actors": actors}}}
        self._next = cycle(range(actors))
        self._tokenizer = None

    def generate(
        self, prompts: Sequence[str], *, temperature: float = 0.0, **settings
    ) -> list[list[str]]:
        settings["temperature"] = temperature
        prompts = list(prompts)
        if temperature > 0 or not prompts:
            return self._whole("generate", (prompts,), settings)
        prefix = settings.pop("reply_prefix", "")
        prefixes = [prefix] * len(prompts) if isinstance(prefix, str) else list(prefix)
        n = len(self.actors)
        parts = [
            ((chunk,), {**settings, "reply_prefix": pre})
            for chunk, pre in zip(_chunks(prompts, n), _chunks(prefixes, n), strict=True)
        ]
        return [reply for part in self._split("generate", parts) for reply in part]

    def logprob(self, prompts, continuations, *, system_prompt: str | None = None) -> np.ndarray:
        if len(prompts) != len(continuations):
            raise ValueError("prompts and continuations differ in length")
        n = len(self.actors)
        parts = [
            ((p, c), {"system_prompt": system_prompt})
            for p, c in zip(_chunks(list(prompts), n), _chunks(list(continuations), n), strict=True)
        ]
        scores = self._split("logprob", parts)
        return np.concatenate(scores) if scores else np.zeros(0)

    def encode(self, text: str) -> list[int]:
        """Token ids from the driver's own copy of the tokenizer (no model weights), so that
        work is ordered by length as in-process."""
        if self._tokenizer is None:
            self._tokenizer = load_tokenizer(self.spec)
        return self._tokenizer(text, add_special_tokens=False)["input_ids"]

    def identity(self) -> dict:
        return self._identity

    def rendered_system_prompt(self, system_prompt: str | None = None) -> str:
        return self._whole("rendered_system_prompt", (system_prompt,), {})

    def close(self) -> None:
        """Free the actors' CPUs (and memory) for the next run."""
        for actor in self.actors:
            self._ray.kill(actor, no_restart=True)
        self.actors = []

    def _whole(self, method: str, args: tuple, kwargs: dict):
        actor = self.actors[next(self._next)]
        return self._ray.get(actor.call.remote(method, args, kwargs))

    def _split(self, method: str, parts: list[tuple[tuple, dict]]) -> list:
        refs = [
            actor.call.remote(method, args, kwargs)
            for actor, (args, kwargs) in zip(self.actors, parts, strict=False)
        ]
        return self._ray.get(refs)


def _chunks(items: list, count: int) -> list[list]:
    """`items` in at most `count` contiguous chunks of near-equal size (none empty)."""
    if not items:
        return []
    size = math.ceil(len(items) / count)
    return [items[i : i + size] for i in range(0, len(items), size)]


def start_ray(ray, actors: int) -> None:
    """Join the cluster at $RAY_ADDRESS, or start a local one with a CPU per actor; quietly,
    since a command's stderr holds its own progress and one-line errors."""
    if ray.is_initialized():
        return
    quiet = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], **quiet)
    else:
        ray.init(num_cpus=actors, **quiet)
