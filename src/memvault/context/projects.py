"""Which project a folder belongs to, read from the git files on disk.

This runs on every CLI call and in agent hooks, so it never starts the `git` binary (slow, and
may not be installed): it walks up to the nearest `.git`, follows worktree and submodule `.git`
files, and reads the remote from the repository's `config` file. Nothing here raises on a broken
repository; the worst case is falling back to a folder name.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

# Schemes git fetches over the network; `file://` and anything exotic are not a shared identity.
_NETWORK_SCHEMES = {"ssh", "git", "git+ssh", "ssh+git", "http", "https", "ftp", "ftps"}
# scp-like `[user[:secret]@]host:path`; git reads it so only when no slash comes before the colon.
_SCP = re.compile(r"^(?:[^@/]*@)?(?P<host>[^:/@\[\]]+):(?P<path>.*)$")
_SECTION = re.compile(r'\s*\[\s*([A-Za-z0-9.-]+)(?:\s+"((?:[^"\\\n]|\\.)*)")?\s*\]')
_KEY = re.compile(r"\s*([A-Za-z][A-Za-z0-9-]*)\s*(=?)")
# models.ProjectId's length limit: a longer detected id would be refused at the first write.
MAX_ID_CHARS = 200
_ESCAPES = {"n": "\n", "t": "\t", "b": "\b", "\\": "\\", '"': '"'}


@dataclass(frozen=True)
class DetectedProject:
    """A project found from a path; `id` is stable across clones of the same repository."""

    id: str  # normalised remote URL, else the repository folder name, else the folder name
    name: str  # a human name: the repository (or folder) name, e.g. "api"
    root: Path  # the repository root (or the folder itself when not in a repository)
    source: str  # "git-remote" | "git-folder" | "folder"


def normalise_remote_url(url: str) -> str | None:
    """`host/path` for a network git remote, however it is spelled; None for local or unknown.

    Credentials, port, scheme, trailing `.git` and slashes are dropped. Host and path are
    lowercased: GitHub, GitLab and Bitbucket treat owner and repository names case-insensitively,
    and two spellings of one repository must not become two projects.
    """
    url = url.strip()
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = parts.hostname  # drops user:password@ and :port, lowercases
            parts.port  # noqa: B018 - a malformed port raises here; treat the URL as unknown
        except ValueError:
            return None
        if parts.scheme.lower() not in _NETWORK_SCHEMES or not host:
            return None
        path = parts.path
    else:
        match = _SCP.match(url)
        # A one-letter "host" is a Windows drive (C:\repo), which git reads as a local path.
        if url.startswith((".", "/", "~")) or not match or len(match["host"]) < 2:
            return None
        host, path = match["host"], match["path"]
    segments = [s for s in path.lower().split("/") if s]
    if segments and segments[-1].endswith(".git"):
        segments[-1] = segments[-1][: -len(".git")]
    segments = [s for s in segments if s]
    ident = "/".join([host.lower(), *segments])
    # No repository path, or characters a project id must not hold: not a usable identity.
    # An "@" left over means a credential form we did not understand; never let it through.
    if not segments or len(ident) > MAX_ID_CHARS or re.search(r"[\s\\@]", ident):
        return None
    return ident


def detect_project(path: Path) -> DetectedProject:
    """The project `path` belongs to: its git remote, else its repository, else its folder."""
    start = path.resolve()
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        dotgit = folder / ".git"
        if dotgit.is_dir() or dotgit.is_file():
            url = _remote_url(dotgit)
            ident = normalise_remote_url(url) if url else None
            if ident:
                return DetectedProject(ident, ident.rsplit("/", 1)[-1], folder, "git-remote")
            name = _folder_id(folder)
            return DetectedProject(name, name, folder, "git-folder")
    name = _folder_id(start)
    return DetectedProject(name, name, start, "folder")


def _folder_id(folder: Path) -> str:
    # Project ids hold no whitespace or backslash; "/" has no name, so it gets one.
    return re.sub(r"[\s\\]+", "-", folder.name)[:MAX_ID_CHARS] or "root"


def _remote_url(dotgit: Path) -> str | None:
    """The url of `origin`, else of the first remote with one; None when unknown or unreadable."""
    try:
        gitdir = dotgit
        if dotgit.is_file():  # worktree or submodule: "gitdir: <path>", relative to its folder
            text = dotgit.read_text(encoding="utf-8").strip()
            if not text.startswith("gitdir:"):
                return None
            gitdir = dotgit.parent / text[len("gitdir:") :].strip()
        commondir = gitdir / "commondir"  # a worktree keeps its remotes in the main repository
        if commondir.is_file():
            gitdir = gitdir / commondir.read_text(encoding="utf-8").strip()
        remotes = _remotes((gitdir / "config").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return None  # git itself refuses a malformed config; for us it means "no remote"
    return remotes.get("origin") or next(iter(remotes.values()), None)


def _remotes(text: str) -> dict[str, str]:
    """Remote name → its first url, in file order. Raises ValueError on a malformed config."""
    remotes: dict[str, str] = {}
    section: tuple[str, str | None] | None = None
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw
        header = _SECTION.match(line)
        if header:
            name, sub = header[1].lower(), header[2]
            if sub is None and "." in name:  # the old `[remote.origin]` spelling
                name, _, sub = name.partition(".")
            elif sub is not None:
                sub = re.sub(r"\\(.)", r"\1", sub)
            section = (name, sub)
            line = line[header.end() :]  # git allows `[core] bare = false` on one line
        if not line.strip() or line.lstrip()[0] in "#;":
            continue
        key = _KEY.match(line)
        if key is None or section is None:
            raise ValueError(f"bad config line: {raw!r}")
        rest = line[key.end() :]
        if not key[2]:  # a bare key is boolean true; only a comment may follow it
            if rest.strip() and rest.lstrip()[0] not in "#;":
                raise ValueError(f"bad config line: {raw!r}")
            continue
        value = _value(rest, lines)
        if section[0] == "remote" and section[1] and key[1].lower() == "url":
            remotes.setdefault(section[1], value)
    return remotes


def _value(rest: str, lines: Iterator[str]) -> str:
    """One value: quotes, escapes, inline comments and backslash-newline continuations."""
    out: list[str] = []
    quoted = False
    while True:
        i, continued = 0, False
        while i < len(rest):
            char = rest[i]
            if char == '"':
                quoted = not quoted
            elif char in "#;" and not quoted:
                break
            elif char == "\\":
                if i + 1 == len(rest):
                    continued = True
                    break
                if rest[i + 1] not in _ESCAPES:
                    raise ValueError(f"bad escape \\{rest[i + 1]}")
                out.append(_ESCAPES[rest[i + 1]])
                i += 1
            else:
                out.append(char)
            i += 1
        if not continued:
            break
        following = next(lines, None)
        if following is None:
            break
        rest = following
    if quoted:
        raise ValueError("unterminated quote")
    return "".join(out).strip()
