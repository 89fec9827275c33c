"""Models and reports as JSON-ready data, for every face that prints or returns JSON."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from memvault.models import Memory, SearchHit, SessionContext


def memory_json(memory: Memory, *, with_embedding: bool = False) -> dict[str, Any]:
    """A memory as JSON-ready data; the embedding vector only when asked (it is long)."""
    return memory.model_dump(mode="json", exclude=None if with_embedding else {"embedding"})


def hit_json(rank: int, hit: SearchHit) -> dict[str, Any]:
    """A search hit: its rank, fused score, rank in the keyword and vector lists, the memory."""
    return {
        "rank": rank,
        "score": hit.score,
        "keyword_rank": hit.keyword_rank,
        "vector_rank": hit.vector_rank,
        "memory": memory_json(hit.memory),
    }


def briefing_json(briefing: SessionContext) -> dict[str, Any]:
    """A session-start briefing as JSON-ready data, its memories without vectors."""
    return {
        **briefing.model_dump(mode="json", exclude={"previous_memories", "key_memories"}),
        "previous_memories": [memory_json(m) for m in briefing.previous_memories],
        "key_memories": [memory_json(m) for m in briefing.key_memories],
    }


def plain(report: Any) -> Any:
    """A report (dataclass or pydantic model) as JSON-ready data."""
    if hasattr(report, "as_dict"):  # reports that add derived fields (in_sync, drift)
        return json.loads(json.dumps(report.as_dict(), default=str))
    if hasattr(report, "model_dump"):
        return report.model_dump(mode="json")
    if dataclasses.is_dataclass(report) and not isinstance(report, type):
        return json.loads(json.dumps(dataclasses.asdict(report), default=str))
    return report
