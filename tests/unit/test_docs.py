"""The docs keep up with the code: every command, setting, route and named path is documented."""

from __future__ import annotations

import asyncio
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
import typer

from memvault.api import create_app
from memvault.cli import app as cli_app
from memvault.config import Settings
from memvault.mcp_server import build_mcp_server
from memvault.service import MemoryService
from memvault.store import LocalStore

REPO = Path(__file__).resolve().parents[2]
README = (REPO / "README.md").read_text(encoding="utf-8")
ENV_EXAMPLE = (REPO / ".env.example").read_text(encoding="utf-8")


def _command_paths(group: Any, prefix: str = "memvault") -> list[str]:
    paths = []
    for name, command in group.commands.items():
        path = f"{prefix} {name}"
        if hasattr(command, "commands"):  # a group (typer ships its own click)
            paths.extend(_command_paths(command, path))
        else:
            paths.append(path)
    return paths


def _setting_names() -> list[str]:
    names = []
    for field in Settings.model_fields.values():
        alias = field.validation_alias
        choices = getattr(alias, "choices", None)
        assert choices, "every setting is read from a named environment variable"
        names.append(str(choices[0]))
    return names


def test_every_cli_command_is_in_the_readme() -> None:
    commands = _command_paths(typer.main.get_command(cli_app))
    assert "memvault neo4j init-schema" in commands
    for path in commands:
        group, _, leaf = path.rpartition(" ")
        # "memvault neo4j start / stop / status" documents three commands of one group.
        documented = path in README or re.search(
            rf"`{re.escape(group)} [^`]*`[^|]*`{re.escape(leaf)}`", README
        )
        assert documented, f"`{path}` is not documented in README.md"


@pytest.mark.parametrize("name", _setting_names())
def test_every_setting_is_documented(name: str) -> None:
    assert f"`{name}`" in README, f"{name} is missing from the README's configuration table"
    assert re.search(rf"^{name}=", ENV_EXAMPLE, re.MULTILINE), f"{name} missing in .env.example"


def test_every_api_route_is_in_the_readme() -> None:
    app = create_app(Settings(_env_file=None, home=Path(tempfile.mkdtemp())))  # type: ignore[call-arg]
    for path, operations in app.openapi()["paths"].items():
        readme_path = path.replace("{memory_id}", "{id}")
        for method in operations:
            assert f"{method.upper()} {readme_path}" in README, f"{method} {path} undocumented"


def test_every_path_the_readme_names_exists() -> None:
    named = set(re.findall(r"\]\(([^)#:]+)\)", README))  # markdown links to files
    named |= {
        match
        for match in re.findall(r"`((?:src|tools|tests|docs|bench|\.ci)/[^`\s]*)`", README)
        if "{" not in match
    }
    named |= {".env.example", "Makefile", ".ci/run"}
    assert named
    for relative in sorted(named):
        assert (REPO / relative).exists(), f"README names {relative}, which does not exist"


def test_every_mcp_tool_is_in_the_readme() -> None:
    store = LocalStore.open(Path(tempfile.mkdtemp()) / "memvault.db")
    try:
        server = build_mcp_server(MemoryService(store))
        names = [tool.name for tool in asyncio.run(server.list_tools())]
    finally:
        store.close()
    assert "session_context" in names
    for name in names:
        assert f"`{name}`" in README, f"MCP tool {name} is not documented in README.md"
