"""The paths the command guard protects, and how a shell word (a path or a glob) is matched
against them.

Shell words reach this module as *patterns*: text in which a backslash escapes a character that
was quoted in the command (`"mem*"` is `mem\\*`, a literal star) and every other `*`, `?` and
`[…]` globs. Matching follows bash's defaults: a glob never crosses `/` and never matches a
leading dot unless the pattern spells it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable

from memvault.paths import STORE_FILE, STORE_SIBLING_SUFFIXES

_ESCAPED = frozenset("\\*?[]{},")
_GLOB = frozenset("*?[")


def escape(text: str) -> str:
    """A pattern that matches `text` literally."""
    if not any(c in _ESCAPED for c in text):
        return text
    return "".join("\\" + c if c in _ESCAPED else c for c in text)


def unescape(pattern: str) -> str:
    """The literal text of a pattern: escapes removed, glob characters kept as they are."""
    if "\\" not in pattern:
        return pattern
    out = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            i += 1
        out.append(pattern[i])
        i += 1
    return "".join(out)


def has_glob(pattern: str) -> bool:
    """Whether the pattern has an unescaped `*`, `?` or `[`."""
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c in _GLOB:
            return True
        i += 1
    return False


def _split(pattern: str) -> list[str]:
    """Normalised components of an absolute pattern (`.` dropped, `..` applied)."""
    parts: list[str] = []
    for part in pattern.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
        else:
            parts.append(part)
    return parts


_COMPILED: dict[str, re.Pattern[str]] = {}


def _component_regex(component: str) -> re.Pattern[str]:
    cached = _COMPILED.get(component)
    if cached is not None:
        return cached
    out = []
    i = 0
    n = len(component)
    while i < n:
        c = component[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(component[i + 1]))
            i += 2
            continue
        if c == "*":
            out.append(".*")
        elif c == "?":
            out.append(".")
        elif c == "[":
            j = i + 1
            if j < n and component[j] in "!^":
                j += 1
            if j < n and component[j] == "]":
                j += 1
            j = component.find("]", j)
            if j < 0:
                out.append(re.escape(c))
            else:
                body = component[i + 1 : j].replace("\\", "\\\\")
                if body[:1] in ("!", "^"):
                    body = "^" + body[1:]
                out.append(f"[{body}]")
                i = j
        else:
            out.append(re.escape(c))
        i += 1
    compiled = re.compile("".join(out) + r"\Z", re.DOTALL)
    _COMPILED[component] = compiled
    return compiled


def _component_matches(component: str, name: str) -> bool:
    if name.startswith(".") and not component.startswith((".", "\\.")):
        return False  # bash's `*` does not match dot files
    return _component_regex(component).match(name) is not None


def _tail_matches(components: list[str], path: str) -> bool:
    names = path.strip("/").split("/")
    if len(components) > len(names):
        return False
    return all(
        _component_matches(c, n) for c, n in zip(components, names[-len(components) :], strict=True)
    )


class ProtectedPaths:
    """memvault's store: each data folder, its SQLite file with the `-wal`, `-shm` and `-journal`
    siblings, in the lexical and the symlink-resolved form. Every ancestor of a data folder is
    protected as well: deleting or moving it takes the store with it."""

    def __init__(self, homes: Iterable[str | os.PathLike[str]]) -> None:
        folders: list[str] = []
        for home in homes:
            lexical = os.path.normpath(os.path.abspath(os.fspath(home)))
            for form in (lexical, os.path.realpath(lexical)):
                if form not in folders:
                    folders.append(form)
        if not folders:
            raise ValueError("ProtectedPaths needs at least one data folder")
        self.homes = tuple(folders)
        names = [STORE_FILE] + [STORE_FILE + suffix for suffix in STORE_SIBLING_SUFFIXES]
        self.files = tuple(os.path.join(home, name) for home in self.homes for name in names)
        ancestors: list[str] = []
        for home in self.homes:
            parent = os.path.dirname(home)
            while parent not in ancestors:
                ancestors.append(parent)
                if parent == "/":
                    break
                parent = os.path.dirname(parent)
        self.ancestors = tuple(a for a in ancestors if a not in self.homes)
        self._candidates = self.files + self.homes + self.ancestors
        self._mentions = self._mention_tokens()

    def __repr__(self) -> str:
        return f"ProtectedPaths(homes={self.homes!r})"

    @classmethod
    def for_home(cls, home: str | os.PathLike[str]) -> ProtectedPaths:
        """The protected paths of one data folder."""
        return cls([home])

    def _mention_tokens(self) -> tuple[str, ...]:
        tokens = {STORE_FILE, "MEMVAULT_HOME"}
        user_home = os.path.expanduser("~").rstrip("/")
        for home in self.homes:
            tokens.add(home)
            tokens.add(os.path.basename(home))
            if user_home and home.startswith(user_home + "/"):
                tokens.add(home[len(user_home) + 1 :])
        return tuple(t for t in tokens if t)

    def classify(self, path: str) -> str | None:
        """What deleting, moving or overwriting the absolute, normalised `path` would destroy."""
        if path in self.files:
            return f"memvault's store file {path}"
        if path in self.homes:
            return f"memvault's data folder {path}"
        for home in self.homes:
            if path == "/" or home.startswith(path + "/"):
                return f"{path}, which holds memvault's data folder {home}"
        return None

    def resolve(self, pattern: str, cwd: str | None) -> list[str]:
        """Absolute paths a word may name: a literal path in its lexical and symlink-resolved
        forms; for a glob, or a relative path under an unknown `cwd`, the protected paths it
        could match (nothing else matters to the guard)."""
        literal = unescape(pattern)
        if not literal:
            return []
        if not literal.startswith("/"):
            if cwd is None:
                return self._tail_candidates(pattern)
            pattern = escape(cwd) + "/" + pattern
            literal = os.path.join(cwd, literal)
        if not has_glob(pattern):
            lexical = os.path.normpath(literal)
            real = os.path.realpath(lexical)
            return [lexical] if real == lexical else [lexical, real]
        components = _split(pattern)
        found = self._glob_candidates(components)
        # Resolve symlinks in the part before the first glob: `link/*` globs in its target.
        fixed = 0
        while fixed < len(components) and not has_glob(components[fixed]):
            fixed += 1
        real = os.path.realpath("/" + "/".join(unescape(c) for c in components[:fixed]))
        resolved = [escape(c) for c in real.split("/") if c] + components[fixed:]
        if resolved != components:
            found += [c for c in self._glob_candidates(resolved) if c not in found]
        return found

    def touched(self, pattern: str, cwd: str | None) -> str | None:
        """What the path or glob `pattern` (relative to `cwd`; None: unknown) names of the store:
        a description for the agent, or None."""
        for path in self.resolve(pattern, cwd):
            found = self.classify(path)
            if found is not None:
                literal = unescape(pattern)
                if os.path.normpath(literal) == path:
                    return found
                return f"{found} (as `{literal}`)"
        return None

    def under(self, pattern: str, cwd: str | None) -> list[str]:
        """Protected paths at or below the folder(s) `pattern` names: what `find` would visit."""
        found: list[str] = []
        for root in self.resolve(pattern, cwd):
            prefix = root.rstrip("/") + "/"
            found += [
                c
                for c in self._candidates
                if (c == root or c.startswith(prefix)) and c not in found
            ]
        return found

    def _glob_candidates(self, components: list[str]) -> list[str]:
        found = []
        for candidate in self._candidates:
            names = candidate.strip("/").split("/") if candidate != "/" else []
            if len(names) == len(components) and all(
                _component_matches(c, n) for c, n in zip(components, names, strict=True)
            ):
                found.append(candidate)
        return found

    def _tail_candidates(self, pattern: str) -> list[str]:
        # The working directory is unknown (after `cd "$(…)"`): a relative path may be the tail
        # of any protected path.
        components = [c for c in pattern.split("/") if c not in ("", ".")]
        if not components or ".." in components:
            return []
        return [c for c in self._candidates if c != "/" and _tail_matches(components, c)]

    def mentioned_in(self, text: str) -> bool:
        """Whether `text` names the store in a way a person would recognise."""
        return any(token in text for token in self._mentions)
