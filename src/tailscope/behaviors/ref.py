"""`BehaviorRef`: a behavior by name (or YAML path) and its parameters, as a run records it."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from tailscope.behaviors.library import builtin_path
from tailscope.behaviors.spec import Behavior, load_behavior, read_behavior
from tailscope.options import parse_pairs


class BehaviorRef(BaseModel):
    """`spec` holds a .yaml behavior's mapping from the first `load()` on: a run records it,
    so editing, moving or deleting the file cannot change the run when it resumes."""

    model_config = ConfigDict(extra="forbid")
    name: str
    params: dict[str, str] = Field(default_factory=dict)
    spec: dict | None = None

    def label(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.name}({args})" if args else self.name

    def load(self) -> Behavior:
        if self.spec is None and builtin_path(self.name) is None:
            self.spec = read_behavior(self.name)
        return load_behavior(self.name, self.params, self.spec)

    @classmethod
    def parse(cls, spec: str, shared: dict[str, str] | None = None) -> BehaviorRef:
        """`NAME` or `NAME:KEY=VALUE[&KEY=VALUE]` (a YAML path is taken whole); `shared`
        parameters apply first, the spec's own override them."""
        shared = dict(shared or {})
        name, sep, own = spec.partition(":")
        if not sep or Path(spec).suffix in (".yaml", ".yml"):
            return cls(name=spec, params=shared)
        return cls(name=name, params={**shared, **parse_pairs(own.split("&"), "-b")})
