"""The small error vocabulary every layer shares; callers decide by type, never by message."""

from __future__ import annotations


class MemvaultError(Exception):
    """Base of every error memvault raises on purpose."""


class NotFoundError(MemvaultError):
    """The thing asked for does not exist (or is a tombstone and tombstones were not asked for)."""


class InvalidInputError(MemvaultError):
    """Input broke a rule; `problems` lists `{"field", "message"}` pairs."""

    def __init__(self, problems: list[dict[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{p['field']}: {p['message']}" for p in problems))


class StoreError(MemvaultError):
    """The local store cannot be used (missing schema, newer schema, corrupt file)."""


class UnavailableError(MemvaultError):
    """A remote dependency cannot be reached now; retrying later may succeed."""


class RejectedError(MemvaultError):
    """A remote dependency refused the request; retrying the same request will not help."""
