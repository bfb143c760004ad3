"""Guard kinds: each module here registers one or more `Guard`s (`guard/base.py`)."""
