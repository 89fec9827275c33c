"""Quarantine decisions are for people: no HTTP route can revert or acknowledge an alert."""

from __future__ import annotations

import tempfile
from pathlib import Path

from memvault.api import create_app
from memvault.config import Settings


def test_no_api_route_reverts_or_acknowledges_an_alert() -> None:
    app = create_app(Settings(_env_file=None, home=Path(tempfile.mkdtemp())))  # type: ignore[call-arg]
    paths = app.openapi()["paths"]
    assert "/api/memories" in paths  # the document is the real one
    for path, operations in paths.items():
        assert "alert" not in path, f"{path} exposes alerts to agents"
        assert not any(word in path for word in ("revert", "ack", "quarantine", "release"))
        for method in operations:
            assert method in ("get", "post", "patch", "delete"), (path, method)
