"""Where a run's target model runs: in this process (`local`, the default) or on Ray actors
(`ray`, `models/ray.py`). The run layer asks the executor to load each model; the ray
executor puts only a black-box target there (elicitation, red-team target evaluation,
transfer). White-box search and a trainable attacker need the weights in this process.
"""

from __future__ import annotations

from dataclasses import dataclass

from tailscope.errors import TailscopeError
from tailscope.models.base import LanguageModel
from tailscope.models.ray import BLACK_BOX, RayModel, import_ray
from tailscope.models.registry import load_model
from tailscope.runs.config import ModelNeed

EXECUTORS = ("local", "ray")
ROLES_ON_RAY = ("target",)


@dataclass(frozen=True)
class Executor:
    name: str = "local"
    actors: int = 2

    def __post_init__(self):
        if self.name not in EXECUTORS:
            raise TailscopeError(f"unknown executor {self.name!r}: use {' or '.join(EXECUTORS)}")
        if self.actors < 1:
            raise TailscopeError(f"--actors {self.actors} must be at least 1")
        if self.name == "ray":
            import_ray()  # missing Ray is one line before anything loads

    def remote(self, role: str, need: ModelNeed) -> bool:
        """True when this role's model runs on the actors."""
        return self.name == "ray" and role in ROLES_ON_RAY and need.needs <= BLACK_BOX

    def load(self, role: str, need: ModelNeed) -> LanguageModel:
        if self.remote(role, need):
            return RayModel(need.spec, self.actors)
        return load_model(need.spec)

    def release(self, models: dict[str, LanguageModel]) -> None:
        """Free the actors of the models this executor loaded, for the next run."""
        for model in models.values():
            if isinstance(model, RayModel) and model.actors:
                model.close()


_chosen = [Executor()]


def choose(name: str, actors: int = 2) -> Executor:
    """Set the executor of the runs this process starts (the CLI's --executor)."""
    _chosen[0] = Executor(name, actors)
    return _chosen[0]


def chosen() -> Executor:
    return _chosen[0]
