"""Guard training data: labelled prompts and completions of a `guard-data` run.

Each unit of the run (one category's generation batch, or one augmentation of the
examples so far) is committed whole with its examples, so a killed run resumes after its
last whole unit and no example is stored twice. The examples live in the unit's result,
which keeps the schema unchanged; this table reads them back in commit order."""

from __future__ import annotations

from typing import Literal

from tailscope.store.db import Database
from tailscope.store.records import Record
from tailscope.store.units import UnitTable

Split = Literal["train", "calibration", "test", "heldout"]


class GuardExample(Record):
    """One labelled exchange. `label` comes from the category it was written for;
    `style` names the augmentation that made it ("plain" for the generator's own);
    `source` numbers the plain query it derives from, so splits never leak a query's
    variants across train and test."""

    prompt: str
    completion: str = ""
    system_prompt: str | None = None
    category: str
    restricted: bool
    style: str = "plain"
    source: int
    split: Split = "train"


class GuardDataTable:
    def __init__(self, db: Database):
        self._units = UnitTable(db)

    def record(self, run_id: str, unit_key: str, examples: list[GuardExample]) -> bool:
        """Commit one unit's examples atomically; False when the unit was already recorded."""
        result = {"examples": [e.to_json() for e in examples]}
        return self._units.complete(run_id, unit_key, result)

    def done(self, run_id: str) -> set[str]:
        return set(self._units.completed(run_id))

    def examples(self, run_id: str, split: str | None = None) -> list[GuardExample]:
        out = []
        for result in self._units.completed(run_id).values():
            for raw in result.get("examples", []):
                example = GuardExample.model_validate(raw)
                if split is None or example.split == split:
                    out.append(example)
        return out
