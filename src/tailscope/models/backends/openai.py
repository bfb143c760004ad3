"""`openai:URL#MODEL`: a model behind an OpenAI-compatible HTTP endpoint (OpenAI, vLLM,
`transformers serve`, llama.cpp's server, ...), black-box: it generates, and it scores
exact log-probabilities only where a completions endpoint returns prompt log-probabilities
(`logprobs: true`, checked when the model loads).

    tailscope redteam -m openai:http://127.0.0.1:8000/v1#my-model ...

or a target file, for the key and the limits:

    model: openai:https://api.example.com/v1#my-model
    options: {api_key_env: EXAMPLE_API_KEY, concurrency: 16, requests_per_minute: 600}

The key is read from the named environment variable when the model loads, and is never
written anywhere: configs and run records hold the variable's name only."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.models.registry import BACKENDS, Backend, ModelSpec

_FORMAT = "openai:http://HOST:PORT/v1#MODEL"


class OpenAIOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key_env: str | None = Field(None, description="environment variable holding the key")
    api: Literal["chat", "completions"] = Field("chat", description="which endpoint to call")
    concurrency: int = Field(8, ge=1, le=256, description="requests in flight at once")
    requests_per_minute: float | None = Field(None, gt=0, description="request rate limit")
    tokens_per_minute: float | None = Field(None, gt=0, description="token rate limit")
    timeout_s: float = Field(60.0, gt=0, description="seconds before a request is retried")
    max_retries: int = Field(6, ge=0, le=100, description="tries after the first, per request")
    n_per_request: bool | None = Field(
        None, description="ask n samples in one request [default: try, fall back to n requests]"
    )
    logprobs: bool = Field(
        False, description="the completions endpoint returns prompt log-probabilities (echo)"
    )

    @model_validator(mode="before")
    @classmethod
    def _no_keys_in_files(cls, data):
        # Raised past pydantic, whose error would echo the options, the key among them.
        if isinstance(data, dict) and any("key" in k and k != "api_key_env" for k in data):
            raise TailscopeError(
                "an API key is never written in a file: put it in an environment variable "
                "and name the variable with api_key_env"
            )
        return data


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str


def parse_endpoint(location: str) -> Endpoint:
    """`URL#MODEL` checked: an http(s) URL without credentials in it, and a model name."""
    url, sep, model = location.strip().partition("#")
    parts = urlsplit(url)
    if not sep or not model.strip():
        raise TailscopeError(f"endpoint {url!r} names no model: write {_FORMAT}")
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TailscopeError(f"endpoint {url!r} is not an http(s) URL: write {_FORMAT}")
    if parts.username or parts.password or parts.query:
        raise TailscopeError(
            "an endpoint URL holds no credentials or query: put the API key in an "
            "environment variable and name it with api_key_env in a target file"
        )
    return Endpoint(url.rstrip("/"), model.strip())


def api_key(options: OpenAIOptions) -> str | None:
    if options.api_key_env is None:
        return None
    key = os.environ.get(options.api_key_env)
    if not key:
        raise TailscopeError(
            f"environment variable {options.api_key_env} (api_key_env) is not set: export "
            "the API key in it"
        )
    return key


@BACKENDS.register
class OpenAIBackend(Backend):
    name = "openai"
    summary = "an OpenAI-compatible endpoint, openai:URL#MODEL (black-box)"
    capabilities = frozenset({Capability.GENERATE, Capability.LOGPROB})
    Options = OpenAIOptions
    order = 50

    def capabilities_of(self, spec: ModelSpec) -> frozenset[Capability]:
        parse_endpoint(spec.location)
        options = OpenAIOptions.model_validate(spec.options)
        if options.logprobs and options.api == "completions":
            return frozenset({Capability.GENERATE, Capability.LOGPROB})
        return frozenset({Capability.GENERATE})

    def load(self, spec: ModelSpec):
        from tailscope.models.endpoint.model import EndpointModel

        options = OpenAIOptions.model_validate(spec.options)
        endpoint = parse_endpoint(spec.location)
        return EndpointModel.connect(
            endpoint.base_url,
            endpoint.model,
            options,
            api_key(options),
            capabilities=self.capabilities_of(spec),
            default_system_prompt=spec.system_prompt,
        )
