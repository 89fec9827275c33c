"""Where settings come from: the environment, then `.env` in the working folder, then the user's
settings file — the one a hook or MCP server started in any project folder still finds."""

from __future__ import annotations

from pathlib import Path

import pytest

from memvault.config import load_settings
from memvault.paths import configured_folder, user_env_file


@pytest.fixture
def user_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    for name in ("MEMVAULT_HOME", "NEO4J_PASSWORD", "NEO4J_URI", "MEMVAULT_PORT"):
        monkeypatch.delenv(name, raising=False)
    work = tmp_path / "project"
    work.mkdir()
    monkeypatch.chdir(work)  # a project folder without a .env of its own
    path = Path(user_env_file())
    path.parent.mkdir(parents=True)
    path.write_text(
        "NEO4J_PASSWORD=from-user-file\nMEMVAULT_HOME=/srv/memvault\nMEMVAULT_PORT=9001\n"
    )
    return path


def test_the_user_file_is_read_from_any_folder(user_file: Path, tmp_path: Path) -> None:
    assert user_file == tmp_path / "config" / "memvault" / "memvault.env"

    settings = load_settings()

    assert settings.neo4j_password is not None
    assert settings.neo4j_password.get_secret_value() == "from-user-file"
    assert settings.home == Path("/srv/memvault")
    assert settings.port == 9001
    # The guard finds the same store without pydantic.
    assert configured_folder({}, str(Path.cwd())) == "/srv/memvault"


def test_the_folder_env_and_the_environment_win(
    user_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path(".env").write_text("MEMVAULT_PORT=9002\nMEMVAULT_HOME=/from/dotenv\n")
    monkeypatch.setenv("NEO4J_PASSWORD", "from-environment")

    settings = load_settings()

    assert settings.port == 9002
    assert settings.home == Path("/from/dotenv")
    assert settings.neo4j_password is not None
    assert settings.neo4j_password.get_secret_value() == "from-environment"
    assert configured_folder({}, str(Path.cwd())) == "/from/dotenv"
    assert configured_folder({"MEMVAULT_HOME": "/env"}, str(Path.cwd())) == "/env"
