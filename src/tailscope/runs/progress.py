"""The one progress protocol of every long job: a status line while something loads, tasks
with a count, and notes. The CLI draws it with rich; the library's default draws nothing.

Notes and descriptions may hold untrusted text (queries, model output): a renderer shows
them as plain text, never as markup.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext


class Task:
    """One counted piece of work (units, queries, test cases)."""

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        description: str | None = None,
    ) -> None:
        """Where the task stands; None leaves a field as it was."""


class Progress:
    """Reports of a running job. This base class ignores them all (library use)."""

    def status(self, message: str) -> AbstractContextManager[None]:
        """A transient line while something without a count runs (a model loading)."""
        return nullcontext()

    def task(self, description: str, total: float | None = None, completed: float = 0) -> Task:
        return Task()

    def note(self, message: str) -> None:
        """A line the user should read: the run id, a warning, why a run stopped early."""

    def finish(self) -> None:
        """The job is over: end any live display."""
