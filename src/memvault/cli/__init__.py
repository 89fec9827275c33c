"""The `memvault` command line."""

from memvault.cli.app import app, main

__all__ = ["app", "main"]
