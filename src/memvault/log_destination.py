"""Where a process's JSON log lines go when they are first written: MEMVAULT_LOG_LEVEL and
MEMVAULT_LOG_FILE, remembered here by the CLI without importing structlog (which its start-up
avoids); `memvault.sync.audit` configures logging from them on the first line."""

from __future__ import annotations

TYPE_CHECKING = False  # typing stays unimported, as on the CLI's other start-up paths
if TYPE_CHECKING:
    from pathlib import Path

level = "INFO"
file: Path | None = None


def choose(log_level: str, log_file: Path | None) -> None:
    """Use this level and file (None: stderr) for the lines this process writes."""
    global level, file
    level, file = log_level, log_file
