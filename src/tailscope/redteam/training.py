"""Training the attacker LM (Perez et al. 2022): supervised LoRA fine-tuning on failing test
cases, and RL with reward -log(1 - r) and a KL penalty to the initial attacker.

Both work on a deep copy of the attacker's module (the attacker may be the target itself),
train a LoRA adapter and return a new model of the same kind with the adapter merged
(`TrainableModel.derive`), so generation costs nothing extra.
Adapters are saved to a scratch directory and renamed into place, so a killed run leaves
either the previous adapter or the new one, never half of one."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import math
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
from transformers import TrainerCallback

from tailscope.errors import TailscopeError
from tailscope.models.base import TrainableModel
from tailscope.redteam.attacker import split_list_prompt

# Marks the assistant's text when the chat template is rendered to find its end-of-turn text.
_SENTINEL = "\u2063TAILSCOPE_REPLY\u2063"
# Written next to an RL adapter: how many steps it holds and their mean rewards.
PROGRESS_FILE = "tailscope_progress.json"
_LLAMA_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj"]


@dataclass
class SupervisedReport:
    loss_before: float  # mean token NLL of the examples' replies before training
    loss_after: float  # the same, after training
    steps: int
    examples: int
    seconds: float


@dataclass
class RlReport:
    steps: int  # optimizer steps run by this call
    rewards: list[float] = field(default_factory=list)  # mean reward of each step's samples
    kl: list[float | None] = field(default_factory=list)  # mean KL to the initial attacker
    seconds: float = 0.0


# ---- shared helpers ------------------------------------------------------------------------


def end_of_turn(model: TrainableModel) -> str:
    """The text the chat template puts after an assistant reply (`<|im_end|>` for SmolLM2).

    Training on it teaches the attacker to stop after one test case."""
    tok = model.tokenizer
    if getattr(tok, "chat_template", None):
        turns = [{"role": "user", "content": "x"}, {"role": "assistant", "content": _SENTINEL}]
        after = tok.apply_chat_template(turns, tokenize=False).split(_SENTINEL)[-1].strip()
        if after:
            return after
    return tok.eos_token or ""


def line_break_ids(tokenizer) -> set[int]:
    """Every token whose text holds a line break: any of them ends a line."""
    special = set(tokenizer.all_special_ids)
    return {i for i in range(len(tokenizer)) if i not in special and "\n" in tokenizer.decode([i])}


def _lora_config(model, rank: int, alpha: int, targets=None):
    from peft import LoraConfig

    if targets is None:
        names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        # Attention projections for Llama-style models; any other architecture gets all linears.
        targets = _LLAMA_TARGETS if set(_LLAMA_TARGETS) <= names else "all-linear"
    # No dropout: few examples, and the RL reference (adapter disabled) must match the policy.
    return LoraConfig(
        r=rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=targets, task_type="CAUSAL_LM"
    )


def _save_adapter(peft_model, adapter_dir: Path, progress: dict | None = None) -> None:
    """Write the adapter to a scratch directory beside `adapter_dir`, then swap it in."""
    adapter_dir = Path(adapter_dir)
    adapter_dir.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f".{adapter_dir.name}.", dir=adapter_dir.parent))
    try:
        peft_model.save_pretrained(str(scratch))
        if progress is not None:
            (scratch / PROGRESS_FILE).write_text(json.dumps(progress))
        old = adapter_dir.with_name(adapter_dir.name + ".old")
        if adapter_dir.exists():
            shutil.rmtree(old, ignore_errors=True)
            os.replace(adapter_dir, old)  # a kill here leaves `.old`, which _saved() falls back to
        os.replace(scratch, adapter_dir)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _saved(adapter_dir: Path) -> Path:
    adapter_dir = Path(adapter_dir)
    for path in (adapter_dir, adapter_dir.with_name(adapter_dir.name + ".old")):
        if (path / "adapter_config.json").is_file():
            return path
    raise TailscopeError(f"no saved adapter in {adapter_dir}: train one first or fix the path")


def has_adapter(adapter_dir: Path) -> bool:
    """True when `adapter_dir` (or the `.old` copy a kill mid-swap leaves) holds an adapter."""
    try:
        _saved(adapter_dir)
    except TailscopeError:
        return False
    return True


def read_progress(adapter_dir: Path) -> dict:
    """Steps and per-step mean rewards of a saved RL adapter ({} for a supervised one)."""
    path = _saved(adapter_dir) / PROGRESS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def load_adapter(attacker: TrainableModel, adapter_dir: Path, suffix: str) -> TrainableModel:
    """A copy of `attacker` with the adapter saved in `adapter_dir` merged in (to resume a run)."""
    from peft import PeftModel

    path = _saved(adapter_dir)
    with _quiet():
        peft_model = PeftModel.from_pretrained(copy.deepcopy(attacker.module), str(path))
    return attacker.derive(peft_model.merge_and_unload(), suffix)


@contextlib.contextmanager
def _quiet():
    """Silence the training libraries' info logs and warnings; errors still raise."""
    import transformers

    previous = transformers.logging.get_verbosity()
    trl_logger = logging.getLogger("trl")
    trl_level = trl_logger.level
    transformers.logging.set_verbosity_error()
    trl_logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"(trl|transformers|peft|accelerate)(\.|$)")
            yield
    finally:
        transformers.logging.set_verbosity(previous)
        trl_logger.setLevel(trl_level)


