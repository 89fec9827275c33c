"""Store migrations: applied once, recorded, refused when the file is newer than the code."""

from __future__ import annotations

import sqlite3
from collections import Counter
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from memvault.errors import StoreError
from memvault.store import LocalStore
from memvault.store.connection import connect
from memvault.store.migrate import available_migrations, migrate

from .processes import run_together

EXPECTED_TABLES = {
    "schema_migrations",
    "projects",
    "sessions",
    "memories",
    "memories_fts",
    "sync_queue",
    "sync_events",
}


def recorded(path: Path) -> list[tuple[int, str, str]]:
    with closing(sqlite3.connect(path)) as conn:
        return conn.execute(
            "SELECT version, name, applied_at FROM schema_migrations ORDER BY version"
        ).fetchall()


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [m.version for m in available_migrations()]
    assert versions == list(range(1, len(versions) + 1))
    assert all(m.name and m.sql.strip() for m in available_migrations())


def test_empty_file_gets_every_migration_recorded(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "store.db"
    with closing(connect(path)) as conn:
        applied = migrate(conn)
    assert [m.version for m in applied] == [m.version for m in available_migrations()]
    rows = recorded(path)
    assert [(v, n) for v, n, _ in rows] == [(m.version, m.name) for m in available_migrations()]
    for _, _, applied_at in rows:
        assert datetime.fromisoformat(applied_at).tzinfo is not None
    with closing(sqlite3.connect(path)) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
    assert names >= EXPECTED_TABLES


def test_running_again_applies_nothing(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    LocalStore.open(path).close()
    before = recorded(path)
    with closing(connect(path)) as conn:
        assert migrate(conn) == []
    LocalStore.open(path).close()
    assert recorded(path) == before


def test_store_file_is_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    LocalStore.open(path).close()
    # journal_mode=wal persists in the file, so a plain connection sees it too.
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_newer_schema_is_refused_with_advice_to_upgrade(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    LocalStore.open(path).close()
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO schema_migrations VALUES (9999, 'from_the_future', '2030-01-01T00:00Z')"
        )
    before = recorded(path)
    with pytest.raises(StoreError, match="upgrade memvault") as caught:
        LocalStore.open(path)
    assert "9999" in str(caught.value)
    assert recorded(path) == before


FRESH_FILES = 60
WORKERS = 6

OPEN_AND_MIGRATE = """
import sys
from pathlib import Path
from memvault.store.connection import connect
from memvault.store.migrate import migrate

folder = Path(sys.argv[1])
print("ready", flush=True)
for i, _ in enumerate(sys.stdin):
    conn = connect(folder / f"fresh{i}.db")
    print("applied", *(m.version for m in migrate(conn)), flush=True)
    conn.close()
"""


def test_processes_opening_fresh_files_together_all_succeed(tmp_path: Path) -> None:
    # In each round every worker opens the same fresh file at the same moment, racing on
    # switching it to WAL and on applying each migration; all must succeed, each migration once.
    lines = run_together(OPEN_AND_MIGRATE, [[str(tmp_path)]] * WORKERS, rounds=FRESH_FILES)

    expected = [m.version for m in available_migrations()]
    for index in range(FRESH_FILES):
        applied = Counter(int(version) for worker in lines for version in worker[index].split()[1:])
        assert applied == Counter(expected), f"fresh{index}.db: {applied}"
        assert [v for v, _, _ in recorded(tmp_path / f"fresh{index}.db")] == expected
