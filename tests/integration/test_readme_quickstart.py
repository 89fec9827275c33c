"""The README's quickstart, run as written: its commands against a real `memvault serve` + Neo4j.

The story: a user has run `make run` and, in another terminal, types the quickstart's commands.
1. `memvault remember …` stores the JWT decision in project `shop` and prints its id.
2. both `memvault recall …` commands find it (the `--json` one as parseable JSON).
3. `memvault status` shows the counts; `memvault doctor` passes (Neo4j up, extras absent).
4. the `curl` POST creates a memory through the HTTP API (201, JSON with an id).
5. the replica (Neo4j) ends up holding both memories.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from uuid import UUID

import pytest

from polling import wait_for

from .memvault_server import MEMVAULT, MemvaultServer
from .neo4j_server import query

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
README_URL = "http://127.0.0.1:8765"  # where `make run` serves; the test server has its own port
CURL_STATUS = "\n%{http_code}"  # appended to curl's output by the test, see `_run`


def section(markdown: str, heading: str) -> str:
    """The text of one `## ` section, up to the next heading of the same or a higher level."""
    match = re.search(rf"^## {re.escape(heading)}\s*$(.*?)(?=^#{{1,2}} |\Z)", markdown, re.M | re.S)
    assert match, f"README.md has no '## {heading}' section"
    return match.group(1)


def sh_blocks(text: str) -> list[tuple[int, str]]:
    """Every ```sh fenced block: (offset of its opening fence, its body)."""
    return [
        (match.start(), match.group(1))
        for match in re.finditer(r"^```sh[ \t]*\n(.*?)^```[ \t]*$", text, re.M | re.S)
    ]


def shell_commands(block: str) -> list[str]:
    """The commands of a shell snippet as bash reads them: `\\`-newline joins lines, `#` at the
    start of a word outside quotes starts a comment, quotes keep both literal."""
    commands: list[str] = []
    current = ""
    quote: str | None = None
    i = 0
    while i < len(block):
        char = block[i]
        if quote == "'":  # nothing is special inside single quotes
            current += char
            quote = None if char == "'" else quote
        elif char == "\\" and i + 1 < len(block):
            if block[i + 1] != "\n":
                current += block[i : i + 2]
            i += 2
            continue
        elif quote == '"':
            current += char
            quote = None if char == '"' else quote
        elif char in "'\"":
            current += char
            quote = char
        elif char == "#" and (not current or current[-1].isspace()):
            while i < len(block) and block[i] != "\n":
                i += 1
            continue
        elif char == "\n":
            commands.append(current.strip())
            current = ""
        else:
            current += char
        i += 1
    assert quote is None, f"unbalanced {quote} in:\n{block}"
    commands.append(current.strip())
    return [command for command in commands if command]


def quickstart_blocks() -> tuple[list[str], list[str]]:
    """The quickstart's two snippets: the `make` commands, and the ones typed "in another
    terminal" (the first sh block after that phrase)."""
    text = section(README, "Quickstart")
    blocks = sh_blocks(text)
    assert blocks, "the Quickstart has no ```sh block"
    then = text.find("Then, in another terminal")
    assert then >= 0, "the Quickstart no longer says 'Then, in another terminal'"
    later = [body for start, body in blocks if start > then]
    assert later, "no ```sh block follows 'Then, in another terminal'"
    return shell_commands(blocks[0][1]), shell_commands(later[0])


# -- the parsing and the setup commands, without servers -----------------------------------


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('echo "a # b" # c\n', ['echo "a # b"']),
        ("echo 'it''s # x'   # note\nls\n", ["echo 'it''s # x'", "ls"]),
        ("curl -d '{\"k\": 1}' \\\n     -s  # why\n", ["curl -d '{\"k\": 1}'      -s"]),
        ('echo a#b "x\\"#y"\n# only a comment\n\n', ['echo a#b "x\\"#y"']),
    ],
)
def test_shell_commands_strip_comments_and_join_lines(snippet: str, expected: list[str]) -> None:
    assert shell_commands(snippet) == expected


