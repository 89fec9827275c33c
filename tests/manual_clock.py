"""A clock a test moves by hand: time stands still until `advance` (no test waits for time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class ManualClock:
    """Callable like `utc_now`; returns `now` until the test moves it."""

    def __init__(self, start: datetime = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float = 0.0, **delta: float) -> datetime:
        """Move time forward by `seconds` and/or timedelta keywords; returns the new time."""
        self.now += timedelta(seconds=seconds, **delta)
        return self.now
