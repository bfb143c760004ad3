"""Detectors: texts in, scores in [0, 1] out, plus optional per-vocabulary token tables.

Token tables (`Detector.token_scores`) are float32 arrays over the whole vocabulary; a NaN
entry means the detector cannot judge that token alone (a language detector on "!") and
must count as neutral in ARCA's unigram terms.
"""

from tailscope.detectors.base import Detector
from tailscope.detectors.registry import detector_kinds, make_detector

__all__ = ["Detector", "detector_kinds", "make_detector"]
