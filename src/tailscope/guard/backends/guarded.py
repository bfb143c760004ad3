"""`guarded:FILE.yaml`: a target wrapped by guards (`guard/target_file.py`). It can do what
its target can, less fine-tuning; probe guards are refused on a black-box target before
anything loads."""

from __future__ import annotations

from pathlib import Path

from tailscope.guard.base import probe_on_black_box
from tailscope.guard.model import guarded
from tailscope.guard.target_file import build_guards, read_guarded_target, target_spec
from tailscope.models.base import Capability
from tailscope.models.registry import BACKENDS, Backend, ModelSpec, parse_model_spec
from tailscope.models.registry import backend as backend_named


@BACKENDS.register
class GuardedBackend(Backend):
    name = "guarded"
    summary = "a target wrapped by guards (a guarded-target YAML: target, guards, refusal)"
    order = 90

    def capabilities_of(self, spec: ModelSpec) -> frozenset[Capability]:
        settings, base = read_guarded_target(Path(spec.location))
        inner = parse_model_spec(target_spec(settings, base))
        capabilities = backend_named(inner.backend).capabilities_of(inner)
        guards = build_guards(settings, base)
        if Capability.WHITE_BOX not in capabilities:
            for guard in guards:
                if guard.reads_activations:
                    raise probe_on_black_box(guard.name, settings.target)
        return capabilities - {Capability.TRAINABLE}

    def load(self, spec: ModelSpec):
        self.capabilities_of(spec)  # refuse what cannot work before the target loads
        settings, base = read_guarded_target(Path(spec.location))
        inner = parse_model_spec(target_spec(settings, base))
        if settings.system_prompt is not None:
            inner = inner.model_copy(update={"system_prompt": settings.system_prompt})
        target = backend_named(inner.backend).load(inner)
        return guarded(
            target,
            build_guards(settings, base),
            refusal=settings.refusal,
            every=settings.stream_every,
            on_halt=settings.on_halt,
        )
