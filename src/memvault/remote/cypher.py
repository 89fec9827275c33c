"""The Cypher statements of the Neo4j replica, in one place.

Times are stored as memvault's fixed-width UTC ISO strings, so string order is time order and a
recovered copy is byte-for-byte the original.
"""

# Every version becomes a MemoryVersion node (history is append-only; a replay merges onto the
# same key). Embeddings stay on the head only: history keeps text and metadata.
RECORD_VERSIONS = """
UNWIND $versions AS c
MERGE (m:Memory {id: c.props.id})
MERGE (v:MemoryVersion {key: c.props.id + ':' + toString(c.props.sync_version) + ':'
                              + c.props.event_id})
ON CREATE SET v += c.props, v.embedding = null, v.memory_id = c.props.id,
              v.operation = c.operation, v.origin = c.origin, v.recorded_at = $now
MERGE (m)-[:HAS_VERSION]->(v)
"""

# Advance each memory's head when the change wins last-write-wins order: higher sync_version,
# then later updated_at, then the larger event id. Each head that moves takes the next number of
# the replica's change clock; the clock node's write lock serialises writers, so numbers commit in
# order and a pull cursor never skips a change.
ADVANCE_HEADS = """
MERGE (clock:ReplicaClock {name: 'changes'})
ON CREATE SET clock.seq = 0
WITH clock, clock.seq AS base
SET clock.seq = base + size($heads)
WITH base
UNWIND range(0, size($heads) - 1) AS i
WITH base, i, $heads[i] AS c
MATCH (m:Memory {id: c.props.id})
WITH base, i, c, m,
     m.event_id IS NULL
     OR c.props.sync_version > m.sync_version
     OR (c.props.sync_version = m.sync_version
         AND (c.props.updated_at > m.updated_at
              OR (c.props.updated_at = m.updated_at AND c.props.event_id > m.event_id)))
     AS newer
CALL (m, c, newer, base, i) {
  WITH * WHERE newer
  SET m = c.props, m.operation = c.operation, m.origin = c.origin,
      m.remote_seq = base + i + 1, m.replicated_at = $now
  FOREACH (pid IN CASE WHEN c.props.project_id IS NULL THEN [] ELSE [c.props.project_id] END |
    MERGE (p:Project {id: pid})
    ON CREATE SET p.name = pid, p.created_at = c.props.created_at
    MERGE (m)-[:TAGGED_WITH]->(p))
  FOREACH (sid IN CASE WHEN c.props.session_id IS NULL THEN [] ELSE [c.props.session_id] END |
    MERGE (s:Session {id: sid})
    ON CREATE SET s.started_at = c.props.created_at, s.project_id = c.props.project_id,
                  s.agent = c.props.source
    MERGE (m)-[:BELONGS_TO]->(s))
  FOREACH (tid IN CASE WHEN c.props.task_id IS NULL THEN [] ELSE [c.props.task_id] END |
    MERGE (t:Task {id: tid})
    MERGE (m)-[:FOR_TASK]->(t))
}
WITH c, m, newer
OPTIONAL MATCH (s:Session {id: c.props.session_id}), (p:Project {id: c.props.project_id})
FOREACH (_ IN CASE WHEN newer AND s IS NOT NULL AND p IS NOT NULL THEN [1] ELSE [] END |
  MERGE (s)-[:PART_OF]->(p))
RETURN c.props.id AS memory_id, c.props.event_id AS event_id, newer AS applied,
       elementId(m) AS remote_id, m.sync_version AS head_version, m.event_id AS head_event_id
"""

CHANGES_SINCE = """
MATCH (m:Memory) WHERE m.remote_seq > $cursor
RETURN m {.*} AS m ORDER BY m.remote_seq LIMIT $limit
"""

_EXPORT_WHERE = """
WHERE m.id > $after_id AND m.event_id IS NOT NULL
  AND ($project_id IS NULL OR m.project_id = $project_id)
  AND ($since IS NULL OR m.updated_at >= $since)
  AND ($include_deleted OR m.deleted_at IS NULL)
"""

EXPORT_HEADS = "MATCH (m:Memory)" + _EXPORT_WHERE + "RETURN m {.*} AS m ORDER BY m.id LIMIT $limit"

FINGERPRINTS = (
    "MATCH (m:Memory)"
    + _EXPORT_WHERE
    + "RETURN m.id AS id, m.sync_version AS v, m.content_hash AS h,"
    " m.deleted_at IS NOT NULL AS d ORDER BY m.id"
)

EXPORT_VERSIONS = """
UNWIND $ids AS id
MATCH (:Memory {id: id})-[:HAS_VERSION]->(v:MemoryVersion)
RETURN v {.*} AS v ORDER BY v.memory_id, v.sync_version, v.updated_at, v.event_id
"""

EXPORT_SESSIONS = "MATCH (s:Session) RETURN s {.*} AS s ORDER BY s.id"
EXPORT_PROJECTS = "MATCH (p:Project) RETURN p {.*} AS p ORDER BY p.id"
MEMORY_COUNT = "MATCH (m:Memory) WHERE m.event_id IS NOT NULL RETURN count(m) AS n"
