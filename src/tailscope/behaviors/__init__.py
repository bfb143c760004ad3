"""Behaviors: YAML specs of what to search for (output condition + prompt constraints)."""

from tailscope.behaviors.spec import Behavior, BehaviorSummary, list_behaviors, load_behavior

__all__ = ["Behavior", "BehaviorSummary", "list_behaviors", "load_behavior"]
