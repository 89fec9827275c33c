"""The local SQLite store."""

from memvault.store.local import LocalStore

__all__ = ["LocalStore"]
