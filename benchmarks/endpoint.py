"""The `openai` backend against the local `transformers serve` (the tests' server): samples/s
through the backend next to a bare async `openai`-client loop sending the same requests at
the same concurrency, and how many requests a killed and resumed elicitation sends again.

    .venv/bin/python benchmarks/endpoint.py --out benchmarks/results/endpoint-DATE.json

(alone on the machine: the server and the clients share its cores).

The backend's time includes its cache: every answer is committed to a workspace as it
arrives (a fresh seed per repetition, so nothing comes from the cache). Runs alternate
bare / backend so that a slow spell of the machine hits both; the median is reported."""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openai

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine_info import machine  # noqa: E402  benchmarks/ is on sys.path as a script

from tailscope.models.registry import load_model  # noqa: E402
from tailscope.store import Workspace  # noqa: E402
from tests.endpoint_server import ModelServer  # noqa: E402
from tests.fault_proxy import FaultProxy  # noqa: E402

PROMPTS = [f"Write one sentence about {x}." for x in ("cats", "rain", "trains", "bread")]
SAMPLES = 8  # per prompt: 32 requests a measurement
TOKENS = 12


def bare_loop(url: str, model: str, concurrency: int, seed: int) -> float:
    """Seconds for the same requests through a plain AsyncOpenAI client and a semaphore."""

    async def run() -> float:
        client = openai.AsyncOpenAI(base_url=url, api_key="no-key", max_retries=0)
        slots = asyncio.Semaphore(concurrency)

        async def one(prompt: str, sample: int):
            async with slots:
                await client.chat.completions.create(
                    model=model,
                    messages=[{"role": "user", "content": prompt}],
                    max_tokens=TOKENS,
                    temperature=1.0,
                    seed=seed * 1_000_003 + sample,
                )

        start = time.perf_counter()
        await asyncio.gather(*(one(p, s) for p in PROMPTS for s in range(SAMPLES)))
        elapsed = time.perf_counter() - start
        await client.close()
        return elapsed

    return asyncio.run(run())


def backend(spec_file: Path, ws: Workspace, seed: int) -> float:
    model = load_model(str(spec_file))
    model.attach_cache(ws.responses)
    start = time.perf_counter()
    replies = model.generate(PROMPTS, n=SAMPLES, temperature=1.0, max_new_tokens=TOKENS, seed=seed)
    elapsed = time.perf_counter() - start
    assert model.usage()["answered"] == len(PROMPTS) * SAMPLES and len(replies) == len(PROMPTS)
    return elapsed


def throughput(server: ModelServer, workdir: Path, repeats: int) -> list[dict]:
    rows = []
    seed = 1000
    for concurrency in (1, 4, 16):
        spec_file = workdir / f"target-{concurrency}.yaml"
        options = {"concurrency": concurrency, "n_per_request": False}
        spec_file.write_text(json.dumps({"model": server.spec(), "options": options}))
        bare, ours = [], []
        with Workspace(workdir / f"ws-{concurrency}") as ws:
            for _ in range(repeats):
                seed += 1
                bare.append(bare_loop(server.url, server.model, concurrency, seed))
                seed += 1
                ours.append(backend(spec_file, ws, seed))
        samples = len(PROMPTS) * SAMPLES
        b, o = statistics.median(bare), statistics.median(ours)
        rows.append({
            "concurrency": concurrency,
            "samples": samples,
            "bare_s": bare,
            "backend_s": ours,
            "bare_samples_per_s": samples / b,
            "backend_samples_per_s": samples / o,
            "overhead_pct": 100 * (o - b) / b,
        })  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
    return rows


def resumed_requests(server: ModelServer, workdir: Path) -> dict:
    """Kill an elicitation through the counting proxy after `kill_at` answers, resume it,
    and count what the resume sent: only never-answered requests, none twice."""
    queries, k, kill_at = 12, 8, 50
    proxy = FaultProxy(server.port)
    ws_dir = workdir / "ws-resume"
    with Workspace(ws_dir) as ws:
        ws.pools.create("qs")
        ws.pools.add("qs", [f"Tell me about the number {i}." for i in range(queries)], "bench")
    target = workdir / "target-resume.yaml"
    target.write_text(json.dumps({"model": server.spec(proxy.url), "options": {"concurrency": 4}}))
    args = [sys.executable, "-m", "tailscope", "elicit", "-m", str(target), "-b",
            "offensive-replies", "--pool", "qs", "--k", str(k), "--max-new-tokens", "8",
            "--chunk", "4", "--json", "-w", str(ws_dir)]  # fmt: skip
    proxy.hold_after(kill_at)
    run = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    with Workspace(ws_dir) as ws:
        while ws.responses.count() < kill_at:
            assert run.poll() is None, "the run ended before the kill"
            time.sleep(0.05)
        run.kill()
        run.wait()
        run_id = ws.runs.list()[0].id
    proxy.release()
    before = len(proxy.forwarded)
    resumed = subprocess.run([*args[:4], "--resume", run_id, "--json", "-w", str(ws_dir)],
                             capture_output=True, text=True)  # fmt: skip
    assert resumed.returncode == 0, resumed.stderr
    proxy.close()
    needed = queries * k
    return {
        "requests_needed": needed,
        "answered_before_kill": kill_at,
        "sent_by_resume": len(proxy.forwarded) - before,
        "repeated_requests": len(proxy.sent_twice()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        server = ModelServer(workdir)
        try:
            rows = throughput(server, workdir, args.repeats)
            resume = resumed_requests(server, workdir)
        finally:
            server.stop()
    result = {"machine": machine(), "throughput": rows, "resume": resume,
              "workload": {"prompts": len(PROMPTS), "samples_per_prompt": SAMPLES,
                           "max_new_tokens": TOKENS, "temperature": 1.0}}  # fmt: skip
    print(json.dumps(resume))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
