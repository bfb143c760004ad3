"""`gguf:FILE`, or a bare `.gguf` path: converted once to transformers, then loaded as such."""

from __future__ import annotations

from pathlib import Path

from tailscope.errors import TailscopeError
from tailscope.models.backends.transformers import TransformersBackend
from tailscope.models.convert import converted
from tailscope.models.registry import BACKENDS, ModelSpec


@BACKENDS.register
class GgufBackend(TransformersBackend):
    name = "gguf"
    summary = "a GGUF file, converted once into the user cache"
    order = 10

    def claims(self, location: str) -> bool:
        return location.lower().endswith(".gguf")

    def model_dir(self, spec: ModelSpec) -> Path:
        path = Path(spec.location).expanduser()
        if not path.is_file():
            raise TailscopeError(
                f"GGUF file {spec.location} does not exist: pass an existing .gguf path"
            )
        return converted(path)

    def display_name(self, spec: ModelSpec) -> str:
        return Path(spec.location).stem
