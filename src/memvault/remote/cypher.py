"""The Cypher statements of the Neo4j replica, in one place.

Times are stored as memvault's fixed-width UTC ISO strings, so string order is time order and a
recovered copy is byte-for-byte the original.
"""

# Sessions, projects and tasks a batch refers to, merged once per batch (not once per memory).
MERGE_PROJECTS = """
UNWIND $projects AS x
MERGE (p:Project {id: x.id})
ON CREATE SET p.name = x.id, p.created_at = x.created_at
"""

MERGE_SESSIONS = """
UNWIND $sessions AS x
MERGE (s:Session {id: x.id})
ON CREATE SET s.project_id = x.project_id, s.started_at = x.started_at, s.agent = x.agent
WITH s, x WHERE x.project_id IS NOT NULL
MATCH (p:Project {id: x.project_id})
MERGE (s)-[:PART_OF]->(p)
"""

MERGE_TASKS = "UNWIND $tasks AS id MERGE (:Task {id: id})"

# One row per change, in outbox order. Every change becomes a MemoryVersion node (history is
# append-only; a replay merges onto the same key and changes nothing). The head — the newest
# change of each memory in the batch (c.head) — advances only when it wins last-write-wins
# order: higher sync_version, then later updated_at, then the larger event id. Each head that
# may move takes a number of the replica's change clock; the clock node's write lock serialises
# writers, so numbers commit in order and a pull cursor never skips a change. A new memory
# (sync_version 0 until its head is set) is linked to its session, project and task once.
APPLY_CHANGES = """
MERGE (clock:ReplicaClock {name: 'changes'})
ON CREATE SET clock.seq = 0
WITH clock, clock.seq AS base
SET clock.seq = base + size($changes)
WITH base
UNWIND range(0, size($changes) - 1) AS i
WITH base, i, $changes[i] AS c
MERGE (m:Memory {id: c.props.id})
ON CREATE SET m.sync_version = 0
MERGE (v:MemoryVersion {key: c.props.id + ':' + toString(c.props.sync_version) + ':'
                              + c.props.event_id})
ON CREATE SET v += c.props, v.embedding = null, v.memory_id = c.props.id,
              v.operation = c.operation, v.origin = c.origin, v.recorded_at = $now,
              v.unlinked = true
WITH base, i, c, m, v, coalesce(v.unlinked, false) AS new_version,
     c.head AND m.sync_version = 0 AS new_memory,
     c.head AND (m.sync_version = 0
       OR c.props.sync_version > m.sync_version
       OR (c.props.sync_version = m.sync_version
           AND (c.props.updated_at > m.updated_at
                OR (c.props.updated_at = m.updated_at AND c.props.event_id > m.event_id))))
     AS newer
FOREACH (_ IN CASE WHEN new_version THEN [1] ELSE [] END |
  CREATE (m)-[:HAS_VERSION]->(v)
  REMOVE v.unlinked)
FOREACH (_ IN CASE WHEN newer THEN [1] ELSE [] END |
  SET m = c.props, m.operation = c.operation, m.origin = c.origin,
      m.remote_seq = base + i + 1, m.replicated_at = $now)
WITH c, m, newer, new_memory
CALL (c, m, new_memory) {
  WITH * WHERE new_memory AND c.props.session_id IS NOT NULL
  MATCH (s:Session {id: c.props.session_id})
  CREATE (m)-[:BELONGS_TO]->(s)
}
CALL (c, m, new_memory) {
  WITH * WHERE new_memory AND c.props.project_id IS NOT NULL
  MATCH (p:Project {id: c.props.project_id})
  CREATE (m)-[:TAGGED_WITH]->(p)
}
CALL (c, m, new_memory) {
  WITH * WHERE new_memory AND c.props.task_id IS NOT NULL
  MATCH (t:Task {id: c.props.task_id})
  CREATE (m)-[:FOR_TASK]->(t)
}
WITH c, m, newer WHERE c.head
RETURN c.props.id AS memory_id, c.props.event_id AS event_id, newer AS applied,
       elementId(m) AS remote_id, m.sync_version AS head_version, m.event_id AS head_event_id
"""

CHANGES_SINCE = """
MATCH (m:Memory) WHERE m.remote_seq > $cursor
RETURN m {.*} AS m ORDER BY m.remote_seq LIMIT $limit
"""

_EXPORT_WHERE = """
WHERE m.id > $after_id AND m.sync_version > 0
  AND ($project_id IS NULL OR m.project_id = $project_id)
  AND ($since IS NULL OR m.updated_at >= $since)
  AND ($include_deleted OR m.deleted_at IS NULL)
"""

# Exports return a page as one record (a list): the async driver's cost is per record, and one
# record per page moves the same bytes at a third of the CPU. Ordering and limiting before the
# projection lets the id index yield the page in order; projecting first would copy every node
# after the cursor (vectors included) for each page.
# remote_id is the node's element id, as the apply outcome reported it to the writing store.
EXPORT_HEADS = (
    "MATCH (m:Memory)"
    + _EXPORT_WHERE
    + "WITH m ORDER BY m.id LIMIT $limit RETURN collect(m {.*, remote_id: elementId(m)}) AS page"
)

