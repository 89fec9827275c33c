"""Where memvault keeps its data, decided with the standard library alone.

`memvault guard` runs before every shell command an agent issues, so it cannot afford to import
pydantic to learn where the store is; `config.Settings` and the guard share these functions.
They work on strings (importing pathlib alone costs the guard ~4 ms); `default_home()` gives
Settings its Path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

TYPE_CHECKING = False  # typing and pathlib stay unimported on the guard's path
if TYPE_CHECKING:
    from pathlib import Path

STORE_FILE = "memvault.db"
# SQLite's companions of a database file: losing one of them loses committed transactions.
STORE_SIBLING_SUFFIXES = ("-wal", "-shm", "-journal")


def default_folder() -> str:
    """The data folder when MEMVAULT_HOME is not set: `$XDG_DATA_HOME/memvault`."""
    xdg = os.environ.get("XDG_DATA_HOME")
    base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "memvault")


def default_home() -> Path:
    """`default_folder()` as a Path (Settings' default for `home`)."""
    from pathlib import Path

    return Path(default_folder())


_DOTENV_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _dotenv_value(path: str, name: str, environ: Mapping[str, str]) -> str | None:
    # The subset of .env syntax pydantic-settings (python-dotenv) reads for a plain path:
    # `[export ]NAME=value`, optionally quoted, `#` comments, `${VAR}` / `${VAR:-default}` from
    # the environment outside single quotes. The last assignment wins, as it does there.
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    found = None
    for line in lines:
        text = line.strip()
        if text.startswith("export "):
            text = text[len("export ") :].lstrip()
        key, sep, value = text.partition("=")
        if not sep or key.strip() != name:
            continue
        value = value.strip()
        quote = value[:1]
        if quote in ("'", '"') and value.endswith(quote) and len(value) > 1:
            value = value[1:-1]
        else:
            value = value.split(" #", 1)[0].strip()
        if quote != "'":
            value = _DOTENV_VARIABLE.sub(
                lambda m: environ.get(m.group(1)) or m.group(2) or "", value
            )
        found = value
    return found


def user_env_file() -> str:
    """The user's settings file, read from any working folder (hooks and MCP servers run in the
    agent's): `$XDG_CONFIG_HOME/memvault/memvault.env`, by default under `~/.config`."""
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = xdg if xdg else os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "memvault", "memvault.env")


def configured_folder(environ: Mapping[str, str], cwd: str) -> str:
    """The data folder the way `Settings` finds it: MEMVAULT_HOME from the environment, else from
    `.env` in `cwd`, else from the user's settings file, else `default_folder()`. An empty value
    means the default, as in Settings; a relative one is relative to `cwd` (Settings does not
    expand `~` either)."""
    value = (
        environ.get("MEMVAULT_HOME")
        or _dotenv_value(os.path.join(cwd, ".env"), "MEMVAULT_HOME", environ)
        or _dotenv_value(user_env_file(), "MEMVAULT_HOME", environ)
    )
    if value:
        return os.path.join(cwd, value)
    return default_folder()