# ---- supervised ----------------------------------------------------------------------------


def _encode_examples(attacker: TrainableModel, examples) -> list[tuple[list[int], list[int]]]:
    eot = end_of_turn(attacker)
    # Context and reply are encoded separately, exactly as `HFModel.logprob` scores them.
    return [(attacker.encode(attacker.chat_text(p)), attacker.encode(r + eot)) for p, r in examples]


def _batch_nll(model, rows, pad: int, device) -> tuple[torch.Tensor, int]:
    """Summed NLL of the reply tokens of `rows` (prompt and padding masked) and their count."""
    width = max(len(c) + len(t) for c, t in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for r, (c, t) in enumerate(rows):
        ids[r, : len(c) + len(t)] = torch.tensor(c + t)
        mask[r, : len(c) + len(t)] = 1
        labels[r, len(c) : len(c) + len(t)] = torch.tensor(t)
    logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
    labels = labels[:, 1:].to(device)
    nll = torch.nn.functional.cross_entropy(
        logits[:, :-1].float().flatten(0, 1), labels.flatten(), ignore_index=-100, reduction="sum"
    )
    return nll, int((labels != -100).sum())


@torch.no_grad()
def _mean_nll(model, rows, batch_size: int, pad: int, device) -> float:
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(rows), batch_size):
        nll, n = _batch_nll(model, rows[start : start + batch_size], pad, device)
        total, count = total + nll.item(), count + n
    return total / max(count, 1)


