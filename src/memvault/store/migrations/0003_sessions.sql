-- Sessions as first-class context: when each was last active (the idle timeout ends it), the
-- session before it in its project (the FOLLOWED_BY chain), and a revision counter per session
-- and project so changes to them (an end, a summary, a name) replicate like memories do:
-- a row whose revision is ahead of synced_revision waits to be sent.

ALTER TABLE sessions ADD COLUMN last_active_at TEXT;
ALTER TABLE sessions ADD COLUMN previous_id TEXT;
ALTER TABLE sessions ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE sessions ADD COLUMN synced_revision INTEGER NOT NULL DEFAULT 0;
ALTER TABLE projects ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE projects ADD COLUMN synced_revision INTEGER NOT NULL DEFAULT 0;

UPDATE sessions SET last_active_at = coalesce(
    (SELECT max(m.updated_at) FROM memories m WHERE m.session_id = sessions.id), started_at);
-- Chain the sessions that exist: each follows its project's latest session started before it.
UPDATE sessions SET previous_id = (
    SELECT p.id FROM sessions p
    WHERE p.project_id IS sessions.project_id AND p.id != sessions.id
      AND (p.started_at, p.id) < (sessions.started_at, sessions.id)
    ORDER BY p.started_at DESC, p.id DESC LIMIT 1);

CREATE INDEX sessions_open ON sessions (ended_at, last_active_at);
CREATE INDEX memories_scope ON memories (scope) WHERE scope = 'global';

-- A counter bumped by every change to what the in-memory vector index holds (a memory with an
-- embedding added or removed, its vector, model, tombstone or a column filters test), so the
-- index of any process knows when to reload with one tiny read.
CREATE TABLE vector_state (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO vector_state (id, generation) VALUES (1, 0);
CREATE TRIGGER memories_vector_insert AFTER INSERT ON memories
WHEN new.embedding IS NOT NULL BEGIN
    UPDATE vector_state SET generation = generation + 1 WHERE id = 1;
END;
-- Every write rewrites the whole row, so the trigger compares what the vector index holds.
CREATE TRIGGER memories_vector_update AFTER UPDATE ON memories
WHEN (old.embedding IS NOT NULL OR new.embedding IS NOT NULL) AND (
    old.embedding IS NOT new.embedding OR old.embedding_model IS NOT new.embedding_model
    OR old.deleted_at IS NOT new.deleted_at OR old.project_id IS NOT new.project_id
    OR old.scope IS NOT new.scope OR old.memory_type IS NOT new.memory_type
    OR old.session_id IS NOT new.session_id OR old.created_at IS NOT new.created_at)
BEGIN
    UPDATE vector_state SET generation = generation + 1 WHERE id = 1;
END;
CREATE TRIGGER memories_vector_delete AFTER DELETE ON memories
WHEN old.embedding IS NOT NULL BEGIN
    UPDATE vector_state SET generation = generation + 1 WHERE id = 1;
END;
