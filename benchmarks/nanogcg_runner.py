"""Runs nanoGCG (the public GCG reference) under the same conditions as tailscope's search.

Executed by benchmarks/search.py with the separate virtual environment `.venv-nanogcg`
(nanogcg pins transformers<=4.47, tailscope needs 5.x). Reads a JSON job on stdin, writes
one JSON result per target on stdout. The wall-clock budget is enforced through nanoGCG's
own stop flag, checked after every step's candidate scoring (a private hook:
`_compute_candidates_loss_original`, nanogcg 0.3.0); success is nanoGCG's early-stop
check (greedy decode of the optimized ids equals the target) confirmed as text: the best
string is sent back through the chat template and greedy generation, as for tailscope.
"""

from __future__ import annotations

import json
import sys
import time

import torch
from nanogcg import GCGConfig
from nanogcg.gcg import GCG
from transformers import AutoModelForCausalLM, AutoTokenizer


def run_target(model, tokenizer, target: str, request: str, job: dict) -> dict:
    config = GCGConfig(
        num_steps=10_000,  # the wall-clock budget stops it
        search_width=job["search_width"],
        topk=job["topk"],
        n_replace=1,
        optim_str_init=job["optim_str_init"],
        seed=job["seed"],
        early_stop=True,
        verbosity="ERROR",
    )
    gcg = GCG(model, tokenizer, config)
    # The same forbidden tokens as tailscope's search (special, non-ASCII, target copies).
    gcg.not_allowed_ids = torch.tensor(job["not_allowed_ids"], dtype=torch.long)
    original = gcg._compute_candidates_loss_original
    started = time.perf_counter()
    calls = 0  # the first call scores the initial string, each later one is a step

    def timed(*args, **kwargs):
        nonlocal calls
        loss = original(*args, **kwargs)
        calls += 1
        if time.perf_counter() - started >= job["seconds"]:
            gcg.stop_flag = True
        return loss

    gcg._compute_candidates_loss_original = timed
    messages = [{"role": "user", "content": request + "{optim_str}"}]
    result = gcg.run(messages, target)
    elapsed = time.perf_counter() - started
    steps = calls - 1
    prompt = result.best_string
    text = tokenizer.apply_chat_template(
        [{"role": "user", "content": request + prompt}], tokenize=False, add_generation_prompt=True
    )
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(
            ids, max_new_tokens=len(tokenizer(target)["input_ids"]), do_sample=False
        )
    reply = tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)
    success = reply.strip().startswith(target.strip())
    return {
        "target": target,
        "prompt": prompt,
        "output": reply,
        "success": success,
        "ids_level_success": bool(gcg.stop_flag and elapsed < job["seconds"]),
        "steps": steps,
        "elapsed_s": elapsed,
        "success_s": elapsed if success else None,
        "seconds_per_step": elapsed / max(steps, 1),
    }


def main() -> None:
    job = json.load(sys.stdin)
    torch.set_num_threads(job["threads"])
    tokenizer = AutoTokenizer.from_pretrained(job["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(job["model_dir"], torch_dtype=torch.float32)
    for target in job["targets"]:
        row = run_target(model, tokenizer, target["target"], target.get("request", ""), job)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
