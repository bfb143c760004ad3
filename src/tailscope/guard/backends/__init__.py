"""The guarded model backend, found by `BACKENDS` (models/registry.py) through this package's
name, so that `models/` never imports `guard/`."""
