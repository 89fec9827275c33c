"""Settings, read from the environment or a `.env` file; nothing is read at import time."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from memvault.paths import default_home, user_env_file

DEFAULT_PORT = 8765
MAX_BODY_BYTES = 1024 * 1024  # the API refuses larger request bodies with 413


def _env(name: str) -> AliasChoices:
    return AliasChoices(name)


class Settings(BaseSettings):
    """Every setting memvault reads. `.env.example` documents each one."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        env_ignore_empty=True,  # `MEMVAULT_HOME=` in .env means "use the default"
        # Field names ("home", "port") stay usable as overrides in code; case sensitivity keeps
        # them from being read out of unrelated variables such as $HOME.
        populate_by_name=True,
        case_sensitive=True,
    )

    home: Path = Field(default_factory=default_home, validation_alias=_env("MEMVAULT_HOME"))
    host: str = Field(default="127.0.0.1", validation_alias=_env("MEMVAULT_HOST"))
    port: int = Field(default=DEFAULT_PORT, ge=1, le=65535, validation_alias=_env("MEMVAULT_PORT"))
    api_token: SecretStr | None = Field(default=None, validation_alias=_env("MEMVAULT_API_TOKEN"))
    project: str | None = Field(default=None, validation_alias=_env("MEMVAULT_PROJECT"))
    log_level: str = Field(default="INFO", validation_alias=_env("MEMVAULT_LOG_LEVEL"))
    # Where the JSON log lines go: appended to this file, or to stderr when unset.
    log_file: Path | None = Field(default=None, validation_alias=_env("MEMVAULT_LOG_FILE"))
    # Never mirror emptiness: a missing, empty or schema-less store is rebuilt from the replica
    # at start when the replica holds memories.
    auto_recover: bool = Field(default=True, validation_alias=_env("MEMVAULT_AUTO_RECOVER"))
    # A session with no activity for this long ends by itself (at its last activity).
    session_idle_minutes: float = Field(
        default=30, gt=0, validation_alias=_env("MEMVAULT_SESSION_IDLE_MINUTES")
    )
    # Destruction detection: more than COUNT deletes within SECONDS is a burst, and deletes wait
    # SECONDS before they replicate so a burst is held whole.
    delete_burst_count: int = Field(
        default=10, ge=1, validation_alias=_env("MEMVAULT_DELETE_BURST_COUNT")
    )
    delete_burst_seconds: float = Field(
        default=60, gt=0, validation_alias=_env("MEMVAULT_DELETE_BURST_SECONDS")
    )
    mass_update_ratio: float = Field(
        default=0.5, gt=0, le=1, validation_alias=_env("MEMVAULT_MASS_UPDATE_RATIO")
    )
    below_remote_ratio: float = Field(
        default=0.5, gt=0, le=1, validation_alias=_env("MEMVAULT_BELOW_REMOTE_RATIO")
    )
    session_file_override: Path | None = Field(
        default=None, validation_alias=_env("MEMVAULT_SESSION_FILE")
    )

    neo4j_uri: str = Field(default="bolt://127.0.0.1:7687", validation_alias=_env("NEO4J_URI"))
    neo4j_user: str = Field(default="neo4j", validation_alias=_env("NEO4J_USER"))
    neo4j_password: SecretStr | None = Field(default=None, validation_alias=_env("NEO4J_PASSWORD"))
    neo4j_database: str = Field(default="neo4j", validation_alias=_env("NEO4J_DATABASE"))
    neo4j_launcher: Path | None = Field(
        default=None, validation_alias=_env("MEMVAULT_NEO4J_LAUNCHER")
    )
    # Which provider embeds memories: the bundled offline model, an Ollama server, or none
    # (keyword recall only).
    embeddings: Literal["local", "ollama", "none"] = Field(
        default="local", validation_alias=_env("MEMVAULT_EMBEDDINGS")
    )
    # None: the active embedding model's dimension (384 for the local model).
    vector_dimensions: int | None = Field(
        default=None, ge=1, le=4096, validation_alias=_env("MEMVAULT_VECTOR_DIMENSIONS")
    )

    webhook_token: SecretStr | None = Field(
        default=None, validation_alias=_env("MEMORY_WEBHOOK_TOKEN")
    )
    ollama_url: str = Field(default="http://127.0.0.1:11434", validation_alias=_env("OLLAMA_URL"))
    ollama_embed_model: str = Field(
        default="nomic-embed-text", validation_alias=_env("OLLAMA_EMBED_MODEL")
    )
    n8n_webhook_url: str | None = Field(default=None, validation_alias=_env("N8N_WEBHOOK_URL"))
    archon_mcp_url: str | None = Field(default=None, validation_alias=_env("ARCHON_MCP_URL"))

    @field_validator("ollama_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        # Checked here so a typo is a clear settings error, not a traceback at the first write.
        parts = urlsplit(value)
        try:
            parts.port  # noqa: B018 - raises ValueError on a port that is not a number
        except ValueError:
            raise ValueError(f"{value!r} has an invalid port") from None
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"{value!r} is not an http(s) URL such as http://127.0.0.1:11434")
        return value

    @property
    def store_path(self) -> Path:
        """The SQLite file of the local store."""
        return self.home / "memvault.db"

    @property
    def session_file(self) -> Path:
        """The file naming the current session (the `.claude-session-id` convention)."""
        return self.session_file_override or self.home / ".claude-session-id"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment, `.env` in the working folder and the user's
    settings file (`~/.config/memvault/memvault.env`), in that order of precedence, with
    explicit overrides on top."""
    env_files = (Path(user_env_file()), Path(".env"))  # a later file wins over an earlier one
    return Settings(_env_file=env_files, **overrides)  # type: ignore[arg-type]
