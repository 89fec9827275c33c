"""Agents' settings files: reading them, putting memvault's entries in and taking them out,
and writing them back without losing what the user put there.

JSON files are parsed whole and written back with their own indentation; TOML files go through
tomlkit, which keeps comments and layout. A file that cannot be parsed is an `InvalidInputError`
naming the file, so nothing is written over it. Writes are atomic (temp file + replace) and
follow symlinks, so a dotfiles checkout linked into $HOME stays linked.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import TOMLKitError
from tomlkit.toml_document import TOMLDocument

from memvault.errors import InvalidInputError, MemvaultError

JsonObject = dict[str, Any]
SERVER = "memvault"  # the MCP server's name in every agent's settings
SESSION_START, SESSION_END, GUARD = "session-start", "session-end", "guard"


@dataclass(frozen=True)
class HookEntry:
    """A hook handler to register for one event (and tool matcher, where the event has one)."""

    event: str
    matcher: str | None
    handler: JsonObject


def memvault_executable() -> str:
    """The memvault console script agents should run: the one beside this interpreter, else the
    one on PATH, else the bare name."""
    beside = Path(sys.executable).with_name("memvault")
    if beside.is_file():
        return str(beside.absolute())
    return shutil.which("memvault") or "memvault"


def invalid(path: Path, message: str) -> InvalidInputError:
    """The error for a settings file memvault will not touch; the CLI exits 2 with it."""
    return InvalidInputError([{"field": str(path), "message": message}])


def _read_text(path: Path) -> str | None:
    """The file's text, or None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise invalid(path, f"cannot be read ({reason}); fix it and run again") from None


def read_json(path: Path) -> tuple[JsonObject, str | None]:
    """(the object in the file, its text); an absent or blank file reads as {} and None text."""
    text = _read_text(path)
    if text is None or not text.strip():
        return {}, text
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise invalid(
            path,
            f"is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); fix it and "
            "run again (memvault rewrites plain JSON only: comments would be lost)",
        ) from None
    if not isinstance(data, dict):
        raise invalid(path, "must hold a JSON object ({...}); fix or remove it and run again")
    return data, text


def _indent_of(text: str | None) -> str | int:
    """The indentation the file already uses (a tab, or a number of spaces); 2 by default."""
    if text:
        match = re.search(r"^[{\[][ \t]*\r?\n([ \t]+)\S", text, re.MULTILINE)
        if match:
            found = match.group(1)
            return "\t" if found.startswith("\t") else len(found)
    return 2


def dump_json(data: JsonObject, original: str | None) -> str:
    """`data` as JSON text in the original file's indentation, ending in a newline."""
    return json.dumps(data, indent=_indent_of(original), ensure_ascii=False) + "\n"


def read_toml(path: Path) -> tuple[TOMLDocument, str | None]:
    """(the parsed document, its text); an absent file reads as an empty document."""
    text = _read_text(path)
    try:
        return tomlkit.parse(text or ""), text
    except TOMLKitError as exc:
        raise invalid(path, f"is not valid TOML ({exc}); fix or remove it and run again") from None


def table(doc: Mapping[str, Any], key: str, path: Path, *, create: bool) -> Any:
    """The table at `key` in a TOML container (created when asked), or None when absent.

    A value that is not a table is an error: memvault would have to overwrite it."""
    found = doc.get(key)
    if found is None:
        if not create:
            return None
        new = tomlkit.table(is_super_table=True)  # renders as [key.sub] headers only
        doc[key] = new  # type: ignore[index]
        return doc[key]
    if not isinstance(found, Mapping):
        raise invalid(path, f"`{key}` must be a table; fix it and run again")
    return found


def object_at(data: JsonObject, key: str, path: Path, *, create: bool) -> JsonObject | None:
    """The JSON object at `key` (created when asked), or None when absent; else an error."""
    found = data.get(key)
    if found is None:
        if not create:
            return None
        data[key] = found = {}
    if not isinstance(found, dict):
        raise invalid(path, f'"{key}" must be a JSON object; fix it and run again')
    return found


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: Path, text: str) -> None:
    """Replace the file's content in one step, keeping its permissions; create its folders."""
    target = path.resolve() if path.is_symlink() else path
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        mode = target.stat().st_mode & 0o7777 if target.exists() else _new_file_mode()
        handle, temporary = tempfile.mkstemp(
            dir=target.parent, prefix=f".{target.name}.", suffix=".tmp"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(text)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, mode)  # mkstemp makes 0600 files
            os.replace(temporary, target)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise MemvaultError(f"cannot write {path}: {exc.strerror or exc}") from exc


def remove_file(path: Path) -> None:
    """Delete a settings file memvault emptied."""
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:
        raise MemvaultError(f"cannot remove {path}: {exc.strerror or exc}") from exc


def hook_kind(command: object) -> str | None:
    """Which memvault hook a command runs (session-start, session-end, guard), else None."""
    if not isinstance(command, str):
        return None
    try:
        argv = shlex.split(command)
    except ValueError:
        return None
    if len(argv) < 2 or re.split(r"[\\/]", argv[0])[-1] != "memvault":
        return None
    if argv[1] == GUARD:
        return GUARD
    if argv[1] == "hooks" and len(argv) > 2 and argv[2] in (SESSION_START, SESSION_END):
        return argv[2]
    return None


