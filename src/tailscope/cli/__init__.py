"""The `tailscope` command line: `main.py` builds the app from one module per command group;
`common.py` holds what they share. It imports the library, never the reverse."""
