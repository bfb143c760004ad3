"""`hf:DIR`, or a bare directory: a transformers model saved with `save_pretrained`."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tailscope.errors import TailscopeError
from tailscope.models.quote_constraint import QuoteConstraintOptions
from tailscope.models.registry import BACKENDS, Backend, ModelSpec


class TransformersOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    device: str | None = Field(None, description="cpu, cuda, cuda:1, ... [default: cuda if any]")
    batch_tokens: int | None = Field(None, ge=1, description="padded tokens per forward pass")
    quote_constraint: QuoteConstraintOptions | None = Field(
        None, description="keep generated quotes verbatim from sources (docs/methods/quote.md)"
    )


# What from_pretrained needs beside config.json; checked first, so a half-copied directory
# gets one line instead of a transformers traceback.
_NEEDED_FILES = {
    "weights": ("*.safetensors", "pytorch_model*.bin"),
    "tokenizer": ("tokenizer.json", "tokenizer.model", "vocab.json", "vocab.txt"),
}


@BACKENDS.register
class TransformersBackend(Backend):
    """Every backend whose model ends up a transformers directory: fine-tunable, white-box."""

    name = "hf"
    summary = "a transformers model directory (saved with save_pretrained)"
    Options = TransformersOptions
    order = 20

    def claims(self, location: str) -> bool:
        return Path(location).expanduser().is_dir()

    def model_dir(self, spec: ModelSpec) -> Path:
        path = Path(spec.location).expanduser()
        if not (path / "config.json").is_file():
            raise TailscopeError(
                f"{spec.location} is not a transformers model directory (no config.json): "
                "pass a directory saved with save_pretrained, a .gguf file, "
                "or a name from `tailscope models`"
            )
        for what, patterns in _NEEDED_FILES.items():
            if not any(any(path.glob(p)) for p in patterns):
                raise TailscopeError(
                    f"{spec.location} has a config.json but no {what} ({' or '.join(patterns)}): "
                    "save the model and its tokenizer with save_pretrained into it"
                )
        return path

    def display_name(self, spec: ModelSpec) -> str:
        return Path(spec.location).expanduser().name

    def load(self, spec: ModelSpec):
        from tailscope.models.hf import load_hf_model

        return load_hf_model(
            self.model_dir(spec),
            self.display_name(spec),
            default_system_prompt=spec.system_prompt,
            **spec.options,
        )
