-- Destruction alerts: what fired, the evidence, who was responsible when known, and the state a
-- person moved it to. `synced` / `notified` mark delivery to the replica (an audit record) and
-- to n8n (a signed event), each retried until done.

CREATE TABLE alerts (
    id          TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL DEFAULT 'open'
                CHECK (state IN ('open', 'acknowledged', 'reverted', 'resolved')),
    evidence    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(evidence)),
    agent       TEXT,
    session_id  TEXT,
    tool        TEXT,
    created_at  TEXT NOT NULL,
    closed_at   TEXT,
    synced      INTEGER NOT NULL DEFAULT 0,
    notified    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX alerts_open ON alerts (state, kind);
CREATE INDEX alerts_created ON alerts (created_at);
-- Deletes wait out the burst window before they may replicate (quarantine needs them here).
CREATE INDEX sync_queue_operation_created ON sync_queue (operation, created_at);
