"""The installed `memvault` console script, run as a subprocess against a store in a temp folder."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

MEMVAULT = Path(sys.executable).with_name("memvault")
# Variables that would point the CLI at the developer's own store or services.
_SCRUBBED = ("MEMVAULT_", "NEO4J_", "OLLAMA_", "N8N_", "ARCHON_", "MEMORY_WEBHOOK_")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cli:
    """Runs the real console script with MEMVAULT_HOME set and no .env in its working folder."""

    home: Path
    cwd: Path
    env: dict[str, str]

    def run(
        self, *args: str, stdin: str | None = None, home: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        env = {**self.env, "MEMVAULT_HOME": str(home or self.home)}
        return subprocess.run(
            [str(MEMVAULT), *args],
            input=stdin if stdin is not None else "",
            capture_output=True,
            text=True,
            cwd=self.cwd,
            env=env,
            timeout=60,
            check=False,
        )

    def ok(self, *args: str, stdin: str | None = None) -> str:
        done = self.run(*args, stdin=stdin)
        assert done.returncode == 0, f"{args} failed: {done.stderr}"
        return done.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))

    def remember(self, *args: str, stdin: str | None = None) -> str:
        return str(UUID(self.ok("remember", *args, stdin=stdin).strip()))

    def counts(self) -> tuple[int, int, int]:
        status = self.json("status")
        return status["total"], status["deleted"], status["pending_sync"]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    assert MEMVAULT.exists(), f"the console script is not installed at {MEMVAULT}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "config")  # no user settings file
    env["COLUMNS"] = "200"  # wide enough that table cells are not folded
    env["OLLAMA_URL"] = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    cwd = tmp_path / "work"
    cwd.mkdir()
    return Cli(home=tmp_path / "home", cwd=cwd, env=env)


def test_remember_then_recall_finds_it(cli: Cli) -> None:
    memory_id = cli.remember(
        "Use uv to manage Python dependencies",
        *("--type", "procedural", "--tags", "python,tooling", "--tags", "build"),
        *("--importance", "0.8", "--project", "memvault", "--session", "s1"),
    )
    cli.remember("Neo4j is the replica", "--project", "memvault")

    text = cli.ok("recall", "dependencies", "--project", "memvault")
    assert memory_id[:8] in text
    assert "Use uv to manage Python" in text
    assert "Neo4j" not in text

    # A plain query is about the working folder's project: "memvault" is another one.
    assert cli.json("recall", "dependencies") == []
    hits = cli.json("recall", "dependencies", "--all-projects")
    assert [hit["rank"] for hit in hits] == [1]
    found = hits[0]["memory"]
    assert found["id"] == memory_id
    assert found["memory_type"] == "procedural"
    assert found["tags"] == ["python", "tooling", "build"]
    assert found["importance"] == 0.8
    assert (found["project_id"], found["session_id"]) == ("memvault", "s1")

    assert cli.json("recall", "dependencies", "--type", "semantic") == []
    assert cli.json("recall", "dependencies", "--project", "other") == []


def test_show_list_forget(cli: Cli) -> None:
    kept = cli.remember("Keep this one", "--project", "a")
    gone = cli.remember("Forget this one", "--project", "b")

    assert "Forget this one" in cli.ok("show", gone)
    assert cli.json("show", gone)["content"] == "Forget this one"
    assert [m["id"] for m in cli.json("list", "--all-projects")] == [gone, kept]
    assert [m["id"] for m in cli.json("list", "--project", "a")] == [kept]
    assert kept[:8] in cli.ok("list", "--all-projects")

    assert cli.ok("forget", gone).strip() == f"forgot {gone}"
    shown = cli.run("show", gone)
    assert shown.returncode == 1
    assert "not found" in shown.stderr
    assert shown.stdout == ""
    assert cli.json("show", gone, "--include-deleted")["deleted_at"] is not None
    assert [m["id"] for m in cli.json("list", "--all-projects")] == [kept]
    assert {m["id"] for m in cli.json("list", "--all-projects", "--include-deleted")} == {
        kept,
        gone,
    }
    assert cli.counts() == (1, 1, 3)  # two creates and one delete wait for the replica

    again = cli.run("forget", gone)
    assert again.returncode == 1
    assert "not found" in again.stderr


def test_tables_print_content_literally(cli: Cli) -> None:
    memory_id = cli.remember("[red]not markup[/red] stays as typed")
    assert "[red]not markup[/red] stays as typed" in cli.ok("show", memory_id)
    assert "[red]not markup[/red]" in cli.ok("list")


def test_status_counts_by_type_and_project(cli: Cli) -> None:
    cli.remember("one", "--type", "episodic", "--project", "a")
    cli.remember("two", "--type", "episodic", "--project", "b")
    cli.remember("three", "--type", "strategic", "--project", "a")

    status = cli.json("status")
    assert status["total"] == 3
    assert status["by_type"] == {"episodic": 2, "strategic": 1}
    assert status["by_project"] == {"a": 2, "b": 1}
    assert status["pending_sync"] == 3
    assert status["store_path"] == str(cli.home / "memvault.db")
    assert status["last_write_at"] is not None

    text = cli.ok("status")
    assert str(cli.home / "memvault.db") in text
    assert "strategic" in text


def test_dash_reads_the_text_from_stdin(cli: Cli) -> None:
    memory_id = cli.remember("-", stdin="written through a pipe\n")
    assert cli.json("show", memory_id)["content"] == "written through a pipe"


def test_since_and_until_take_dates_and_datetimes(cli: Cli) -> None:
    memory_id = cli.remember("dated memory")
    created = datetime.fromisoformat(cli.json("show", memory_id)["created_at"])
    day = created.date()

    def ids(*args: str) -> list[str]:
        return [m["id"] for m in cli.json("list", *args)]

    assert ids("--since", day.isoformat()) == [memory_id]  # a date is midnight UTC
    assert ids("--since", (day + timedelta(days=1)).isoformat()) == []
    assert ids("--until", day.isoformat()) == []
    naive_before = (created - timedelta(minutes=1)).replace(tzinfo=None).isoformat()
    assert ids("--since", naive_before) == [memory_id]  # naive means UTC
    assert ids("--until", (created + timedelta(hours=1)).isoformat()) == [memory_id]


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("remember", ""), None, "content"),
        (("remember", "   "), None, "content must contain more than whitespace"),
        (("remember", "-"), "", "content"),
        (("remember", "x", "--importance", "2"), None, "importance: Input should be less than"),
        (("remember", "x", "--type", "bogus"), None, "--type"),
        (("remember", "x", "--tags", "a,,b"), None, "tags must not be empty"),
        (("remember", "x", "--project", "has space"), None, "--project"),
        (("recall", "x", "--since", "junk"), None, "'junk' is not an ISO 8601 date"),
        (("list", "--until", "31/01/2026"), None, "until"),
        (("list", "--since", "2026-02-01", "--until", "2026-01-01"), None, "since"),
        (("list", "--limit", "0"), None, "limit"),
        (("recall", " "), None, "query"),
        (("show", "not-a-uuid"), None, "'not-a-uuid' is not a valid UUID"),
        (("forget", "not-a-uuid"), None, "'not-a-uuid' is not a valid UUID"),
    ],
)
def test_bad_input_exits_2_names_the_problem_and_changes_nothing(
    cli: Cli, args: tuple[str, ...], stdin: str | None, message: str
) -> None:
    cli.remember("already here")
    before = cli.counts()

    done = cli.run(*args, "--json", stdin=stdin)

    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert done.stderr.startswith("error: ")
    assert done.stdout == ""
    assert cli.counts() == before


def test_unknown_id_exits_1(cli: Cli) -> None:
    done = cli.run("show", "00000000-0000-0000-0000-000000000000")
    assert done.returncode == 1
    assert "memory 00000000-0000-0000-0000-000000000000 not found" in done.stderr


def test_a_store_that_is_not_a_database_is_an_error_not_a_traceback(cli: Cli) -> None:
    cli.home.mkdir(parents=True)
    junk = bytes(range(256)) * 20
    (cli.home / "memvault.db").write_bytes(junk)
    for args in (("status",), ("remember", "kept?")):
        done = cli.run(*args)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error: cannot open the store")
        assert "not a database" in done.stderr
        assert "Traceback" not in done.stderr
    assert (cli.home / "memvault.db").read_bytes() == junk


def test_home_option_overrides_memvault_home(cli: Cli, tmp_path: Path) -> None:
    other = tmp_path / "other"
    cli.ok("--home", str(other), "remember", "elsewhere")
    assert json.loads(cli.ok("--home", str(other), "status", "--json"))["total"] == 1
    assert cli.counts() == (0, 0, 0)


def test_doctor_reports_each_check_and_fails_without_the_replica(cli: Cli) -> None:
    cli.remember("something to count")

    done = cli.run("doctor", "--json")

    assert done.returncode == 1  # Neo4j is required and NEO4J_PASSWORD is unset
    report = json.loads(done.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    assert report["ok"] is False
    assert list(checks) == ["local store", "neo4j", "ollama", "embeddings", "n8n", "archon"]
    assert checks["local store"]["ok"] is True
    assert "1 memories" in checks["local store"]["detail"]
    assert checks["neo4j"] | {"latency_ms": None} == {
        "name": "neo4j",
        "ok": False,
        "required": True,
        "detail": "NEO4J_PASSWORD is not set",
        "hint": "set NEO4J_PASSWORD in the environment or .env",
        "latency_ms": None,
    }
    assert checks["ollama"]["ok"] is False
    assert checks["ollama"]["required"] is False
    assert "unreachable" in checks["ollama"]["detail"]
    # The default provider is the bundled model: it embeds a probe offline.
    assert checks["embeddings"]["ok"] is True
    assert checks["embeddings"]["required"] is False
    assert checks["embeddings"]["detail"] == "local · all-MiniLM-L6-v2-int8 · 384 dimensions"
    assert checks["n8n"]["detail"].startswith("not configured")

    table = cli.run("doctor")
    assert table.returncode == 1
    assert "✘" in table.stdout
    assert "required checks failed: neo4j" in table.stdout


def test_doctor_does_not_create_a_missing_store(cli: Cli) -> None:
    report = json.loads(cli.run("doctor", "--json").stdout)
    store = report["checks"][0]
    assert store["ok"] is False
    assert "no store at" in store["detail"]
    assert not (cli.home / "memvault.db").exists()


def test_python_dash_m_runs_the_same_cli(cli: Cli) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "memvault", "status", "--json"],
        capture_output=True,
        text=True,
        cwd=cli.cwd,
        env={**cli.env, "MEMVAULT_HOME": str(cli.home)},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total"] == 0


def test_the_cli_loads_no_web_stack_driver_or_rich_at_import(cli: Cli) -> None:
    heavy = ("fastapi", "uvicorn", "neo4j", "httpx", "rich")
    probe = f"import sys, memvault.cli; print(','.join(m for m in {heavy!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert done.stdout.strip() == ""


@pytest.fixture
def served(cli: Cli) -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [str(MEMVAULT), "serve", "--port", str(port)],
        cwd=cli.cwd,
        env={**cli.env, "MEMVAULT_HOME": str(cli.home)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/health", timeout=2):  # noqa: S310
                    break
            except OSError:
                assert process.poll() is None, "memvault serve exited"
                if time.monotonic() > deadline:
                    raise AssertionError("memvault serve did not answer within 30 s") from None
                time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_serve_listens_on_the_given_port_over_the_same_store(cli: Cli, served: str) -> None:
    cli.remember("visible to the server")
    with urllib.request.urlopen(f"{served}/api/stats", timeout=5) as response:  # noqa: S310
        assert json.loads(response.read())["total"] == 1
