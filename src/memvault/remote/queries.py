"""The local store's queries answered from the Neo4j replica: same filters, same meaning.

Filters mirror `memvault.store.queries.filter_clause` condition by condition. Search asks the
fulltext index `memory_text` and the vector index `memory_embedding` for candidates, filters
them, and fuses the two lists by reciprocal rank (`memvault.ranking.fuse`), as the local store
does.

Remote keyword search covers content only: tags are lists, and Neo4j cannot fulltext-index a
list property (the local FTS5 index also holds tags). Both sides stem English words (FTS5's
porter tokenizer; the index's `english` analyzer, schema version 3), but their stemmers and the
analyzer's stop words differ, so rankings (not only scores) can differ at the margins.
"""

from __future__ import annotations

import math
import re
from typing import Any

from memvault.errors import InvalidInputError, RejectedError
from memvault.models import (
    Memory,
    MemoryFilter,
    ProjectSummary,
    SearchHit,
    Session,
    SessionDetail,
    SessionFilter,
)
from memvault.ranking import fuse
from memvault.remote.neo4j import Neo4jReplica, known_fields, memory_from_props
from memvault.remote.schema import vector_index_dimensions
from memvault.store.rows import to_db_time

_WORD = re.compile(r"\w+", re.UNICODE)  # the tokenisation of store.queries.fts_expression
# Lucene refuses queries of more than 1024 clauses (its default maxClauseCount).
MAX_QUERY_WORDS = 1000
# Filters apply after the index call, so the index is asked for more candidates than wanted;
# when too few pass the filters and the index may hold more, the next round asks for ten times
# as many.
CANDIDATE_FACTOR = 10
MIN_CANDIDATES = 100

# Statements are templates: "{where}" is replaced by a condition built from constant parts (every
# value is a parameter), so no user text ever reaches the Cypher source. Memories are returned as
# exports return them: every property, and the node's element id as remote_id.

# One record per round: how many candidates the index gave, and the first `limit` that pass.
_CANDIDATES = """
WITH m, score ORDER BY score DESC, m.id
WITH count(*) AS found, min(score) AS lowest,
     collect(CASE WHEN {where} AND score >= $min_score THEN m END)[..$limit] AS kept
RETURN found, lowest, [m IN kept | m {.*, remote_id: elementId(m)}] AS page
"""
KEYWORD = (
    "CALL db.index.fulltext.queryNodes('memory_text', $lucene, {limit: $k})"
    " YIELD node AS m, score" + _CANDIDATES
)
NEAREST = (
    "CALL db.index.vector.queryNodes('memory_embedding', $k, $vector)"
    " YIELD node AS m, score" + _CANDIDATES
)
COUNT_MEMORIES = "MATCH (m:Memory) RETURN count(m) AS n"  # from the count store: no scan
LIST = """
MATCH (m:Memory) WHERE {where}
RETURN m {.*, remote_id: elementId(m)} AS m ORDER BY m.created_at DESC LIMIT $limit
"""

# A session's memory_count is every memory made in it, tombstones included (as exports say).
LIST_SESSIONS = """
MATCH (s:Session) WHERE {where}
WITH s ORDER BY s.started_at DESC, s.id DESC LIMIT $limit
RETURN s {.*, memory_count: COUNT { (:Memory)-[:BELONGS_TO]->(s) }} AS s
ORDER BY s.started_at DESC, s.id DESC
"""
GET_SESSION = """
MATCH (s:Session {id: $id})
OPTIONAL MATCH (m:Memory)-[:BELONGS_TO]->(s)
WITH s, m ORDER BY m.created_at, m.id
WITH s, count(m) AS n,
     collect(CASE WHEN m.sync_version > 0 AND m.deleted_at IS NULL THEN m END) AS live
RETURN s {.*, memory_count: n} AS s, [m IN live | m {.*, remote_id: elementId(m)}] AS memories
"""
# Live memories and last activity (tombstones included) by the memories' project_id.
LIST_PROJECTS = """
MATCH (p:Project)
OPTIONAL MATCH (m:Memory {project_id: p.id}) WHERE m.sync_version > 0
WITH p, count(m) - count(m.deleted_at) AS live, max(m.updated_at) AS last
RETURN p {.*, memory_count: live, last_active_at: last,
          session_count: COUNT { (:Session)-[:PART_OF]->(p) }} AS p
ORDER BY last IS NULL, last DESC, p.id
"""


