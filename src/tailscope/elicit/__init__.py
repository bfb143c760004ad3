"""Elicitation probabilities: query pools, sampled and exact per-query probabilities."""
