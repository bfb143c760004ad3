"""Labels out of and into the workspace as JSONL or CSV, one row per label, in the flat shape
Argilla and Label Studio exports use: the item's text, the model's suggestion with its score
and agent, and the human response with its user."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from pydantic import ValidationError

from tailscope.errors import TailscopeError, first_problem
from tailscope.review.items import ReviewItem, review_items
from tailscope.store import Label, Workspace

COLUMNS = (
    "id",
    "run_id",
    "item_kind",
    "item_idx",
    "behavior",
    "prompt",
    "reply",
    "suggestion",
    "suggestion_score",
    "suggestion_agent",
    "response",
    "labeller",
    "note",
    "created_at",
    "queue_order",
)
REQUIRED = ("run_id", "item_kind", "item_idx", "response", "labeller")
FORMATS = (".jsonl", ".csv")


def export_rows(ws: Workspace, run_ids: list[str]) -> list[dict]:
    labels = ws.labels.list(run_ids or None)
    items = {item.key: item for item in review_items(ws, sorted({lb.run_id for lb in labels}))}
    return [_row(items[(lb.run_id, lb.item_kind, lb.item_idx)], lb) for lb in labels]


def _row(item: ReviewItem, label: Label) -> dict:
    return {
        "id": f"{item.run_id}/{item.kind}/{item.idx}",
        "run_id": item.run_id,
        "item_kind": item.kind,
        "item_idx": item.idx,
        "behavior": item.behavior.label,
        "prompt": item.prompt,
        "reply": item.reply,
        "suggestion": "present" if item.flagged else "absent",
        "suggestion_score": item.score,
        "suggestion_agent": item.behavior.detector,
        "response": label.label,
        "labeller": label.labeller,
        "note": label.note,
        "created_at": label.created_at,
        "queue_order": label.queue_order,
    }


def write_labels(rows: list[dict], path: Path) -> None:
    fmt = _format(path)
    if fmt == ".jsonl":
        text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    path.write_text(text, encoding="utf-8")


def read_labels(path: Path) -> list[Label]:
    """Parse a label file; any problem is one line naming the file, the row and the fix."""
    if not path.is_file():
        raise TailscopeError(f"no label file {path}: pass the path of a .jsonl or .csv file")
    rows = _rows(path, _format(path))
    return [_label(row, path, number) for number, row in enumerate(rows, start=1)]


def import_labels(ws: Workspace, path: Path) -> int:
    labels = read_labels(path)
    ws.labels.record(labels)  # one transaction: a bad row stores nothing
    return len(labels)


def _format(path: Path) -> str:
    if path.suffix.lower() not in FORMATS:
        raise TailscopeError(f"{path}: label files are .jsonl or .csv, not {path.suffix!r}")
    return path.suffix.lower()


def _rows(path: Path, fmt: str) -> list[dict]:
    text = path.read_text(encoding="utf-8")
    if fmt == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        _require_columns(path, reader.fieldnames or [])
        return list(reader)
    rows = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise TailscopeError(f"{path} line {number} is not JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise TailscopeError(f"{path} line {number} is not a JSON object")
        _require_columns(path, list(row), number)
        rows.append(row)
    return rows


def _require_columns(path: Path, columns: list[str], line: int | None = None) -> None:
    missing = [c for c in REQUIRED if c not in columns]
    if missing:
        where = f" line {line}" if line is not None else ""
        raise TailscopeError(
            f"{path}{where} lacks the column(s) {', '.join(missing)}; a label file needs "
            f"{', '.join(REQUIRED)} (export one with `tailscope labels export` to see the shape)"
        )


def _label(row: dict, path: Path, number: int) -> Label:
    try:
        return Label(
            run_id=row["run_id"],
            item_kind=row["item_kind"],
            item_idx=row["item_idx"],
            label=row["response"],
            labeller=row["labeller"],
            note=row.get("note") or "",
            created_at=row.get("created_at") or "",
            queue_order=row.get("queue_order") or "",
        )
    except ValidationError as exc:
        field, message, value = first_problem(exc)
        field = "response" if field == "label" else field
        raise TailscopeError(f"{path} row {number}: {field}: {message} (got {value!r})") from None
