"""The run kinds: each module here registers one or more `RunKind`s (`runs/registry.py`):
its config, its executor, its records and its part of the report."""
