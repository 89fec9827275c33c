-- The local store's first schema: memories with sync bookkeeping and tombstones, the outbox,
-- the sync audit trail, sessions, projects, and an FTS5 index over content and tags.

CREATE TABLE projects (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    description TEXT,
    created_at  TEXT NOT NULL
);

CREATE TABLE sessions (
    id           TEXT PRIMARY KEY,
    project_id   TEXT REFERENCES projects (id),
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    summary      TEXT,
    memory_count INTEGER NOT NULL DEFAULT 0,
    agent        TEXT
);
CREATE INDEX sessions_project_started ON sessions (project_id, started_at);

-- seq is an explicit INTEGER PRIMARY KEY so the FTS index's rowids survive VACUUM.
CREATE TABLE memories (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    content         TEXT NOT NULL CHECK (length(content) BETWEEN 1 AND 50000),
    memory_type     TEXT NOT NULL
                    CHECK (memory_type IN ('episodic', 'semantic', 'procedural', 'strategic')),
    importance      REAL NOT NULL DEFAULT 0.5 CHECK (importance BETWEEN 0 AND 1),
    tags            TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(tags)),
    project_id      TEXT REFERENCES projects (id),
    session_id      TEXT REFERENCES sessions (id),
    task_id         TEXT,
    scope           TEXT NOT NULL DEFAULT 'project' CHECK (scope IN ('project', 'global')),
    source          TEXT,
    created_at      TEXT NOT NULL,
    updated_at      TEXT NOT NULL,
    deleted_at      TEXT,
    sync_version    INTEGER NOT NULL DEFAULT 1 CHECK (sync_version >= 1),
    sync_status     TEXT NOT NULL DEFAULT 'pending'
                    CHECK (sync_status IN ('pending', 'synced', 'failed', 'queued', 'conflict')),
    synced_at       TEXT,
    remote_id       TEXT,
    content_hash    TEXT NOT NULL,
    embedding       BLOB,
    embedding_model TEXT,
    embedding_dim   INTEGER
);
CREATE INDEX memories_project_created ON memories (project_id, created_at);
CREATE INDEX memories_session ON memories (session_id);
CREATE INDEX memories_type ON memories (memory_type);
CREATE INDEX memories_created ON memories (created_at);
CREATE INDEX memories_sync_status ON memories (sync_status);

CREATE VIRTUAL TABLE memories_fts USING fts5 (
    content, tags, content = 'memories', content_rowid = 'seq', tokenize = 'porter unicode61'
);
CREATE TRIGGER memories_fts_insert AFTER INSERT ON memories BEGIN
    INSERT INTO memories_fts (rowid, content, tags) VALUES (new.seq, new.content, new.tags);
END;
CREATE TRIGGER memories_fts_delete AFTER DELETE ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags)
    VALUES ('delete', old.seq, old.content, old.tags);
END;
CREATE TRIGGER memories_fts_update AFTER UPDATE OF content, tags ON memories BEGIN
    INSERT INTO memories_fts (memories_fts, rowid, content, tags)
    VALUES ('delete', old.seq, old.content, old.tags);
    INSERT INTO memories_fts (rowid, content, tags) VALUES (new.seq, new.content, new.tags);
END;

-- The outbox. id orders the drain; event_id makes every change identifiable end to end.
CREATE TABLE sync_queue (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    event_id      TEXT NOT NULL UNIQUE,
    memory_id     TEXT NOT NULL,
    operation     TEXT NOT NULL CHECK (operation IN ('create', 'update', 'delete')),
    sync_version  INTEGER NOT NULL CHECK (sync_version >= 1),
    payload       TEXT NOT NULL CHECK (json_valid(payload)),
    created_at    TEXT NOT NULL,
    retry_count   INTEGER NOT NULL DEFAULT 0,
    next_retry_at TEXT,
    last_error    TEXT
);
CREATE INDEX sync_queue_memory ON sync_queue (memory_id);

CREATE TABLE sync_events (
    id          TEXT PRIMARY KEY,
    direction   TEXT NOT NULL CHECK (direction IN ('local_to_remote', 'remote_to_local')),
    result      TEXT NOT NULL CHECK (result IN ('success', 'failed', 'partial', 'queued')),
    count       INTEGER NOT NULL,
    memory_ids  TEXT NOT NULL DEFAULT '[]',
    duration_ms REAL NOT NULL,
    retries     INTEGER NOT NULL DEFAULT 0,
    error       TEXT,
    created_at  TEXT NOT NULL
);
CREATE INDEX sync_events_created ON sync_events (created_at);
