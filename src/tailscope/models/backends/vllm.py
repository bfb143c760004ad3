"""`vllm:MODEL`: vLLM's offline engine on a GPU, black-box: batched generation and exact
prompt log-probabilities. MODEL is any local transformers model spec (a packaged name, a
directory, a .gguf file, converted once as for the transformers backend):

    tailscope elicit -m vllm:smollm2-135m-instruct -b toxic-from-benign --pool qs --k 256

vLLM is imported only when such a model loads (`pip install vllm` on a GPU machine). On a
machine without a CUDA GPU the backend says so in one line. Prompts go through the model's
chat template exactly as in-process (`models/chat.py`); each prompt of a sampled call
has its own seed (the call's seed plus its index), so replies do not depend on batching.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from tailscope.errors import TailscopeError
from tailscope.models.base import Capability, LanguageModel
from tailscope.models.chat import render_chat
from tailscope.models.registry import BACKENDS, Backend, ModelSpec, local_model_dir


class VLLMOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")
    gpu_memory_utilization: float = Field(0.5, gt=0, le=1, description="share of GPU memory")
    max_model_len: int | None = Field(None, ge=16, description="context tokens [default: model's]")
    dtype: str = Field("float32", description="weights' dtype (float32 matches in-process)")
    tensor_parallel_size: int = Field(1, ge=1, description="GPUs one model spans")


def _check_machine() -> None:
    import torch

    if not torch.cuda.is_available():
        raise TailscopeError(
            "the vllm backend needs a CUDA GPU, and this machine has none: drop the vllm: "
            "prefix to run the model in-process with transformers"
        )
    try:
        import vllm  # noqa: F401
    except ImportError:
        raise TailscopeError(
            "the vllm backend needs vLLM, which is not installed: run `pip install vllm`"
        ) from None


class VLLMModel(LanguageModel):
    capabilities = frozenset({Capability.GENERATE, Capability.LOGPROB})

    def __init__(self, engine, *, name: str, source: str, default_system_prompt=None):
        self.engine, self.name, self.source = engine, name, source
        self.tokenizer = engine.get_tokenizer()
        self.default_system_prompt = default_system_prompt
        self.context_length = engine.llm_engine.model_config.max_model_len

    def chat_text(self, prompt: str, system_prompt: str | None = None) -> str:
        if system_prompt is None:
            system_prompt = self.default_system_prompt
        return render_chat(self.tokenizer, prompt, system_prompt)

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
        from vllm import SamplingParams

        prefixes = [reply_prefix] * len(prompts) if isinstance(reply_prefix, str) else reply_prefix
        texts = [
            self.chat_text(p, system_prompt) + pre for p, pre in zip(prompts, prefixes, strict=True)
        ]
        params = [
            SamplingParams(
                n=n,
                temperature=temperature,
                top_k=-1 if temperature > 0 else 1,
                max_tokens=max_new_tokens,
                seed=None if seed is None else seed + i,
            )
            for i in range(len(texts))
        ]
        inputs = [{"prompt_token_ids": self._encode(t)} for t in texts]
        outputs = self.engine.generate(inputs, params, use_tqdm=False)
        return [[c.text for c in out.outputs] for out in outputs]

    def logprob(self, prompts, continuations, *, system_prompt=None) -> np.ndarray:
        from vllm import SamplingParams

        if len(prompts) != len(continuations):
            raise ValueError("prompts and continuations differ in length")
        contexts = [self._encode(self.chat_text(p, system_prompt)) for p in prompts]
        targets = [self._encode(c) for c in continuations]
        inputs = [{"prompt_token_ids": c + t} for c, t in zip(contexts, targets, strict=True)]
        params = SamplingParams(max_tokens=1, prompt_logprobs=0)
        outputs = self.engine.generate(inputs, params, use_tqdm=False)
        result = np.zeros(len(prompts), dtype=np.float64)
        for row, (out, context, target) in enumerate(zip(outputs, contexts, targets, strict=True)):
            positions = range(len(context), len(context) + len(target))
            result[row] = sum(
                out.prompt_logprobs[j][tok].logprob
                for j, tok in zip(positions, target, strict=True)
            )
        return result

    def _encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def identity(self) -> dict:
        return {"name": self.name, "source": self.source, "backend": "vllm"}

    def rendered_system_prompt(self, system_prompt: str | None = None) -> str:
        marker = "\u2063TAILSCOPE_USER_TEXT\u2063"
        return self.chat_text(marker, system_prompt).split(marker)[0]


@BACKENDS.register
class VLLMBackend(Backend):
    name = "vllm"
    summary = "vLLM's offline engine on a CUDA GPU: batched generation, prompt log-probabilities"
    capabilities = frozenset({Capability.GENERATE, Capability.LOGPROB})
    Options = VLLMOptions
    order = 60

    def load(self, spec: ModelSpec) -> VLLMModel:
        _check_machine()
        from vllm import LLM

        model_dir = local_model_dir(spec.location)
        options = VLLMOptions.model_validate(spec.options)
        engine = LLM(model=str(model_dir), seed=0, enforce_eager=True, **options.model_dump())
        return VLLMModel(
            engine,
            name=f"vllm:{spec.location}",
            source=str(model_dir),
            default_system_prompt=spec.system_prompt,
        )
