"""Named, ordered, recorded, transactional migrations of the local store."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from memvault.errors import StoreError
from memvault.models import utc_now

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    """The migrations shipped with this version of memvault, in order."""
    found = []
    for entry in resources.files("memvault.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    return found


def applied_versions(conn: sqlite3.Connection) -> list[int]:
    """Versions recorded in the store, or [] for a store without a migrations table."""
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return []
    return [row[0] for row in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]


def migrate(conn: sqlite3.Connection) -> list[Migration]:
    """Apply every pending migration, each in its own transaction; return the ones applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
    )
    migrations = available_migrations()
    known = {m.version for m in migrations}
    newer = [v for v in applied_versions(conn) if v not in known]
    if newer:
        raise StoreError(
            f"the store has schema version {max(newer)}, newer than this memvault knows; "
            "upgrade memvault"
        )
    applied = []
    for migration in migrations:
        # Each process re-checks inside its write lock, so two starting at once apply it once.
        conn.execute("BEGIN IMMEDIATE")
        try:
            done = conn.execute(
                "SELECT 1 FROM schema_migrations WHERE version = ?", (migration.version,)
            ).fetchone()
            if not done:
                for statement in _statements(migration.sql):
                    conn.execute(statement)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, utc_now().isoformat()),
                )
                applied.append(migration)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
    return applied


def _statements(script: str) -> list[str]:
    """Split a migration script into complete statements (triggers contain inner semicolons)."""
    statements, current = [], ""
    for line in script.splitlines(keepends=True):
        if line.lstrip().startswith("--") and not current.strip():
            continue
        current += line
        if sqlite3.complete_statement(current):
            statements.append(current.strip())
            current = ""
    if current.strip():
        raise StoreError(f"incomplete SQL statement in migration: {current.strip()[:80]}")
    return statements
