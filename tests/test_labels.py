"""Labels in the workspace: several labellers per item, export and import as JSONL and CSV,
and one clear line for labels the workspace cannot take."""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from tailscope.errors import TailscopeError
from tailscope.review.exchange import COLUMNS, export_rows, import_labels, write_labels
from tailscope.review.items import review_items
from tailscope.store import Label, Workspace
from tailscope.store.schema import SCHEMA_VERSION
from tests.cli import tailscope
from tests.review_workspace import filled_workspace

V3_WORKSPACE = Path(__file__).parent / "data" / "workspace-v3"


def label(run_id: str, idx: int, value: str, labeller: str = "ann", note: str = "") -> Label:
    return Label(
        run_id=run_id, item_kind="case", item_idx=idx, label=value, labeller=labeller, note=note
    )


@pytest.fixture()
def filled(tmp_path):
    ws, run_id = filled_workspace(tmp_path / "ws", count=4)
    yield ws, run_id
    ws.close()


def test_several_labellers_per_item_and_a_relabel_replaces(filled):
    ws, run_id = filled
    ws.labels.record([label(run_id, 0, "present"), label(run_id, 0, "absent", labeller="bo")])
    ws.labels.record([label(run_id, 0, "unsure", note="hard to say")])  # ann changes her mind
    stored = ws.labels.list([run_id])
    assert [(lb.labeller, lb.label, lb.note) for lb in stored] == [
        ("ann", "unsure", "hard to say"),
        ("bo", "absent", ""),
    ]
    assert all(lb.created_at for lb in stored)
    assert ws.labels.list(["some-other-run"]) == []


def test_a_label_of_an_unknown_item_stores_nothing(filled):
    ws, run_id = filled
    with pytest.raises(TailscopeError, match="has no case 99"):
        ws.labels.record([label(run_id, 1, "present"), label(run_id, 99, "present")])
    assert ws.labels.list() == []
    with pytest.raises(TailscopeError, match="no run"):
        ws.labels.record([label("r-nope", 0, "present")])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_export_then_import_into_a_copy_round_trips(filled, tmp_path, suffix):
    ws, run_id = filled
    ws.labels.record(
        [label(run_id, 3, "present", note='says "idiot", 1,2'), label(run_id, 1, "absent")]
    )
    rows = export_rows(ws, [run_id])
    path = tmp_path / f"labels{suffix}"
    write_labels(rows, path)
    copy = tmp_path / "copy"
    shutil.copytree(tmp_path / "ws", copy)
    with Workspace(copy) as other:
        other.db.conn.execute("DELETE FROM labels")
        assert import_labels(other, path) == 2
        assert other.labels.list() == ws.labels.list()
    by_idx = {row["item_idx"]: row for row in rows}
    item = {i.idx: i for i in review_items(ws, [run_id])}[3]
    assert by_idx[3]["prompt"] == item.prompt and by_idx[3]["reply"] == item.reply
    assert by_idx[3]["suggestion"] == "present" and by_idx[3]["suggestion_score"] == 1.0
    assert by_idx[1]["suggestion"] == "absent" and by_idx[3]["suggestion_agent"] == "toxicity"
    assert by_idx[3]["response"] == "present" and by_idx[3]["note"] == 'says "idiot", 1,2'


def test_the_csv_has_the_documented_columns(filled, tmp_path):
    ws, run_id = filled
    ws.labels.record([label(run_id, 2, "present")])
    path = tmp_path / "labels.csv"
    write_labels(export_rows(ws, []), path)
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == COLUMNS
        assert [row["id"] for row in reader] == [f"{run_id}/case/2"]


def test_cli_export_import_and_bad_files(filled, tmp_path):
    ws, run_id = filled
    ws.labels.record([label(run_id, 0, "present"), label(run_id, 2, "absent", labeller="bo")])
    out = tmp_path / "out.jsonl"
    done = tailscope("labels", "export", "-o", str(out), workspace=tmp_path / "ws")
    assert done.returncode == 0 and "2 labels written" in done.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    rows[0]["response"] = "absent"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))
    done = tailscope("labels", "import", str(out), workspace=tmp_path / "ws")
    assert done.returncode == 0 and "2 labels imported" in done.stdout
    assert ws.labels.list()[0].label == "absent"

    wrong = tmp_path / "wrong.csv"
    wrong.write_text("item,answer\n1,yes\n")
    unknown = tmp_path / "unknown.jsonl"
    unknown.write_text(json.dumps({**rows[0], "item_idx": 42}) + "\n")
    bad_value = tmp_path / "bad.jsonl"
    bad_value.write_text(json.dumps({**rows[0], "response": "maybe"}) + "\n")
    for path, message in [
        (wrong, "lacks the column(s) run_id, item_kind, item_idx, response, labeller"),
        (unknown, f"run {run_id} has no case 42"),
        (bad_value, "row 1: response: Input should be 'present', 'absent' or 'unsure'"),
        (tmp_path / "labels.txt", "label files are .jsonl or .csv"),
    ]:
        path.touch()
        done = tailscope("labels", "import", str(path), workspace=tmp_path / "ws")
        assert done.returncode == 2, done.stderr
        assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert [lb.label for lb in ws.labels.list()] == ["absent", "absent"]  # nothing changed


def test_a_version_3_workspace_gains_an_empty_labels_table(tmp_path):
    path = tmp_path / "ws"
    shutil.copytree(V3_WORKSPACE, path)
    before = sqlite3.connect(path / "workspace.db")
    (found,) = before.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    tables = {name for (name,) in before.execute("SELECT name FROM sqlite_master")}
    before.close()
    assert found == "3" and "labels" not in tables
    with Workspace(path) as ws:
        (version,) = ws.db.query("SELECT value FROM meta WHERE key = 'schema_version'")[0]
        assert int(version) == SCHEMA_VERSION >= 4 and ws.labels.list() == []
        run = next(r for r in ws.runs.list() if r.kind == "redteam")
        items = review_items(ws, [run.id])
        assert len(items) == 12 and len(ws.redteam.cases(run.id)) == 12  # old data intact
        ws.labels.record([label(run.id, 11, "present")])
        assert [lb.item_idx for lb in ws.labels.list([run.id])] == [11]


def test_each_label_keeps_the_queue_order_it_was_gathered_in(filled, tmp_path):
    ws, run_id = filled
    ws.labels.record(
        [
            label(run_id, 0, "present").model_copy(update={"queue_order": "random"}),
            label(run_id, 1, "absent").model_copy(update={"queue_order": "uncertainty"}),
        ]
    )
    assert [lb.queue_order for lb in ws.labels.list()] == ["random", "uncertainty"]
    ws.labels.record([label(run_id, 0, "absent")])  # a relabel that does not say how
    assert [lb.queue_order for lb in ws.labels.list()] == ["", "uncertainty"]
    path = tmp_path / "labels.jsonl"
    write_labels(export_rows(ws, []), path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [row["queue_order"] for row in rows] == ["", "uncertainty"]
    without = tmp_path / "without.jsonl"  # a file from elsewhere, with no such column
    without.write_text(
        "".join(json.dumps({k: v for k, v in r.items() if k != "queue_order"}) + "\n" for r in rows)
    )
    import_labels(ws, without)
    assert [lb.queue_order for lb in ws.labels.list()] == ["", ""]
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({**rows[0], "queue_order": "alphabetical"}) + "\n")
    done = tailscope("labels", "import", str(bad), workspace=tmp_path / "ws")
    assert done.returncode == 2 and "row 1: queue_order: Input should be" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