def test_the_quickstart_is_make_run_and_make_test_and_ci_runs_make_test() -> None:
    setup, _ = quickstart_blocks()
    assert setup == ["make run", "make test"]
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    assert re.search(r"^run:", makefile, re.M)
    assert re.search(r"^test:", makefile, re.M)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    steps = [line for line in shell_commands(ci) if not line.startswith(("set ", "cd "))]
    assert steps == ["exec make test"], f".ci/run should run exactly `make test`, runs {steps}"


# -- the commands of "Then, in another terminal", against real servers ---------------------


def _run(command: str, server: MemvaultServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    """One README command under bash, as the user's terminal would run it."""
    # The README talks to `make run`'s port; the test server listens on a free one.
    command = command.replace(README_URL, server.url)
    if command.startswith("curl "):
        # Output only: curl also prints the status code, so the test can check the 201.
        command += f" -w '{CURL_STATUS}'"
    env = server.env()  # MEMVAULT_HOME, NEO4J_* of the running server
    env["PATH"] = f"{MEMVAULT.parent}:{env['PATH']}"  # `memvault` is the venv's console script
    return subprocess.run(
        ["bash", "-c", command],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_readme_quickstart_commands(memvault_server: MemvaultServer, tmp_path: Path) -> None:
    _, commands = quickstart_blocks()
    programs = [command.split()[0] for command in commands]
    assert programs == ["memvault"] * 5 + ["curl"], f"the quickstart changed: {commands}"
    assert README_URL in commands[-1]
    assert shutil.which("curl"), "the quickstart's last command needs curl"
    work = tmp_path / "terminal"
    work.mkdir()
    # Not inside any git repository, so the project comes from the folder or the commands.
    assert not any((folder / ".git").exists() for folder in (work, *work.parents))

    outputs: list[str] = []
    for command in commands:
        done = _run(command, memvault_server, work)
        assert done.returncode == 0, (
            f"`{command}` exited {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        )
        outputs.append(done.stdout)
    remembered, recalled, recalled_json, status, doctor, posted = outputs

    # 1. `remember` prints the new memory's id.
    memory_id = str(UUID(remembered.strip()))

    # 2. Both recalls find it; the JSON one parses and names it first.
    assert "JWT" in recalled, f"`{commands[1]}` did not find the memory:\n{recalled}"
    hits = json.loads(recalled_json)
    assert hits, f"`{commands[2]}` found nothing"
    assert hits[0]["memory"]["id"] == memory_id
    assert "JWT with 15-minute access tokens" in hits[0]["memory"]["content"]
    assert hits[0]["memory"]["project_id"] == "shop"

    # 3. Status counts the memory, by type and project; doctor passed (exit 0 above).
    for label in ("memories", "strategic", "shop"):  # the total, by type, by project
        assert re.search(rf"^\s*{label}[\s│]+1\s*$", status, re.M), status
    assert re.search(r"^\s*✔[\s│]+neo4j\b", doctor, re.M), doctor
    assert "all required checks passed" in doctor, doctor

    # 4. The curl POST created a memory: 201 and the memory as JSON.
    body, _, code = posted.rpartition("\n")
    assert code == "201", posted
    created = json.loads(body)
    created_id = str(UUID(created["id"]))
    assert created["content"] == "Retry Neo4j writes with full-jitter backoff"
    assert created["memory_type"] == "procedural"

    # 5. The replica holds both memories, replicated by the running server.
    settings = memvault_server.neo4j.settings(tmp_path)

    def replicated() -> bool:
        rows = query(
            settings,
            "MATCH (m:Memory) WHERE m.id IN $ids RETURN m.id AS id, m.content AS content",
            ids=[memory_id, created_id],
        )
        return {row["id"] for row in rows} == {memory_id, created_id}

    wait_for(replicated, "both quickstart memories to reach Neo4j")