FINGERPRINTS = (
    "MATCH (m:Memory)" + _EXPORT_WHERE + "WITH m ORDER BY m.id LIMIT $limit"
    " RETURN collect([m.id, m.sync_version, m.content_hash, m.content, m.deleted_at IS NOT NULL])"
    " AS page"
)

EXPORT_COUNT = "MATCH (m:Memory)" + _EXPORT_WHERE + "RETURN count(m) AS n"

EXPORT_VERSIONS = """
UNWIND $ids AS id
MATCH (:Memory {id: id})-[:HAS_VERSION]->(v:MemoryVersion)
WITH v ORDER BY v.memory_id, v.sync_version, v.updated_at, v.event_id
RETURN collect(v {.*}) AS page
"""

# A session's memory_count is that of the store that wrote it: every memory ever made in it,
# tombstones included.
EXPORT_SESSIONS = """
MATCH (s:Session)
OPTIONAL MATCH (m:Memory)-[:BELONGS_TO]->(s)
WITH s, count(m) AS n
RETURN s {.*, memory_count: n} AS s ORDER BY s.id
"""
EXPORT_PROJECTS = "MATCH (p:Project) RETURN p {.*} AS p ORDER BY p.id"
MEMORY_COUNT = "MATCH (m:Memory) WHERE m.sync_version > 0 RETURN count(m) AS n"

# Context upserts (Replica.apply_context). An incoming null keeps the stored value; a start or
# creation time only moves earlier and a last activity only later (fixed-width time strings
# compare in time order), so a late or replayed copy never rolls the replica back.
# A real name replaces the default name (the id itself); the id never replaces a real name.
UPSERT_PROJECTS = """
UNWIND $projects AS x
MERGE (p:Project {id: x.id})
SET p.name = CASE WHEN p.name IS NULL OR x.name <> x.id THEN x.name ELSE p.name END,
    p.description = coalesce(x.description, p.description),
    p.created_at = CASE WHEN p.created_at IS NULL OR x.created_at < p.created_at
                        THEN x.created_at ELSE p.created_at END
"""

# A project or previous session named but not (yet) on the replica is created as a stub whose
# times are upper bounds (this session's start); its own upsert later moves them earlier. A
# session has one predecessor: a FOLLOWED_BY from any other session is dropped. A session's count
# of memories only grows (deletes leave tombstones), so a stale copy cannot lower it.
UPSERT_SESSIONS = """
UNWIND $sessions AS x
MERGE (s:Session {id: x.id})
SET s.project_id = coalesce(x.project_id, s.project_id),
    s.started_at = CASE WHEN s.started_at IS NULL OR x.started_at < s.started_at
                        THEN x.started_at ELSE s.started_at END,
    s.ended_at = coalesce(x.ended_at, s.ended_at),
    s.summary = coalesce(x.summary, s.summary),
    s.agent = coalesce(x.agent, s.agent),
    s.last_active_at = CASE WHEN s.last_active_at IS NULL OR x.last_active_at > s.last_active_at
                            THEN x.last_active_at ELSE s.last_active_at END,
    s.previous_id = coalesce(x.previous_id, s.previous_id),
    s.memory_count = CASE WHEN s.memory_count IS NULL OR x.memory_count > s.memory_count
                          THEN x.memory_count ELSE s.memory_count END
WITH s
CALL (s) {
  WITH s WHERE s.previous_id IS NOT NULL AND s.previous_id <> s.id
  MERGE (prev:Session {id: s.previous_id})
  ON CREATE SET prev.started_at = s.started_at, prev.project_id = s.project_id
  MERGE (prev)-[:FOLLOWED_BY]->(s)
  WITH s
  MATCH (other:Session)-[old:FOLLOWED_BY]->(s) WHERE other.id <> s.previous_id
  DELETE old
}
CALL (s) {
  OPTIONAL MATCH (prev:Session)-[:FOLLOWED_BY]->(s)
  UNWIND [s, prev] AS n
  WITH n WHERE n.project_id IS NOT NULL
  MERGE (p:Project {id: n.project_id})
  ON CREATE SET p.name = n.project_id, p.created_at = n.started_at
  MERGE (n)-[:PART_OF]->(p)
}
"""

# Vectors computed after their memory replicated (embedding is off the write path). Only the
# version they belong to gets them; history (MemoryVersion) never holds vectors.
SET_EMBEDDINGS = """
UNWIND $items AS x
MATCH (m:Memory {id: x.id})
WHERE m.event_id = x.event_id
SET m.embedding = x.vector, m.embedding_model = x.model, m.embedding_dim = size(x.vector)
RETURN count(m) AS n
"""

# Destruction alerts as audit records beside the memories they are about.
RECORD_ALERTS = """
UNWIND $alerts AS x
MERGE (a:Alert {id: x.id})
SET a += x
"""
