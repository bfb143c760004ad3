"""Human labels of a run's items (findings, red-team cases, elicitation queries): one label
per labeller per item, so several people can judge the same item and disagree."""

from __future__ import annotations

import json
import sqlite3

from tailscope.errors import TailscopeError
from tailscope.store.db import Database, now_iso
from tailscope.store.records import Label

# Where each kind of item lives: (table, the column that numbers it within a run).
_ITEM_TABLES = {
    "finding": ("findings", "id"),
    "case": ("redteam_cases", "idx"),
    "elicitation": ("elicitations", "query_idx"),
}
_FIELDS = ("run_id", "item_kind", "item_idx", "labeller", "label", "note", "created_at")
_COLUMNS = ", ".join(_FIELDS)


class LabelTable:
    def __init__(self, db: Database):
        self._db = db

    def record(self, labels: list[Label]) -> None:
        """Store labels in one transaction; a labeller's new label of an item replaces their
        old one. A label of an item the workspace does not hold stores nothing."""
        with self._db.transaction() as db:
            for label in labels:
                _require_item(db, self._db, label)
                db.execute(
                    f"INSERT INTO labels ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (run_id, item_kind, item_idx, labeller) DO UPDATE SET"
                    " label = excluded.label, note = excluded.note,"
                    " created_at = excluded.created_at",
                    (
                        label.run_id,
                        label.item_kind,
                        label.item_idx,
                        label.labeller,
                        label.label,
                        label.note,
                        label.created_at or now_iso(),
                    ),
                )
                db.execute(  # replaced with the label, so an old order cannot linger
                    "INSERT INTO meta (key, value) VALUES (?, ?)"
                    " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (
                        _order_key(label.run_id, label.item_kind, label.item_idx, label.labeller),
                        label.queue_order,
                    ),
                )

    def list(self, run_ids: list[str] | None = None) -> list[Label]:
        """Every label, or those of the given runs, in item order then labeller."""
        sql = f"SELECT {_COLUMNS} FROM labels"
        params: tuple = ()
        if run_ids is not None:
            sql += f" WHERE run_id IN ({', '.join('?' * len(run_ids))})"
            params = tuple(run_ids)
        rows = self._db.query(sql + " ORDER BY run_id, item_kind, item_idx, labeller", params)
        orders = dict(self._db.query("SELECT key, value FROM meta WHERE key LIKE 'label-order %'"))
        labels = []
        for row in rows:
            fields = dict(zip(_FIELDS, row, strict=True))
            order = orders.get(_order_key(*row[:4]), "")
            labels.append(Label.model_validate({**fields, "queue_order": order}))
        return labels


def _order_key(run_id: str, item_kind: str, item_idx: int, labeller: str) -> str:
    """Where a label's queue order lives: the workspace's key-value `meta` table, so that
    recording it needed no schema step (a labeller name may hold any character, hence JSON)."""
    return "label-order " + json.dumps([run_id, item_kind, item_idx, labeller], ensure_ascii=False)


def _require_item(db: sqlite3.Connection, database: Database, label: Label) -> None:
    database.require_run(db, label.run_id)
    table, column = _ITEM_TABLES[label.item_kind]
    found = db.execute(
        f"SELECT 1 FROM {table} WHERE run_id = ? AND {column} = ?",
        (label.run_id, label.item_idx),
    ).fetchone()
    if found is None:
        raise TailscopeError(
            f"run {label.run_id} has no {label.item_kind} {label.item_idx} to label; "
            f"see its items with `tailscope show {label.run_id}`"
        )
