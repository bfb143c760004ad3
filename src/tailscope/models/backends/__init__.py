"""Model backends: each module here registers one `Backend` (`models/registry.py`)."""
