"""Model backends and model specs: which backend loads a spec, and what it can do.

A spec names a backend, `BACKEND:LOCATION` (`hf:./my-model`, `gguf:model.gguf`), or is one a
backend recognises on its own: a packaged model's name (`smollm2-135m-instruct`), a
transformers directory, a `.gguf` file. A `.yaml` spec is a target file, so that a long
target definition is not a command line:

    model: gguf:./SmolLM2.gguf      # any spec; a relative path is relative to this file
    system_prompt: You are ...       # used where neither the behavior nor the command sets one
    options: {batch_tokens: 2048}    # the backend's options

A backend declares its capabilities (`models.base.Capability`); `require` checks them when a
run's config is validated, before any model is loaded. A new backend is one module in
`models/backends/` with a `Backend` subclass decorated `@BACKENDS.register`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tailscope.errors import TailscopeError, first_problem
from tailscope.files import read_mapping
from tailscope.models.base import ALL_CAPABILITIES, CAPABILITY_MEANS, Capability
from tailscope.registry import Registry

if TYPE_CHECKING:
    from tailscope.models.base import LanguageModel

DEFAULT_MODEL = "smollm2-135m-instruct"
_TARGET_KEYS = ("model", "system_prompt", "options")


@dataclass(frozen=True)
class NamedModel:
    name: str
    description: str
    available: bool
    install_hint: str = ""


class ModelSpec(BaseModel):
    """A parsed spec: the backend, where the model is, and the backend's options."""

    model_config = ConfigDict(extra="forbid")
    backend: str
    location: str
    options: dict[str, Any] = {}
    system_prompt: str | None = None


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Backend(ABC):
    """How to load one kind of model, and what such a model can do."""

    name: str
    summary: str  # one line for `tailscope models`
    capabilities: frozenset[Capability] = ALL_CAPABILITIES
    Options: type[BaseModel] = NoOptions  # a target file's `options`, validated
    order: int = 100  # bare specs are offered to backends in this order

    def claims(self, location: str) -> bool:
        """True for a bare spec (no `BACKEND:` prefix) this backend recognises."""
        return False

    def named(self) -> list[NamedModel]:
        """The models this backend offers by name, for `tailscope models`."""
        return []

    def capabilities_of(self, spec: ModelSpec) -> frozenset[Capability]:
        return self.capabilities

    @abstractmethod
    def load(self, spec: ModelSpec) -> LanguageModel: ...


# The guarded backend lives with the guards (above models/ in the layers), named here by
# string so that models/ does not import guard/.
BACKENDS: Registry[type[Backend]] = Registry(
    "model backend", packages=["tailscope.models.backends", "tailscope.guard.backends"]
)


def backend(name: str) -> Backend:
    return BACKENDS.get(name)()


def parse_model_spec(text: str) -> ModelSpec:
    """The spec `text` parsed and its options validated; bad specs are one line."""
    text = text.strip()
    if not text:
        raise TailscopeError("the model spec is empty: pass --model NAME, hf:DIR or gguf:FILE")
    prefix, sep, _ = text.partition(":")
    prefixed = bool(sep) and prefix in BACKENDS  # `guarded:FILE.yaml` names its backend
    if Path(text).suffix.lower() in (".yaml", ".yml") and not prefixed:
        return _target_file(Path(text))
    return _checked(_bare_or_prefixed(text), text)


def _bare_or_prefixed(text: str) -> ModelSpec:
    prefix, sep, rest = text.partition(":")
    if sep and prefix in BACKENDS:
        return ModelSpec(backend=prefix, location=rest)
    for cls in BACKENDS.entries():
        if cls().claims(text):
            return ModelSpec(backend=cls.name, location=text)
    names = ", ".join(m.name for m in list_models())
    prefixes = ", ".join(f"{name}:" for name in BACKENDS.names())
    raise TailscopeError(
        f"unknown model {text!r}: use one of [{names}], a transformers directory or a .gguf "
        f"file, or name a backend ({prefixes}); see `tailscope models`"
    )


def _checked(spec: ModelSpec, text: str) -> ModelSpec:
    try:
        options = backend(spec.backend).Options.model_validate(spec.options)
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        raise TailscopeError(
            f"model {text!r}: option {field!r}: {message} (got {value!r})"
        ) from None
    return spec.model_copy(update={"options": options.model_dump(exclude_unset=True)})


def _target_file(path: Path) -> ModelSpec:
    label = f"target file {path}"
    if not path.is_file():
        raise TailscopeError(f"{label} not found: check the path")
    raw = read_mapping(path, label, "with model, and optionally system_prompt and options")
    if "guards" in raw:  # a guarded-target file (guard/target_file.py)
        return ModelSpec(backend="guarded", location=str(path))
    unknown = sorted(set(raw) - set(_TARGET_KEYS))
    if unknown:
        raise TailscopeError(
            f"{label}: unknown field {unknown[0]!r}: allowed fields are {', '.join(_TARGET_KEYS)}"
        )
    inner, system_prompt = raw.get("model"), raw.get("system_prompt")
    options = raw.get("options") or {}
    if not isinstance(inner, str) or Path(inner).suffix.lower() in (".yaml", ".yml"):
        raise TailscopeError(f"{label}: field 'model' must be a model spec, e.g. hf:./my-model")
    if system_prompt is not None and not isinstance(system_prompt, str):
        raise TailscopeError(f"{label}: field 'system_prompt' must be text")
    if not isinstance(options, dict):
        raise TailscopeError(f"{label}: field 'options' must be a mapping, e.g. {{device: cpu}}")
    spec = _bare_or_prefixed(_relative_to(inner.strip(), path.parent))
    spec = spec.model_copy(update={"options": options, "system_prompt": system_prompt})
    return _checked(spec, str(path))


def _relative_to(inner: str, base: Path) -> str:
    """`inner` with a relative location that exists beside the target file made absolute."""
    prefix, sep, rest = inner.partition(":")
    head, location = (f"{prefix}:", rest) if sep and prefix in BACKENDS else ("", inner)
    candidate = base / location
    if location and not Path(location).is_absolute() and candidate.exists():
        location = str(candidate.resolve())
    return head + location


def require(text: str, needs: Iterable[Capability], purpose: str) -> None:
    """One line, before anything loads, when model `text` lacks a capability `purpose` needs."""
    spec = parse_model_spec(text)
    missing = [c for c in needs if c not in backend(spec.backend).capabilities_of(spec)]
    if missing:
        raise TailscopeError(
            f"{purpose} needs {CAPABILITY_MEANS[missing[0]]}, which model {text!r} "
            f"({spec.backend} backend) does not offer: use a model that does "
            "(see `tailscope models`) or a method that needs less"
        )


def load_model(text: str = DEFAULT_MODEL) -> LanguageModel:
    """Load a model by spec (see the module docstring)."""
    spec = parse_model_spec(text)
    return backend(spec.backend).load(spec)


def local_model_dir(text: str = DEFAULT_MODEL) -> Path:
    """The transformers directory of a local model (converting a GGUF file if needed)."""
    spec = parse_model_spec(text)
    model_dir = getattr(backend(spec.backend), "model_dir", None)
    if model_dir is None:
        raise TailscopeError(f"model {text!r} is not a local transformers model")
    return model_dir(spec)


def load_tokenizer(text: str = DEFAULT_MODEL):
    """The tokenizer of a local model, without loading its weights."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(local_model_dir(text))


def list_models() -> list[NamedModel]:
    return [m for cls in BACKENDS.entries() for m in cls().named()]