def lucene_query(text: str) -> str | None:
    """A Lucene query for free text: any of its words, each a quoted literal.

    The words are those `store.queries.fts_expression` takes (`\\w+`, lowercased, first
    occurrence kept), so user text can never be read as Lucene syntax (`AND`, `*`, `field:x`,
    unbalanced quotes). Returns None when the text has no words.
    """
    words = list(dict.fromkeys(_WORD.findall(text.lower())))[:MAX_QUERY_WORDS]
    if not words:
        return None
    return " OR ".join('"' + w.replace("\\", "\\\\").replace('"', '\\"') + '"' for w in words)


def memory_where(flt: MemoryFilter) -> tuple[str, dict[str, Any]]:
    """A Cypher condition over node `m` and its parameters: `filter_clause`, in Cypher."""
    conditions = ["m.sync_version > 0"]  # a memory whose first version has not landed yet
    params: dict[str, Any] = {}
    if not flt.include_deleted:
        conditions.append("m.deleted_at IS NULL")
    if flt.project_id is not None and not flt.all_projects:
        # Global memories belong to every project.
        conditions.append("(m.project_id = $project_id OR m.scope = 'global')")
        params["project_id"] = flt.project_id
    if flt.session_id is not None:
        conditions.append("m.session_id = $session_id")
        params["session_id"] = flt.session_id
    if flt.memory_type is not None:
        conditions.append("m.memory_type = $memory_type")
        params["memory_type"] = flt.memory_type.value
    if flt.since is not None:
        conditions.append("m.created_at >= $since")
        params["since"] = to_db_time(flt.since)
    if flt.until is not None:
        conditions.append("m.created_at <= $until")
        params["until"] = to_db_time(flt.until)
    if flt.tags:
        conditions.append("all(tag IN $tags WHERE tag IN coalesce(m.tags, []))")
        params["tags"] = list(flt.tags)
    return " AND ".join(conditions), params


def session_where(flt: SessionFilter) -> tuple[str, dict[str, Any]]:
    """A Cypher condition over node `s`: exact project and agent, start time in the range."""
    conditions = ["true"]
    params: dict[str, Any] = {}
    if flt.project_id is not None:
        conditions.append("s.project_id = $project_id")
        params["project_id"] = flt.project_id
    if flt.agent is not None:
        conditions.append("s.agent = $agent")
        params["agent"] = flt.agent
    if flt.since is not None:
        conditions.append("s.started_at >= $since")
        params["since"] = to_db_time(flt.since)
    if flt.until is not None:
        conditions.append("s.started_at <= $until")
        params["until"] = to_db_time(flt.until)
    return " AND ".join(conditions), params


