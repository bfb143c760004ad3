"""What a guard evaluation asks: its query sets, from a guard-data run, pools, earlier runs'
found prompts and the built-in general pool, batched into units (same set and system
prompt in each)."""

from __future__ import annotations

from tailscope.errors import TailscopeError


def eval_items(ws, config) -> list[dict]:
    """Every query of the evaluation, in a fixed order: {set, prompt, system_prompt, style}."""
    system = config.system()
    items = []
    if config.data:
        items += _guard_data(ws, config.data, system)
    for pool in config.restricted:
        items += [_item("restricted", q, system) for q in _pool(ws, pool)]
    for run_id in config.replay:
        items += _replayed(ws, run_id, system)
    for pool in config.permitted:
        items += [_item("permitted", q, system) for q in _pool(ws, pool)]
    if config.general:
        from tailscope.elicit.default_pool import default_pool

        items += [_item("general", q, system) for q in default_pool(config.general, seed=0)]
    return items


def batches(items: list[dict], size: int) -> list[tuple[str, list[dict]]]:
    """(unit key, items): consecutive items of one set and system prompt, `size` at most."""
    out, start = [], 0
    while start < len(items):
        first = items[start]
        stop = start
        while (
            stop < len(items)
            and stop - start < size
            and (items[stop]["set"], items[stop]["system_prompt"])
            == (first["set"], first["system_prompt"])
        ):
            stop += 1
        out.append((f"{first['set']}:{start}", items[start:stop]))
        start = stop
    return out


def _item(set_name: str, prompt: str, system: str | None, style: str = "") -> dict:
    return {"set": set_name, "prompt": prompt, "system_prompt": system, "style": style}


def _pool(ws, name: str) -> list[str]:
    queries = ws.pools.queries(name)
    if not queries:
        raise TailscopeError(f"pool {name!r} has no queries: add some with `tailscope queries`")
    return queries


def _guard_data(ws, run_id: str, system: str | None) -> list[dict]:
    """Held-out restricted queries (held-out styles) and held-out or test permitted ones."""
    _require_kind(ws, run_id, "guard-data")
    items = []
    for split in ("heldout", "test"):
        for example in ws.guard_data.examples(run_id, split):
            if example.restricted and split != "heldout":
                continue
            set_name = "restricted" if example.restricted else "permitted"
            prompt_system = example.system_prompt or system
            items.append(_item(set_name, example.prompt, prompt_system, example.style))
    if not any(i["set"] == "restricted" for i in items):
        raise TailscopeError(
            f"guard-data run {run_id} has no held-out restricted examples: run `tailscope guard "
            "data` with held-out styles"
        )
    return items


def _replayed(ws, run_id: str, system: str | None) -> list[dict]:
    """The prompts an earlier search found (verified) or a red-team run's hits."""
    run = _require_kind(ws, run_id, "search", "audit", "redteam")
    if run.kind == "redteam":
        own = run.config.get("system_prompt") or system
        return [
            _item("replayed", c.test_case, own, "redteam")
            for c in ws.redteam.cases(run_id)
            if c.hit
        ]
    return [
        _item("replayed", f.user_text or f.prompt, f.system_prompt or system, "search")
        for f in ws.units.findings(run_id)
        if f.success
    ]


def _require_kind(ws, run_id: str, *kinds: str):
    run = ws.runs.get(run_id)  # an unknown id is one line
    if run.kind not in kinds:
        raise TailscopeError(f"run {run_id} is a {run.kind} run; use a {' or '.join(kinds)} run")
    return run
