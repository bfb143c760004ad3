"""Guards: classifiers around a target model (input, streaming output, transcript), the
guarded backend that wraps a target with them, and their evaluation. `base.py` holds the
interface and the `GUARDS` registry; built-in guard kinds live in `guard/guards/`."""

from tailscope.guard.base import GUARDS, Guard, GuardParams, Stage, halt_index, make_guard

__all__ = ["GUARDS", "Guard", "GuardParams", "Stage", "halt_index", "make_guard"]
