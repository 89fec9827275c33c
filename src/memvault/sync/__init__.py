"""Sync policy: the outbox drain, pull, recovery, verification and conflicts."""