class Neo4jQueries:
    """`ReplicaQueries` over a Neo4jReplica's connection pool (reads only)."""

    def __init__(self, replica: Neo4jReplica) -> None:
        self._replica = replica
        # The vector index's size, read once: it changes only when the schema is rebuilt.
        self._dimensions: int | None = None

    async def search_memories(
        self,
        text: str,
        vector: list[float] | None,
        flt: MemoryFilter,
        min_similarity: float | None = None,
    ) -> list[SearchHit]:
        """Fulltext (and, given a query vector, vector-index) search fused by reciprocal rank;
        vector candidates below `min_similarity` (cosine; None: no floor) are left out."""
        if vector is not None:
            await self._check_vector(vector)
        lucene = lucene_query(text)
        keyword = (
            await self._candidates(KEYWORD, flt, exact=True, lucene=lucene, min_score=0.0)
            if lucene
            else []
        )
        # The index scores cosine similarity as (1 + cos) / 2.
        floor = (1.0 + min_similarity) / 2 if min_similarity is not None else 0.0
        nearest = (
            await self._candidates(NEAREST, flt, exact=False, vector=vector, min_score=floor)
            if vector
            else []
        )
        return fuse(keyword, nearest, flt.limit)

    async def list_memories(self, flt: MemoryFilter) -> list[Memory]:
        """Current versions matching `flt`, newest created first."""
        where, params = memory_where(flt)
        rows = await self._replica.read(LIST.replace("{where}", where), **params, limit=flt.limit)
        return [memory_from_props(row["m"]) for row in rows]

    async def list_sessions(self, flt: SessionFilter) -> list[Session]:
        """Sessions matching `flt`, most recently started first."""
        where, params = session_where(flt)
        rows = await self._replica.read(
            LIST_SESSIONS.replace("{where}", where), **params, limit=flt.limit
        )
        return [_session(row["s"]) for row in rows]

    async def get_session(self, session_id: str) -> SessionDetail | None:
        """A session and its live memories (oldest first); None when unknown."""
        rows = await self._replica.read(GET_SESSION, id=session_id)
        if not rows:
            return None
        return SessionDetail(
            session=_session(rows[0]["s"]),
            memories=[memory_from_props(props) for props in rows[0]["memories"]],
        )

    async def list_projects(self) -> list[ProjectSummary]:
        """Every project with its live memory count, session count and last activity."""
        rows = await self._replica.read(LIST_PROJECTS)
        return [
            ProjectSummary.model_validate(known_fields(row["p"], ProjectSummary)) for row in rows
        ]

    async def _candidates(
        self, statement: str, flt: MemoryFilter, *, exact: bool, **params: Any
    ) -> list[Memory]:
        """The first `flt.limit` index hits that pass the filters, best first.

        An exact index (fulltext) that returns fewer than k hits has no more. An approximate one
        (HNSW vectors) may return fewer than k while holding more, so it is asked again until k
        covers every memory.
        """
        where, filter_params = memory_where(flt)
        statement = statement.replace("{where}", where)
        k = max(flt.limit * CANDIDATE_FACTOR, MIN_CANDIDATES)
        total: int | None = None
        while True:
            rows = await self._replica.read(
                statement, **filter_params, **params, k=k, limit=flt.limit
            )
            page, found = rows[0]["page"], int(rows[0]["found"])
            lowest = rows[0]["lowest"]
            if len(page) >= flt.limit or (exact and found < k):
                break
            if lowest is not None and lowest < params["min_score"]:
                break  # hits come best first: the next ones are below the floor too
            if total is None:
                total = int((await self._replica.read(COUNT_MEMORIES))[0]["n"])
            if k >= total:
                break
            k *= CANDIDATE_FACTOR
        return [memory_from_props(props) for props in page]

    async def _check_vector(self, vector: list[float]) -> None:
        """Raise InvalidInputError unless the vector fits the replica's vector index."""
        if self._dimensions is None:
            self._dimensions = await vector_index_dimensions(self._replica)
            if self._dimensions is None:
                raise RejectedError(
                    "the replica has no vector index memory_embedding:"
                    " run `memvault neo4j init-schema`"
                )
        problem = None
        if len(vector) != self._dimensions:
            problem = (
                f"has {len(vector)} dimensions, but the replica's vector index holds "
                f"{self._dimensions}-dimensional embeddings; embed the query with the same model"
            )
        elif not all(math.isfinite(x) for x in vector):
            problem = "must hold finite numbers only"
        elif not any(vector):
            problem = "must not be all zeros (cosine similarity is undefined for it)"
        if problem is not None:
            raise InvalidInputError([{"field": "vector", "message": problem}])


def _session(props: dict[str, Any]) -> Session:
    return Session.model_validate(known_fields(props, Session))
