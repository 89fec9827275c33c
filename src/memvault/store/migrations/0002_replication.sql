-- Replication bookkeeping: the event id of each memory's current version (the last tie-break of
-- last-write-wins), local version history, outbox holds (quarantine), sync state (pull cursor,
-- hold switches) and conflicts.

ALTER TABLE memories ADD COLUMN event_id TEXT;

-- held_reason is set while an entry is quarantined: it stays in the outbox and is not sent.
ALTER TABLE sync_queue ADD COLUMN held_reason TEXT;
CREATE INDEX sync_queue_due ON sync_queue (held_reason, next_retry_at, id);

-- Every version this store has seen of every memory (written locally or recovered).
CREATE TABLE memory_versions (
    memory_id    TEXT NOT NULL,
    sync_version INTEGER NOT NULL,
    event_id     TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    payload      TEXT NOT NULL CHECK (json_valid(payload)),
    PRIMARY KEY (memory_id, sync_version, event_id)
);
CREATE INDEX memory_versions_updated ON memory_versions (updated_at);

CREATE TABLE sync_state (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

CREATE TABLE conflicts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    memory_id   TEXT NOT NULL,
    local       TEXT NOT NULL CHECK (json_valid(local)),
    remote      TEXT NOT NULL CHECK (json_valid(remote)),
    winner      TEXT NOT NULL CHECK (winner IN ('local', 'remote')),
    detected_at TEXT NOT NULL,
    resolved_at TEXT
);
CREATE INDEX conflicts_open ON conflicts (memory_id) WHERE resolved_at IS NULL;