def _same_matcher(found: object, wanted: str | None) -> bool:
    def plain(matcher: object) -> object:
        return None if matcher in (None, "", "*") else matcher  # all three match everything

    return plain(found) == plain(wanted)


Decide = Callable[[str, JsonObject, JsonObject], JsonObject | None]


def _sweep(hooks: JsonObject, decide: Decide) -> None:
    """Pass each memvault handler through `decide(event, group, handler)`: keep what it returns,
    drop it on None. A group or event that only memvault's handlers filled goes with them."""
    for event in list(hooks):
        groups = hooks[event]
        if not isinstance(groups, list):
            continue
        kept_groups = []
        for group in groups:
            handlers = group.get("hooks") if isinstance(group, dict) else None
            if not isinstance(group, dict) or not isinstance(handlers, list):
                kept_groups.append(group)
                continue
            kept: list[Any] = []
            for handler in handlers:
                if isinstance(handler, dict) and hook_kind(handler.get("command")):
                    replacement = decide(event, group, handler)
                    if replacement is not None:
                        kept.append(replacement)
                else:
                    kept.append(handler)
            if kept or not handlers:
                group["hooks"] = kept
                kept_groups.append(group)
        if kept_groups or not groups:
            hooks[event] = kept_groups
        else:
            del hooks[event]


def add_hooks(settings: JsonObject, wanted: list[HookEntry], path: Path) -> None:
    """Put each wanted handler in place: a memvault handler of the same kind already in the
    right event and matcher is replaced where it stands; its other copies are removed."""
    hooks = object_at(settings, "hooks", path, create=True)
    assert hooks is not None
    for entry in wanted:
        if not isinstance(hooks.get(entry.event, []), list):
            raise invalid(path, f'"hooks.{entry.event}" must be a list; fix it and run again')
    by_kind = {hook_kind(entry.handler["command"]): entry for entry in wanted}
    placed: set[str] = set()

    def decide(event: str, group: JsonObject, handler: JsonObject) -> JsonObject | None:
        kind = hook_kind(handler.get("command"))
        entry = by_kind.get(kind)
        if kind is None or entry is None:
            return handler
        if (
            kind in placed
            or event != entry.event
            or not _same_matcher(group.get("matcher"), entry.matcher)
        ):
            return None
        placed.add(kind)
        return dict(entry.handler)

    _sweep(hooks, decide)
    for kind, entry in by_kind.items():
        if kind not in placed:
            group: JsonObject = {"matcher": entry.matcher} if entry.matcher else {}
            group["hooks"] = [dict(entry.handler)]
            hooks.setdefault(entry.event, []).append(group)


def remove_hooks(settings: JsonObject, path: Path) -> None:
    """Remove every memvault handler, and the groups, events and `hooks` it alone filled."""
    hooks = object_at(settings, "hooks", path, create=False)
    if not hooks:
        return
    _sweep(hooks, lambda event, group, handler: None)
    if not hooks:
        del settings["hooks"]


def add_mcp_json(
    settings: JsonObject, entry: JsonObject, path: Path, defaults: JsonObject | None = None
) -> None:
    """Set `mcpServers.memvault` to `entry`, keeping keys the user added to it (e.g. `env`);
    `defaults` fill keys it lacks."""
    servers = object_at(settings, "mcpServers", path, create=True)
    assert servers is not None
    current = servers.get(SERVER)
    merged = {**current, **entry} if isinstance(current, dict) else dict(entry)
    for key, value in (defaults or {}).items():
        merged.setdefault(key, copy.deepcopy(value))
    servers[SERVER] = merged


def remove_mcp_json(settings: JsonObject, path: Path) -> None:
    """Remove `mcpServers.memvault`, and `mcpServers` when it held nothing else."""
    servers = object_at(settings, "mcpServers", path, create=False)
    if servers is None or SERVER not in servers:
        return
    del servers[SERVER]
    if not servers:
        del settings["mcpServers"]


def add_mcp_toml(doc: TOMLDocument, memvault: str, path: Path) -> None:
    """Set `[mcp_servers.memvault]` command and args, keeping its other keys and comments."""
    servers = table(doc, "mcp_servers", path, create=True)
    current = servers.get(SERVER)
    if current is None:
        server = tomlkit.table()
        server.add("command", memvault)
        server.add("args", ["mcp"])
        servers[SERVER] = server
        if not doc.as_string().endswith(server.as_string()):
            # tomlkit put it before another table: keep the blank line between tables.
            servers[SERVER].add(tomlkit.nl())
        return
    if not isinstance(current, Mapping):
        raise invalid(path, f"`mcp_servers.{SERVER}` must be a table; fix it and run again")
    if current.get("command") != memvault:
        current["command"] = memvault  # type: ignore[index]
    if list(current.get("args") or []) != ["mcp"]:
        current["args"] = ["mcp"]  # type: ignore[index]


def remove_mcp_toml(doc: TOMLDocument, path: Path) -> None:
    """Remove `[mcp_servers.memvault]`, and `mcp_servers` when it held nothing else."""
    servers = table(doc, "mcp_servers", path, create=False)
    if servers is None or SERVER not in servers:
        return
    del servers[SERVER]
    if len(servers) == 0:
        del doc["mcp_servers"]
