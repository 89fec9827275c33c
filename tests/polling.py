"""Waiting for something that happens in another thread or process: poll with a deadline.

A deadline is how long a test is willing to wait, not a claim about speed (benchmarks measure
speed); running out of it fails the test naming what never happened.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable


def wait_for(check: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll `check` until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


async def eventually(check: Callable[[], bool], what: str, patience_s: float = 20.0) -> None:
    """`wait_for` inside an event loop: yields to it between looks."""
    deadline = time.monotonic() + patience_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)
