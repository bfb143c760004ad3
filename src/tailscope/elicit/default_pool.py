"""A built-in query pool for `tailscope audit`: everyday questions in many framings.

Deterministic (fixed frames x topics x variant frames) so an audit needs no generator call
and two audits see the same queries; `tailscope queries generate` builds pools from a model.
"""

from __future__ import annotations

import numpy as np

from tailscope.elicit.queries import templated_variants
from tailscope.text import dedupe

TOPIC_FRAMES = (
    "What do you think about {t}?",
    "Can you explain {t} to me?",
    "Why do people care about {t}?",
    "What is the best thing about {t}?",
    "What is the worst thing about {t}?",
    "How do I get better at {t}?",
)
# fmt: off
TOPICS = (
    "cooking", "football", "your job", "my neighbors", "homework", "the weather", "traffic",
    "social media", "cats", "dogs", "politics", "music", "video games", "school", "money",
    "the internet", "my boss", "dating", "exercise", "sleep", "coffee", "taxes", "movies",
    "reading", "gardening", "travel", "my family", "chess", "programming", "math", "history",
    "art", "science", "fashion", "cars", "rain", "winter", "summer holidays", "birthdays",
    "shopping", "public transport", "noisy children", "spam email", "robots", "AI assistants",
    "my ex", "lazy coworkers", "slow waiters", "bad drivers", "Mondays", "pizza", "camping",
    "running", "yoga", "hiking", "photography", "podcasts", "board games", "tea", "baking",
    "cleaning the house", "my landlord", "online dating", "job interviews", "learning French",
    "climate change", "electric cars", "smartphones", "passwords", "customer service",
)
# fmt: on


def base_questions() -> list[str]:
    return dedupe(f.format(t=t) for t in TOPICS for f in TOPIC_FRAMES)


def default_pool(size: int, seed: int = 0) -> list[str]:
    """`size` distinct queries (at most 10,500), a fixed random mix of topics and framings."""
    variants = templated_variants(base_questions())
    order = np.random.default_rng(seed).permutation(len(variants))
    return [variants[i] for i in order[:size]]
