"""One module per CLI command; each exposes ``add_commands(subparsers)``."""
