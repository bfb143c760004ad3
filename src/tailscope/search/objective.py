"""The exact search objective and its token gradients, shared by every optimizer.

For a prompt x and an output o the objective is

    lam_logprob * log p(o | x) + lam_perp * log p(x) + sum_i u_prompt(x_i) + sum_j u_output(o_j)

where the u are per-token (unigram) log terms from the behavior's detectors. The chat
template before x is computed once and reused as a key/value cache, so a batch of
candidates only runs the tokens that differ: x, the template between x and o, and o.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from tailscope.models.base import WhiteBoxModel
from tailscope.search.problem import SearchProblem


@dataclass
class Evaluation:
    """Exact objective terms for a batch of (prompt, output) pairs."""

    total: torch.Tensor  # [B]
    output_logprob: torch.Tensor  # [B], log p(o | x)
    greedy_match: torch.Tensor  # [B] bool: greedy decoding after x yields exactly o
    greedy_next: torch.Tensor  # [B, Lo]: the greedy token at each output position


@dataclass
class Gradients:
    """Linearised objective change for placing each vocabulary token at each position."""

    vocab_scores: torch.Tensor  # [B, P, V]: one-hot gradient incl. exact unigram terms
    next_token_terms: torch.Tensor  # [B, P, V]: exact weighted log p(token | left context)


class Objective:
    def __init__(self, model: WhiteBoxModel, problem: SearchProblem, batch_size: int = 128):
        self.model = model
        self.problem = problem
        self.batch_size = batch_size
        self.embeddings = model.embedding_matrix()
        self.device = self.embeddings.device
        self.prefix = model.prefix_cache(problem.layout.before)
        self.after = torch.tensor(problem.layout.after, dtype=torch.long, device=self.device)
        with torch.no_grad():
            before = torch.tensor(problem.layout.before, device=self.device)
            last = torch.tensor([len(before) - 1], device=self.device)
            first = model.logits(self.embeddings[before][None], last)
        # log p(first prompt token | template): the one prompt term not covered by the batch.
        self.first_token_logprobs = torch.log_softmax(first[0, 0].float(), -1)
        self.forward_tokens = 0  # tokens run through the model, for throughput reports
        self.backward_tokens = 0

    # ---- layout -----------------------------------------------------------------------

    @property
    def output_start(self) -> int:
        """Index of the first output token in the post-prefix sequence."""
        return self.problem.prompt_length + len(self.after)

    def sequence(self, prompts: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        after = self.after.expand(prompts.shape[0], -1)
        return torch.cat([prompts, after, outputs], dim=1)

    def _logit_positions(self) -> torch.Tensor:
        lp = self.problem.prompt_length
        prompt_pos = list(range(lp - 1)) if self.problem.lam_perp else []
        out_pos = [self.output_start - 1 + j for j in range(self.problem.output_length)]
        return torch.tensor(prompt_pos + out_pos, dtype=torch.long, device=self.device)

    # ---- terms -----------------------------------------------------------------------

    def _terms(self, logits: torch.Tensor, prompts: torch.Tensor, outputs: torch.Tensor):
        """Differentiable objective parts from logits at `_logit_positions`."""
        lp = self.problem.prompt_length
        logprobs = torch.log_softmax(logits.float(), dim=-1)
        n_prompt = lp - 1 if self.problem.lam_perp else 0
        out_lp = logprobs[:, n_prompt:].gather(-1, outputs[..., None])[..., 0]
        output_logprob = out_lp.sum(-1)
        if self.problem.output_loss == "mellowmax":
            # GCG's alternative loss: mellowmax of the negated target logits, per output.
            target_logits = logits[:, n_prompt:].float().gather(-1, outputs[..., None])[..., 0]
            alpha, n = self.problem.mellowmax_alpha, target_logits.shape[-1]
            mellow = (torch.logsumexp(-alpha * target_logits, -1) - math.log(n)) / alpha
            total = -self.problem.lam_logprob * mellow
        else:
            total = self.problem.lam_logprob * output_logprob
        if self.problem.lam_perp:
            prompt_lp = logprobs[:, :n_prompt].gather(-1, prompts[:, 1:, None])[..., 0].sum(-1)
            prompt_lp = prompt_lp + self.first_token_logprobs[prompts[:, 0]]
            total = total + self.problem.lam_perp * prompt_lp
        return total, output_logprob, logprobs[:, n_prompt:]

    def unigram(self, prompts: torch.Tensor, outputs: torch.Tensor) -> torch.Tensor:
        p = self.problem
        return p.prompt_unigram[prompts].sum(-1) + p.output_unigram[outputs].sum(-1)

    @torch.no_grad()
    def evaluate(self, prompts: torch.Tensor, outputs: torch.Tensor) -> Evaluation:
        """Exact objective for every row, in batches of `batch_size`."""
        parts, start = [], 0
        while start < prompts.shape[0]:
            stop = start + self.batch_size
            try:
                parts.append(self._evaluate_batch(prompts[start:stop], outputs[start:stop]))
            except torch.OutOfMemoryError:
                if self.batch_size == 1:
                    raise
                self.batch_size //= 2  # remembered: later calls start from the size that fits
                continue
            start = stop
        names = vars(parts[0]).keys()
        return Evaluation(**{n: torch.cat([getattr(p, n) for p in parts]) for n in names})

    def _evaluate_batch(self, prompts, outputs) -> Evaluation:
        ids = self.sequence(prompts, outputs)
        logits = self.model.logits(self.embeddings[ids], self._logit_positions(), self.prefix)
        self.forward_tokens += ids.numel()
        total, output_logprob, out_logprobs = self._terms(logits, prompts, outputs)
        greedy = out_logprobs.argmax(-1)
        return Evaluation(
            total=total + self.unigram(prompts, outputs),
            output_logprob=output_logprob,
            greedy_match=(greedy == outputs).all(-1),
            greedy_next=greedy,
        )

    def gradients(
        self,
        prompts: torch.Tensor,
        outputs: torch.Tensor,
        prompt_positions: list[int] = (),
        output_positions: list[int] = (),
    ) -> Gradients:
        """One forward/backward: one-hot token gradients of the objective at the given prompt
        and output positions (in that order), and the exact weighted next-token terms there.

        The one-hot gradient of the unigram terms is the unigram table itself, so it is
        added exactly rather than differentiated.
        """
        ids = self.sequence(prompts, outputs)
        seq_pos = [*prompt_positions, *(self.output_start + p for p in output_positions)]
        seq_pos = torch.tensor(seq_pos, dtype=torch.long, device=self.device)
        embeds = self.embeddings[ids].detach()
        leaf = embeds[:, seq_pos].clone().requires_grad_(True)
        embeds[:, seq_pos] = leaf
        logit_pos = self._logit_positions()
        logits = self.model.logits(embeds, logit_pos, self.prefix)
        total, _, _ = self._terms(logits, prompts, outputs)
        (grad,) = torch.autograd.grad(total.sum(), leaf)
        self.forward_tokens += ids.numel()
        self.backward_tokens += ids.numel()
        p = self.problem
        unigram = torch.stack(
            [p.prompt_unigram] * len(prompt_positions) + [p.output_unigram] * len(output_positions)
        )
        vocab_scores = grad @ self.embeddings.T + unigram  # [B, P, V]
        weights = torch.tensor(
            [p.lam_perp] * len(prompt_positions) + [p.lam_logprob] * len(output_positions),
            device=self.device,
        )
        next_terms = self._next_token_terms(logits.detach(), logit_pos, seq_pos, prompts.shape[0])
        return Gradients(vocab_scores=vocab_scores, next_token_terms=weights[:, None] * next_terms)

    def _next_token_terms(self, logits, logit_pos, seq_pos, batch) -> torch.Tensor:
        """log p(v | left context) for each requested position; zeros where not computed
        (prompt positions when the perplexity term is off, as they carry no exact term)."""
        vocab = logits.shape[-1]
        out = torch.zeros(batch, len(seq_pos), vocab, device=self.device)
        lookup = {int(p): i for i, p in enumerate(logit_pos.tolist())}
        for k, pos in enumerate(seq_pos.tolist()):
            if pos == 0 and self.problem.lam_perp:
                out[:, k] = self.first_token_logprobs
            elif pos - 1 in lookup:
                out[:, k] = torch.log_softmax(logits[:, lookup[pos - 1]].float(), -1)
        return out
