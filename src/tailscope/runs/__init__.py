"""The run layer: the registry of run kinds and the one recorded-execution path every
command shares (status, progress, Ctrl-C, errors, resume)."""
