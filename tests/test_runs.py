"""The run layer: one path owns validation, capabilities, status, Ctrl-C, errors and resume."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tailscope.behaviors.ref import BehaviorRef
from tailscope.errors import TailscopeError
from tailscope.models.base import Capability
from tailscope.runs.config import ModelNeed, RunConfig
from tailscope.runs.execute import RunInterrupted, execute, resumable
from tailscope.runs.progress import Progress, Task
from tailscope.runs.registry import RUN_KINDS, RunKind
from tailscope.search import session as search_session
from tailscope.search.config import SearchConfig, SearchSettings
from tailscope.store import Workspace
from tests.redteam.fakes import ScriptedTarget


class CountConfig(RunConfig):
    model: str = "scripted"
    count: int = 3
    fail_with: str | None = None  # "user", "bug" or "interrupt", after `count` units
    needs_white_box: bool = False

    def check(self) -> None:
        if self.count < 1:
            raise TailscopeError(f"count {self.count} must be at least 1")

    def model_needs(self) -> dict[str, ModelNeed]:
        needs = frozenset({Capability.WHITE_BOX} if self.needs_white_box else ())
        return {"target": ModelNeed(self.model, needs, "counting")}


class Tick(BaseModel):
    i: int
    reply: str


@pytest.fixture()
def count_kind():
    """A toy kind: one unit per count, each a reply of the target model."""

    @RUN_KINDS.register
    class CountKind(RunKind):
        name = "count"
        summary = "counts"
        Config = CountConfig
        Record = Tick

        def execute(self, ctx) -> None:
            done = ctx.ws.units.completed(ctx.run_id)
            for i in range(len(done), ctx.config.count):
                reply = ctx.models["target"].generate([f"count {i}"])[0][0]
                ctx.ws.units.complete(ctx.run_id, f"u{i}", Tick(i=i, reply=reply).model_dump())
            errors = {"user": TailscopeError("no more numbers"), "bug": RuntimeError("boom")}
            if ctx.config.fail_with == "interrupt":
                raise KeyboardInterrupt
            if ctx.config.fail_with in errors:
                raise errors[ctx.config.fail_with]

        def records(self, ws, run_id):
            return [Tick(**r) for r in ws.units.completed(run_id).values()]

    yield CountKind
    RUN_KINDS.unregister("count")


def _execute(ws, config, **kwargs) -> str:
    return execute(ws, "count", config, 0, models={"target": ScriptedTarget()}, **kwargs)


def test_a_run_is_recorded_and_completed(tmp_path, count_kind):
    ws = Workspace(tmp_path / "ws")
    run_id = _execute(ws, CountConfig())
    run = ws.runs.get(run_id)
    assert (run.kind, run.status, run.error, run.config["count"]) == ("count", "completed", None, 3)
    assert run.model["name"] == "scripted-target"
    assert [t.i for t in count_kind().records(ws, run_id)] == [0, 1, 2]


@pytest.mark.parametrize(
    "fail_with, status, error",
    [("user", "failed", "no more numbers"), ("bug", "failed", "RuntimeError: boom")],
)
def test_errors_mark_the_run_failed_and_keep_the_message(
    tmp_path, count_kind, fail_with, status, error
):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises((TailscopeError, RuntimeError)):
        _execute(ws, CountConfig(fail_with=fail_with))
    (run,) = ws.runs.list()
    assert (run.status, run.error) == (status, error)
    assert len(ws.units.completed(run.id)) == 3  # the completed work stays


def test_ctrl_c_marks_the_run_interrupted_and_names_the_resume_command(tmp_path, count_kind):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(RunInterrupted) as interrupted:
        _execute(ws, CountConfig(fail_with="interrupt"))
    run_id = interrupted.value.run_id
    assert ws.runs.get(run_id).status == "interrupted"
    assert (
        str(interrupted.value) == f"interrupted: continue with `tailscope count --resume {run_id}`"
    )
    _, config = resumable(ws, run_id, ("count",))
    more = config.model_copy(update={"fail_with": None, "count": 5})
    assert _execute(ws, more, resume=run_id) == run_id
    assert ws.runs.get(run_id).status == "completed" and len(ws.units.completed(run_id)) == 5


def test_bad_configs_and_missing_capabilities_fail_before_anything_is_recorded(
    tmp_path, count_kind
):
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(TailscopeError, match="count 0"):
        _execute(ws, CountConfig(count=0))
    with pytest.raises(TailscopeError, match="counting needs white-box of the target model"):
        _execute(ws, CountConfig(needs_white_box=True))  # the scripted target has no weights
    assert ws.runs.list() == []


def test_resuming_a_run_of_another_kind_is_one_line(tmp_path, count_kind):
    ws = Workspace(tmp_path / "ws")
    run_id = _execute(ws, CountConfig())
    with pytest.raises(TailscopeError) as err:
        resumable(ws, run_id, ("search",))
    assert str(err.value) == (
        f"run {run_id} is a count run, not a search run: continue it with "
        f"`tailscope count --resume {run_id}`"
    )


class StopAtStep(Progress):
    """Ctrl-C once the restart under way reaches `step`."""

    def __init__(self, step: int):
        self.step = step

    def task(self, description, total=None, completed=0) -> Task:
        stop = self.step if description == "restart" else None

        class Stopping(Task):
            def update(self, *, completed=None, total=None, description=None):
                if stop is not None and completed is not None and completed >= stop:
                    raise KeyboardInterrupt

        return Stopping()


def test_a_killed_gcg_search_resumes_with_its_buffer_and_matches_an_uninterrupted_one(
    tmp_path, tiny_model, monkeypatch
):
    """The keep-best buffer is checkpointed with the restart (its best is also the state the
    next step starts from), and the resumed run retraces the uninterrupted one exactly."""
    monkeypatch.setattr(search_session, "CHECKPOINT_INTERVAL_S", 0.0)  # checkpoint every step
    settings = SearchSettings(
        method="gcg",
        method_options={"search_width": 8, "topk": 4, "buffer_size": 3},
        max_steps=12,
    )
    config = SearchConfig(
        model="tiny", behaviors=[BehaviorRef.parse("say:target=Hello there")], settings=settings
    )
    models = {"target": tiny_model}
    whole_ws = Workspace(tmp_path / "whole")
    whole = execute(whole_ws, "search", config, 3, models=models)
    ws = Workspace(tmp_path / "resumed")
    with pytest.raises(RunInterrupted) as interrupted:
        execute(ws, "search", config, 3, models=models, progress=StopAtStep(6))
    run_id = interrupted.value.run_id
    unit = "0:say(target=Hello there)/restart0"
    saved = ws.checkpoints.load(run_id, unit)
    assert len(saved["optimizer"]["buffer"]) == 3
    assert saved["optimizer"]["buffer"][0] == saved["state"]  # the best is where it goes on
    execute(ws, "search", config, 3, models=models, resume=run_id)
    steps = [(s["step"], s["objective"]) for s in ws.units.steps(run_id)]
    assert steps == [(s["step"], s["objective"]) for s in whole_ws.units.steps(whole)]
    (resumed,), (uninterrupted,) = ws.units.findings(run_id), whole_ws.units.findings(whole)
    assert resumed.prompt_ids == uninterrupted.prompt_ids
