"""Output for programs: plain JSON on stdout. Tables for people are in `tables` (rich)."""

from __future__ import annotations

import json
import sys
from typing import Any

from memvault.jsonable import hit_json, memory_json, plain

__all__ = ["brief", "emit_json", "hit_json", "memory_json", "plain"]


def emit_json(data: Any) -> None:
    """Write `data` as JSON to stdout; this is the only thing a --json command prints there."""
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
    sys.stdout.flush()


def brief(data: dict[str, Any], limit: int = 80) -> str:
    """A mapping as `key=value` pairs on one line, lists shown by their length."""
    parts = [
        f"{key}={len(value) if isinstance(value, list) else value}" for key, value in data.items()
    ]
    text = " ".join(parts)
    return text if len(text) <= limit else text[: limit - 1] + "…"