def _train_epochs(
    model, rows, epochs, learning_rate, batch_size, seed, pad, device, on_step
) -> int:
    """AdamW over shuffled batches of `rows` for `epochs`; returns the optimizer steps."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=learning_rate, weight_decay=0.0)
    order_rng = torch.Generator().manual_seed(seed)
    total = math.ceil(len(rows) / batch_size) * epochs
    step = 0
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(rows), generator=order_rng).tolist()
        for start in range(0, len(rows), batch_size):
            batch = [rows[i] for i in order[start : start + batch_size]]
            nll, count = _batch_nll(model, batch, pad, device)
            loss = nll / max(count, 1)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            step += 1
            if on_step is not None:
                on_step(step, total, loss.item())
    return step


def finetune_lora(
    attacker: TrainableModel,
    examples: list[tuple[str, str]],
    *,
    epochs: int = 1,
    learning_rate: float = 5e-4,
    rank: int = 8,
    alpha: int = 16,
    batch_size: int = 8,
    seed: int = 0,
    adapter_dir: Path | None = None,
    on_step: Callable[[int, int, float], None] | None = None,
) -> tuple[TrainableModel, SupervisedReport]:
    """Fine-tune a LoRA adapter on (user prompt, attacker reply) pairs: Perez et al.'s
    supervised red teaming, one epoch on the failing test cases by default.

    The loss is the mean NLL of the reply tokens plus the template's end-of-turn token; the
    prompt (rendered with the chat template, as at generation time) is masked out. A plain
    AdamW loop over peft's `get_peft_model` is used rather than trl's SFTTrainer: it is a few
    lines, needs no dataset or Trainer machinery (output dirs, loggers, device placement), and
    masks exactly the tokens `HFModel.logprob` scores. `on_step(step, total_steps, loss)`."""
    from peft import get_peft_model

    if not examples:
        raise TailscopeError(
            "no failing test cases to fine-tune the attacker on: run a zero-shot or few-shot "
            "round that finds some first"
        )
    if epochs < 1 or batch_size < 1:
        raise TailscopeError("epochs and batch_size must be at least 1")
    started = time.perf_counter()
    rows = _encode_examples(attacker, examples)
    pad, device = attacker.tokenizer.pad_token_id, attacker.device
    torch.manual_seed(seed)  # LoRA's A matrices are drawn at random
    with _quiet():
        peft_model = get_peft_model(
            copy.deepcopy(attacker.module), _lora_config(attacker.module, rank, alpha)
        )
    # LoRA's B starts at zero, so this is the untouched attacker's loss.
    loss_before = _mean_nll(peft_model, rows, batch_size, pad, device)
    step = _train_epochs(
        peft_model, rows, epochs, learning_rate, batch_size, seed, pad, device, on_step
    )
    loss_after = _mean_nll(peft_model, rows, batch_size, pad, device)
    if adapter_dir is not None:
        _save_adapter(peft_model, adapter_dir)
    model = attacker.derive(peft_model.merge_and_unload(), "sft")
    report = SupervisedReport(
        loss_before=loss_before,
        loss_after=loss_after,
        steps=step,
        examples=len(examples),
        seconds=time.perf_counter() - started,
    )
    return model, report


# ---- reinforcement learning ----------------------------------------------------------------


def rl_finetune(
    attacker: TrainableModel,
    prompts: list[str],
    reward_fn: Callable[[list[str], list[str]], list[float]],
    *,
    steps: int,
    batch_prompts: int = 4,
    num_generations: int = 4,
    max_new_tokens: int = 48,
    temperature: float = 1.0,
    learning_rate: float = 1e-4,
    beta: float = 0.05,
    rank: int = 8,
    seed: int = 0,
    iterations: int = 1,
    adapter_dir: Path | None = None,
    resume_adapter: Path | None = None,
    one_line: bool = False,
    on_step: Callable[[int, dict], bool | None] | None = None,
) -> tuple[TrainableModel, RlReport]:
    """RL fine-tuning of the attacker with trl's GRPOTrainer and a LoRA adapter.

    Each of `steps` generation batches samples `num_generations` completions per each of
    `batch_prompts` prompts, calls `reward_fn(prompts, completions)` once (plain texts; Perez
    et al.'s reward is -log(1 - r) of the classifier score r) and takes `iterations` optimizer
    steps on them (GRPO's mu; advantages are group-normalized rewards, no value model). The KL
    penalty (`beta`) is to the adapter-disabled attacker, also after a resume from
    `resume_adapter` (fresh optimizer moments, step count continued). `on_step(step, stats)`
    may return True to stop (budget spent). `one_line` ends completions at their first line
    break: only the first line is rewarded, so later tokens would only add gradient noise."""
    _check_rl(steps, iterations, num_generations, batch_prompts, prompts, beta)
    from transformers import PrinterCallback
    from trl import GRPOTrainer

    started = time.perf_counter()
    peft_config, resumed, offset, history = _rl_adapter(attacker, rank, resume_adapter)
    dataset, reward = _rl_task(attacker, prompts, batch_prompts, reward_fn)
    report = RlReport(steps=0)
    with _quiet(), tempfile.TemporaryDirectory(prefix="tailscope-rl-") as scratch:
        args = _grpo_args(
            scratch, attacker, steps, iterations, batch_prompts, num_generations,
            max_new_tokens, temperature, learning_rate, beta, seed,
        )  # fmt: skip
        torch.manual_seed(seed)  # LoRA's A matrices are drawn before the Trainer seeds
        trainer = GRPOTrainer(
            model=_policy_module(attacker, one_line), reward_funcs=reward, args=args,
            train_dataset=dataset, processing_class=attacker.tokenizer, peft_config=peft_config,
        )  # fmt: skip
        trainer.remove_callback(PrinterCallback)  # it prints every log dict: on_step reports
        policy = trainer.accelerator.unwrap_model(trainer.model)
        if resumed is not None:
            _load_adapter_weights(policy, resumed, attacker)
        progress = _StepReport(report, policy, offset, history, adapter_dir, on_step, started)
        trainer.add_callback(progress)
        trainer.train()
        merged = policy.merge_and_unload()
        # The trained attacker writes whole replies again, whatever ended its completions.
        merged.generation_config.eos_token_id = attacker.module.generation_config.eos_token_id
    report.seconds = time.perf_counter() - started
    return attacker.derive(merged, "rl"), report


def _check_rl(steps, iterations, num_generations, batch_prompts, prompts, beta) -> None:
    if steps < 1:
        raise TailscopeError(f"steps must be at least 1 (got {steps})")
    if iterations < 1:
        raise TailscopeError(f"iterations must be at least 1 (got {iterations})")
    if num_generations < 2:
        raise TailscopeError(
            f"num_generations must be at least 2 (got {num_generations}): GRPO compares "
            "completions of the same prompt"
        )
    if batch_prompts < 1:
        raise TailscopeError(f"batch_prompts must be at least 1 (got {batch_prompts})")
    if not prompts:
        raise TailscopeError("no attacker prompts to train on: give at least one")
    if beta < 0:
        raise TailscopeError(f"beta must be >= 0 (got {beta})")


def _rl_adapter(attacker: TrainableModel, rank: int, resume_adapter: Path | None):
    """(peft config, saved adapter to resume or None, steps it holds, its reward history)."""
    from peft import PeftConfig

    if resume_adapter is None:
        return _lora_config(attacker.module, rank, 2 * rank), None, 0, []
    resume_path = _saved(resume_adapter)
    peft_config = PeftConfig.from_pretrained(str(resume_path))
    peft_config.inference_mode = False
    progress = read_progress(resume_path)
    return peft_config, resume_path, progress.get("steps", 0), list(progress.get("rewards", []))


def _rl_task(attacker: TrainableModel, prompts: list[str], batch_prompts: int, reward_fn):
    """The prompt dataset trl samples from, and the reward function it calls."""
    from datasets import Dataset

    # trl's sampler drops an incomplete last batch of prompts: repeat short prompt lists.
    rows = list(prompts) * math.ceil(batch_prompts / len(prompts))
    # Rendered as plain text, so that a list prompt's open list can pre-fill the reply
    # (as `AttackerSampler` does); trl applies no chat template to plain prompts.
    texts = [attacker.chat_text(turn) + prefix for turn, prefix in map(split_list_prompt, rows)]
    rendered = dict(zip(texts, rows, strict=True))

    def reward(prompts, completions, **_):
        texts = [c[-1]["content"] if isinstance(c, list) else c for c in completions]
        return [float(r) for r in reward_fn([rendered[p] for p in prompts], texts)]

    return Dataset.from_dict({"prompt": texts}), reward


def _grpo_args(
    scratch, attacker, steps, iterations, batch_prompts, num_generations, max_new_tokens,
    temperature, learning_rate, beta, seed,
):  # fmt: skip
    from trl import GRPOConfig

    on_cuda = attacker.device.type == "cuda"
    return GRPOConfig(
        output_dir=scratch,
        # GRPO's mu: each generation batch (one reward_fn call) serves `iterations`
        # clipped optimizer steps, more learning per target query.
        num_iterations=iterations,
        max_steps=steps * iterations,
        # One generation batch per optimizer step: reward_fn is called once per step.
        per_device_train_batch_size=batch_prompts * num_generations,
        gradient_accumulation_steps=1,
        num_generations=num_generations,
        max_completion_length=max_new_tokens,
        temperature=temperature,
        learning_rate=learning_rate,
        lr_scheduler_type="constant",  # a resumed run continues at the same rate
        beta=beta,
        seed=seed,
        data_seed=seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_tqdm=True,
        log_level="error",
        use_cpu=not on_cuda,
        bf16=on_cuda and torch.cuda.is_bf16_supported(),
        gradient_checkpointing=False,  # small attackers; it only slows them down
        disable_dropout=True,
        dataloader_num_workers=0,
    )


def _policy_module(attacker: TrainableModel, one_line: bool):
    """A copy of the attacker's module to train; with `one_line`, one that ends its
    completions at any line break (trl ends and masks completions at any eos id)."""
    model = copy.deepcopy(attacker.module)
    if one_line:
        ends = model.generation_config.eos_token_id
        ends = [ends] if isinstance(ends, int) else list(ends or [])
        ends.append(attacker.tokenizer.eos_token_id)
        model.generation_config.eos_token_id = sorted(
            set(ends) | line_break_ids(attacker.tokenizer)
        )
    return model


def _load_adapter_weights(policy, saved: Path, attacker: TrainableModel) -> None:
    """Load a saved adapter into the fresh one (rather than passing a PeftModel) so that the
    KL reference stays the adapter-disabled initial attacker, not the resumed adapter."""
    from peft import load_peft_weights, set_peft_model_state_dict

    weights = load_peft_weights(str(saved), device=str(attacker.device))
    result = set_peft_model_state_dict(policy, weights)
    if getattr(result, "unexpected_keys", None):
        raise TailscopeError(f"adapter {saved} does not fit this attacker")


class _StepReport(TrainerCallback):
    """After every optimizer step: record the step, save the adapter, call `on_step`."""

    def __init__(self, report, policy, offset, history, adapter_dir, on_step, started):
        self.report, self.policy, self.offset, self.history = report, policy, offset, history
        self.adapter_dir, self.on_step, self.started = adapter_dir, on_step, started

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "train_runtime" in logs:
            return  # the end-of-training summary
        step = self.offset + state.global_step
        self.report.steps = state.global_step
        self.report.rewards.append(logs.get("reward"))
        self.report.kl.append(logs.get("kl"))
        self.history.append(logs.get("reward"))
        if self.adapter_dir is not None:
            progress = {"steps": step, "rewards": self.history}
            _save_adapter(self.policy, self.adapter_dir, progress)
        if self.on_step is not None:
            keys = ("reward", "reward_std", "kl", "loss", "completions/mean_length")
            stats = {k.split("/")[-1]: logs.get(k) for k in keys}
            stats["completion_length"] = stats.pop("mean_length")
            stats["seconds"] = time.perf_counter() - self.started
            if self.on_step(step, stats) is True:
                control.should_training_stop = True
