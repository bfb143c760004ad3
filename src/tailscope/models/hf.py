"""A transformers causal LM and its tokenizer behind the model interfaces (generate, exact
logprob, white-box, trainable); the backends in `models/backends/` load one of these."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import DynamicCache, LogitsProcessorList

from tailscope.errors import TailscopeError
from tailscope.files import one_line
from tailscope.models.base import ChatLayout, TrainableModel
from tailscope.models.chat import render_chat
from tailscope.models.quote_constraint import QuoteConstraint, QuoteConstraintOptions

# Marks where the user's text goes when the chat template is split into spans.
_SENTINEL = "\u2063TAILSCOPE_USER_TEXT\u2063"


class HFModel(TrainableModel):
    """A transformers causal LM. Prompts always go through the model's chat template.

    `default_system_prompt` is used whenever a caller gives none (a target YAML's
    `system_prompt`); None leaves the chat template's own default. `quote_constraint` (a
    target YAML's `options.quote_constraint`) keeps every generated quote verbatim from its
    sources (`models/quote_constraint.py`)."""

    def __init__(
        self,
        model,
        tokenizer,
        *,
        name: str,
        source: str,
        batch_tokens: int | None = None,
        default_system_prompt: str | None = None,
        quote_constraint: dict | QuoteConstraint | None = None,
    ):
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.name = name
        self.source = source
        self.default_system_prompt = default_system_prompt
        self.device = next(model.parameters()).device
        # Upper bound on padded tokens per forward pass; keeps memory flat on long batches.
        # On CPU, 4,096 tokens per pass scored at 72% of the matmul peak and 8,192 at 55%
        # (cache effects; docs/benchmarks.md); a GPU wants larger batches.
        if batch_tokens is None:
            batch_tokens = 4096 if self.device.type == "cpu" else 32768
        self.batch_tokens = batch_tokens
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        self._body = model.get_decoder()
        self._head = model.get_output_embeddings()
        for p in model.parameters():
            p.requires_grad_(False)
        if isinstance(quote_constraint, dict):
            options = QuoteConstraintOptions.model_validate(quote_constraint)
            quote_constraint = QuoteConstraint(tokenizer, options)
        self.quote_constraint = quote_constraint

    # ---- chat formatting -------------------------------------------------------------

    def chat_text(self, prompt: str, system_prompt: str | None = None) -> str:
        if system_prompt is None:
            system_prompt = self.default_system_prompt
        return render_chat(self.tokenizer, prompt, system_prompt)

    def rendered_system_prompt(self, system_prompt: str | None = None) -> str:
        return self.chat_text(_SENTINEL, system_prompt).split(_SENTINEL)[0]

    def chat_layout(
        self, system_prompt: str | None = None, user_prefix: str = "", user_suffix: str = ""
    ) -> ChatLayout:
        before, after = self.chat_text(_SENTINEL, system_prompt).split(_SENTINEL)
        return ChatLayout(
            before=tuple(self.encode(before + user_prefix)),
            after=tuple(self.encode(user_suffix + after)),
        )

    def encode(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=True)

    @property
    def context_length(self) -> int | None:
        return getattr(self.model.config, "max_position_embeddings", None)

    # ---- trainable interface ---------------------------------------------------------

    @property
    def module(self):
        return self.model

    def derive(self, module, suffix: str) -> HFModel:
        return HFModel(
            module,
            self.tokenizer,
            name=f"{self.name}+{suffix}",
            source=self.source,
            batch_tokens=self.batch_tokens,
            default_system_prompt=self.default_system_prompt,
            quote_constraint=self.quote_constraint,
        )

    # ---- black-box interface ---------------------------------------------------------

    @torch.no_grad()
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
        if not prompts:
            return []
        prefixes = [reply_prefix] * len(prompts) if isinstance(reply_prefix, str) else reply_prefix
        texts = [
            self.chat_text(p, system_prompt) + prefix
            for p, prefix in zip(prompts, prefixes, strict=True)
        ]
        if seed is not None:
            torch.manual_seed(seed)
        sampling = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
        prompt_tokens = max(len(self.encode(t)) for t in texts)
        per_batch = self._generation_rows(prompt_tokens, prompt_tokens + max_new_tokens, n)
        replies: list[list[str]] = []
        self.tokenizer.padding_side = "left"
        for start in range(0, len(texts), per_batch):
            chunk = texts[start : start + per_batch]
            enc = self.tokenizer(
                chunk, add_special_tokens=False, padding=True, return_tensors="pt"
            ).to(self.device)
            settings = {"max_new_tokens": max_new_tokens, **sampling}
            if self.quote_constraint is not None:
                rows = [p for p in prefixes[start : start + per_batch] for _ in range(n)]
                processor = self.quote_constraint.processor(rows)
                settings["logits_processor"] = LogitsProcessorList([processor])
            out = self._generate_batch(enc["input_ids"], enc["attention_mask"], n, settings)
            new = out[:, enc["input_ids"].shape[1] :]
            decoded = self.tokenizer.batch_decode(new, skip_special_tokens=True)
            replies.extend(decoded[i : i + n] for i in range(0, len(decoded), n))
        return replies

    def _generation_rows(self, prompt_tokens: int, longest: int, n: int) -> int:
        """Prompts per `generate` batch. Prefill forwards rows x prompt tokens, bounded by
        batch_tokens. A decoding step forwards only rows x n tokens, so there memory bounds
        the batch: the KV cache of rows x n x longest tokens may take what the fp32 logits
        of a batch_tokens forward pass take (~4x batch_tokens on SmolLM2: 41 list prompts
        x 2 replies per batch instead of 9, 1.56x the reply tokens/s, docs/benchmarks.md)."""
        config = self.model.config
        heads = config.num_attention_heads
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // heads
        kv_heads = getattr(config, "num_key_value_heads", None) or heads
        element = next(self.model.parameters()).element_size()
        kv_bytes = 2 * config.num_hidden_layers * kv_heads * head_dim * element
        cache_tokens = self.batch_tokens * config.vocab_size * 4 // kv_bytes
        return max(1, min(self.batch_tokens // prompt_tokens, cache_tokens // (longest * n)))

    def _generate_batch(self, ids, mask, n: int, settings: dict):
        """n continuations of each row. With n > 1 each prompt is prefilled once and its KV
        cache repeated for its n samples: `num_return_sequences` would prefill every copy,
        which dominates the cost of short samples of long prompts."""
        settings = {"pad_token_id": self.tokenizer.pad_token_id, **settings}
        if n == 1 or ids.shape[1] < 2:
            return self.model.generate(
                input_ids=ids, attention_mask=mask, num_return_sequences=n, **settings
            )
        # All but the last prompt token, at the positions `generate` gives left-padded rows;
        # `generate` then runs the last token and samples from there.
        positions = (mask.long().cumsum(-1) - 1).clamp(min=0)
        cache = self.model(
            input_ids=ids[:, :-1],
            attention_mask=mask[:, :-1],
            position_ids=positions[:, :-1],
            use_cache=True,
        ).cache
        cache.batch_repeat_interleave(n)
        return self.model.generate(
            input_ids=ids.repeat_interleave(n, dim=0),
            attention_mask=mask.repeat_interleave(n, dim=0),
            cache=cache,
            **settings,
        )

    @torch.no_grad()
    def logprob(
        self,
        prompts: Sequence[str],
        continuations: Sequence[str],
        *,
        system_prompt: str | None = None,
    ) -> np.ndarray:
        if len(prompts) != len(continuations):
            raise ValueError("prompts and continuations differ in length")
        contexts = [self.encode(self.chat_text(p, system_prompt)) for p in prompts]
        targets = [self.encode(c) for c in continuations]
        return self.logprob_ids(contexts, targets)

    @torch.no_grad()
    def logprob_ids(self, contexts: list[list[int]], targets: list[list[int]]) -> np.ndarray:
        """Sum of log p(target tokens | context) per pair, batched by length, padding-safe.

        The contexts' longest common prefix (the chat template and system prompt, when
        every prompt uses the same one) is run once and reused as a KV cache, so each
        batch computes only the differing tokens."""
        result = np.zeros(len(contexts), dtype=np.float64)
        if not contexts:
            return result
        shared = self._shared_prefix(contexts)
        cache = self.prefix_cache(contexts[0][:shared]) if shared else None
        suffixes = [c[shared:] for c in contexts]
        order = sorted(range(len(contexts)), key=lambda i: len(suffixes[i]) + len(targets[i]))
        start = 0
        while start < len(order):
            longest = len(suffixes[order[start]]) + len(targets[order[start]])
            stop = start
            while stop < len(order):
                longest = max(longest, len(suffixes[order[stop]]) + len(targets[order[stop]]))
                if (stop - start + 1) * (longest + shared) > self.batch_tokens and stop > start:
                    break
                stop += 1
            batch = order[start:stop]
            scores = self._logprob_batch(
                [suffixes[i] for i in batch], [targets[i] for i in batch], cache, shared
            )
            result[batch] = scores
            start = stop
        return result

    # Below this many shared tokens a prefix cache is not worth its extra forward pass.
    _MIN_SHARED_PREFIX = 8

    def _shared_prefix(self, contexts: list[list[int]]) -> int:
        first = contexts[0]
        length = min(len(c) for c in contexts) - 1  # every row keeps >= 1 own context token
        for c in contexts[1:]:
            i = 0
            while i < length and c[i] == first[i]:
                i += 1
            length = i
            if length < self._MIN_SHARED_PREFIX:
                return 0
        return max(0, length) if length >= self._MIN_SHARED_PREFIX else 0

    def _logprob_batch(self, contexts, targets, prefix=None, shared: int = 0) -> np.ndarray:
        seqs = [c + t for c, t in zip(contexts, targets, strict=True)]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        mask = torch.zeros((len(seqs), shared + width), dtype=torch.long)
        mask[:, :shared] = 1
        rows, cols, labels = [], [], []
        for r, (c, t) in enumerate(zip(contexts, targets, strict=True)):
            ids[r, : len(c) + len(t)] = torch.tensor(c + t)
            mask[r, shared : shared + len(c) + len(t)] = 1
            for j, tok in enumerate(t):
                rows.append(r)
                cols.append(len(c) + j - 1)
                labels.append(tok)
        if not labels:
            return np.zeros(len(seqs))
        cache = _batch_cache(prefix, len(seqs))
        hidden = self._body(
            input_ids=ids.to(self.device),
            attention_mask=mask.to(self.device),
            cache=cache,
            use_cache=cache is not None,
        ).last_hidden_state
        rows_t = torch.tensor(rows, device=self.device)
        picked = self._head(hidden[rows_t, torch.tensor(cols, device=self.device)])
        token_lp = torch.log_softmax(picked.float(), dim=-1)
        token_lp = token_lp[torch.arange(len(labels)), torch.tensor(labels, device=self.device)]
        sums = torch.zeros(len(seqs), dtype=torch.float64, device=self.device)
        sums.index_add_(0, rows_t, token_lp.double())
        return sums.cpu().numpy()

    def identity(self) -> dict:
        return {
            "name": self.name,
            "source": self.source,
            **({"system_prompt": self.default_system_prompt} if self.default_system_prompt else {}),
            **(
                {"quote_constraint": self.quote_constraint.describe()}
                if self.quote_constraint
                else {}
            ),
            "architecture": type(self.model).__name__,
            "parameters": sum(p.numel() for p in self.model.parameters()),
            "dtype": str(next(self.model.parameters()).dtype).replace("torch.", ""),
            "device": str(self.device),
            "vocab_size": self.vocab_size,
        }

    # ---- white-box interface ---------------------------------------------------------

    @property
    def vocab_size(self) -> int:
        return self.model.get_input_embeddings().weight.shape[0]

    def embedding_matrix(self) -> torch.Tensor:
        return self.model.get_input_embeddings().weight

    @torch.no_grad()
    def prefix_cache(self, ids: Sequence[int]) -> DynamicCache:
        input_ids = torch.tensor([list(ids)], device=self.device)
        return self._body(input_ids=input_ids, use_cache=True).cache

    def logits(
        self,
        embeds: torch.Tensor,
        positions: torch.Tensor,
        prefix: DynamicCache | None = None,
    ) -> torch.Tensor:
        cache = _batch_cache(prefix, embeds.shape[0])
        hidden = self._body(inputs_embeds=embeds, cache=cache, use_cache=prefix is not None)
        return self._head(hidden.last_hidden_state[:, positions])


def _batch_cache(prefix: DynamicCache | None, batch: int) -> DynamicCache | None:
    """A fresh cache holding `prefix` for every row (the forward pass appends to it)."""
    if prefix is None:
        return None
    return DynamicCache(
        [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v, _ in prefix]
    )


def load_hf_model(model_dir, name: str, *, device: str | None = None, **settings) -> HFModel:
    """The transformers model saved in `model_dir` (fp32), on `device` (default: CUDA when
    there is one). `settings` go to `HFModel` (batch_tokens, default_system_prompt)."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as transformers_logging

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    transformers_logging.disable_progress_bar()  # the CLI shows its own status
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    except Exception as exc:
        raise TailscopeError(
            one_line(
                f"could not load model from {model_dir}: {exc.__class__.__name__}: {exc}; "
                "check the directory is complete (delete it to re-convert a cached GGUF)"
            )
        ) from exc
    return HFModel(model.to(device), tokenizer, name=name, source=str(model_dir), **settings)
