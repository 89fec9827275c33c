"""SQL fragments for listing and searching memories with the shared filters."""

from __future__ import annotations

import re
from typing import Any

from memvault.models import MemoryFilter
from memvault.store.rows import summary_columns, to_db_time

_WORD = re.compile(r"\w+", re.UNICODE)
_SELECT = summary_columns("m")


def filter_clause(flt: MemoryFilter) -> tuple[str, list[Any]]:
    """WHERE conditions (joined by AND, over alias `m`) and their parameters."""
    conditions: list[str] = []
    params: list[Any] = []
    if not flt.include_deleted:
        conditions.append("m.deleted_at IS NULL")
    if flt.project_id is not None and not flt.all_projects:
        # Global memories belong to every project.
        conditions.append("(m.project_id = ? OR m.scope = 'global')")
        params.append(flt.project_id)
    if flt.session_id is not None:
        conditions.append("m.session_id = ?")
        params.append(flt.session_id)
    if flt.memory_type is not None:
        conditions.append("m.memory_type = ?")
        params.append(flt.memory_type.value)
    if flt.since is not None:
        conditions.append("m.created_at >= ?")
        params.append(to_db_time(flt.since))
    if flt.until is not None:
        conditions.append("m.created_at <= ?")
        params.append(to_db_time(flt.until))
    for tag in flt.tags:
        conditions.append("EXISTS (SELECT 1 FROM json_each(m.tags) WHERE json_each.value = ?)")
        params.append(tag)
    return (" AND ".join(conditions) or "1"), params


def list_sql(flt: MemoryFilter) -> tuple[str, list[Any]]:
    where, params = filter_clause(flt)
    sql = f"SELECT {_SELECT} FROM memories m WHERE {where} ORDER BY m.created_at DESC LIMIT ?"
    return sql, [*params, flt.limit]


# Words that carry no topic: Lucene's English stop set (the replica's analyzer drops the same)
# plus the question words a recall query is phrased with. Matching any one of them made the
# OR-query match nearly every memory, and those matches crowded the fused ranking.
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "but",
        "by",
        "for",
        "if",
        "in",
        "into",
        "is",
        "it",
        "no",
        "not",
        "of",
        "on",
        "or",
        "such",
        "that",
        "the",
        "their",
        "then",
        "there",
        "these",
        "they",
        "this",
        "to",
        "was",
        "will",
        "with",
        "how",
        "what",
        "which",
        "who",
        "whom",
        "why",
        "when",
        "where",
        "we",
        "our",
        "us",
        "i",
        "me",
        "my",
        "you",
        "your",
        "do",
        "does",
        "did",
        "done",
        "can",
        "could",
        "should",
        "would",
        "has",
        "have",
        "had",
        "was",
        "were",
        "been",
        "being",
        "about",
        "any",
        "some",
    ]
)


def fts_expression(text: str) -> str | None:
    """An FTS5 MATCH expression for free text: any of its words, each quoted.

    Quoting turns every token into a literal, so user text can never be read as FTS5 syntax
    (`-`, `:`, `AND`, unbalanced quotes). Returns None when the text has no words.
    """
    words = _WORD.findall(text.lower())
    if not words:
        return None
    topical = [word for word in words if word not in STOP_WORDS] or words  # "the" alone: as is
    return " OR ".join(f'"{word}"' for word in dict.fromkeys(topical))


def search_sql(expression: str, flt: MemoryFilter) -> tuple[str, list[Any]]:
    where, params = filter_clause(flt)
    # bm25() is lower-is-better; content counts twice as much as tags.
    sql = (
        f"SELECT {_SELECT}, bm25(memories_fts, 1.0, 0.5) AS rank "
        "FROM memories_fts JOIN memories m ON m.seq = memories_fts.rowid "
        f"WHERE memories_fts MATCH ? AND {where} ORDER BY rank LIMIT ?"
    )
    return sql, [expression, *params, flt.limit]
