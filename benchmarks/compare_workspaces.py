"""Do two workspaces hold the same results? For a refactor that must not change behavior:
run the same audit (a step budget, one seed) with the old and the new code, then compare.

    .venv/bin/python benchmarks/compare_workspaces.py OLD_WS NEW_WS [--out RESULT.json]

Reads the SQLite files directly (no tailscope import), so the old layout needs no old code.
Search findings are compared by behavior, prompt, reply, verification status and steps;
elicitation rows by query and p; red-team cases by test case, reply, score and hit.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from pathlib import Path


def results(workspace: Path) -> dict[str, list]:
    db = sqlite3.connect(workspace / "workspace.db")
    out: dict[str, list] = {}
    runs = db.execute("SELECT id, kind, config FROM runs ORDER BY created_at, rowid").fetchall()
    for run_id, kind, config in runs:
        config = json.loads(config)
        behavior = config.get("behavior", {})
        label = f"{kind} {behavior.get('name', '')} {json.dumps(behavior.get('params', {}))}"
        if kind in ("search", "audit"):
            rows = _rows(db, "findings", run_id, "id")
            out[kind] = [
                (r.get("behavior_label"), r["prompt"], r["output"], r["verification"]["status"])
                + (r["steps"],)
                for r in rows
            ]
        elif kind == "elicit":
            rows = _rows(db, "elicitations", run_id, "query_idx")
            out[label] = [(r["query_idx"], round(r["p"], 12), r.get("hits")) for r in rows]
        elif kind == "redteam":
            rows = _rows(db, "redteam_cases", run_id, "idx")
            out[f"{label} {config['method']}"] = [
                (r["test_case"], r["reply"], round(r["score"], 6), r["hit"]) for r in rows
            ]
    return out


def _rows(db, table: str, run_id: str, order: str) -> list[dict]:
    sql = f"SELECT data FROM {table} WHERE run_id = ? ORDER BY {order}"
    return [json.loads(data) for (data,) in db.execute(sql, (run_id,))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    old, new = results(args.old), results(args.new)
    parts = {
        key: {"rows": len(old.get(key, [])), "same": old.get(key) == new.get(key)}
        for key in sorted(set(old) | set(new))
    }
    summary = {"same": all(p["same"] for p in parts.values()), "parts": parts}
    print(json.dumps(summary, indent=2))
    if args.out:
        args.out.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()
