"""Recipes: suites of runs that together answer an audit's questions (library code the CLI
calls; the CLI only prints what they report)."""
