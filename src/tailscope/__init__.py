"""tailscope: audit language models for rare behaviors before deployment finds them."""

__version__ = "0.1.0"
