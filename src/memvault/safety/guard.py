"""The command guard: would a shell command an agent is about to run delete, move, truncate or
overwrite memvault's store?

`decide()` parses the command (see `shell.py`), then walks it the way bash would run it: variables
assigned earlier in the line, `cd` chains, subshells, pipelines feeding `xargs` or a shell,
`sh -c`/`eval` strings, `$( … )`, wrappers such as `sudo` and `env` (`plumbing.py`). Each
program that can destroy a file is asked which paths it would touch (`rules.py`,
`inline_code.py`), and those are compared with the store's real location (`protected.py`).
Everything else is allowed: the guard runs before every command an agent issues, so a false
alarm costs as much as a miss.

Pure logic, stdlib only; it never runs anything and touches the filesystem only to resolve
symlinks and find a repository root.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping

from memvault.safety import shell
from memvault.safety.protected import ProtectedPaths, escape, unescape
from memvault.safety.shell import Group, Lit, Script, ShellSyntaxError, Simple, Sub, Var, Word

MAX_DEPTH = 12  # nested `sh -c` / `eval` / `$( … )` levels followed before giving up
MAX_WORDS = 64  # expansions of one word (loops, globs in variables) considered


class Decision:
    """The guard's answer: `blocked`, and the reason an agent (and its user) can read."""

    __slots__ = ("blocked", "reason")

    def __init__(self, blocked: bool, reason: str | None) -> None:
        self.blocked = blocked
        self.reason = reason

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and (self.blocked, self.reason) == (
            other.blocked,
            other.reason,
        )

    def __hash__(self) -> int:
        return hash((self.blocked, self.reason))

    def __repr__(self) -> str:
        return f"Decision(blocked={self.blocked!r}, reason={self.reason!r})"


ALLOW = Decision(False, None)
_ADVICE = (
    " It holds every agent's memories: do not delete, move, truncate or overwrite it from a "
    "shell. To remove one memory use `memvault forget ID`; anything else, ask the user."
)


class BlockedError(Exception):
    """Raised inside the walk by the first destructive action found."""

    def __init__(self, what: str) -> None:
        super().__init__(what)
        self.what = what


class Stream:
    """What flows through a pipe or out of `$( … )`: the paths it may name (as patterns), its
    exact text when that is known, and whether it comes from somewhere the guard cannot read."""

    __slots__ = ("paths", "text", "unknown")

    def __init__(
        self, paths: list[str] | None = None, text: str | None = None, unknown: bool = False
    ) -> None:
        self.paths = paths or []
        self.text = text
        self.unknown = unknown


EMPTY = Stream()
# Stands for output the guard cannot know (`$(date)`, `$(curl …)`) inside an expanded word. A
# word holding it names no protected path; a `cd` to it leaves the working directory unknown.
UNKNOWN = "\x00"


class State:
    """The shell's state along one path of execution: working directory and variables."""

    __slots__ = ("cwd", "depth", "oldpwd", "vars")

    def __init__(self, cwd: str | None, variables: dict[str, list[str]], depth: int = 0) -> None:
        self.cwd = cwd  # None once a `cd` went somewhere the guard cannot know
        self.oldpwd: str | None = None
        self.vars = variables  # raw values; a list when a loop gives several
        self.depth = depth

    def copy(self, deeper: bool = False) -> State:
        clone = State(self.cwd, dict(self.vars), self.depth + (1 if deeper else 0))
        clone.oldpwd = self.oldpwd
        return clone


Handler = Callable[["Walker", str, list[str], State, Stream | None], Stream | None]


def decide(
    command: str,
    protected: ProtectedPaths,
    cwd: str | os.PathLike[str],
    environ: Mapping[str, str] | None = None,
) -> Decision:
    """Whether `command`, run by bash in `cwd`, would destroy the store at `protected`.

    Commands that cannot be parsed are blocked when they name the store and allowed otherwise
    (bash would refuse them too). Never raises.
    """
    walker = Walker(protected, os.environ if environ is None else environ)
    try:
        walker.shell_text(command, State(os.path.abspath(os.fspath(cwd)), {}))
    except BlockedError as blocked:
        return Decision(True, f"memvault guard: {blocked.what}.{_ADVICE}")
    except Exception as exc:  # a bug here must not let a wipe through, nor break the agent
        if protected.mentioned_in(command):
            return Decision(
                True,
                f"memvault guard: {type(exc).__name__} while checking a "
                f"command that names memvault's store; not run.{_ADVICE}",
            )
    return ALLOW


def _assignment(word: Word) -> tuple[str, Word] | None:
    first = word[0] if word else None
    if not isinstance(first, Lit) or first.quoted:
        return None
    name, sep, rest = first.text.partition("=")
    name = name.removesuffix("+")
    if not sep or not name or not (name[0].isalpha() or name[0] == "_"):
        return None
    if not all(c.isalnum() or c == "_" for c in name):
        return None
    return name, [Lit(rest, quoted=False), *word[1:]]


def _brace_expand(pattern: str) -> list[str]:
    """bash's `{a,b}` expansion of the unescaped braces in a pattern."""
    depth = 0
    start = -1
    commas: list[int] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            if depth == 0:
                start, commas = i, []
            depth += 1
        elif c == "}" and depth:
            depth -= 1
            if depth == 0 and commas:
                head, tail = pattern[:start], pattern[i + 1 :]
                bounds = [start, *commas, i]
                out: list[str] = []
                for a, b in zip(bounds, bounds[1:], strict=False):  # noqa: RUF007
                    out.extend(_brace_expand(head + pattern[a + 1 : b] + tail))
                    if len(out) >= MAX_WORDS:  # `{a,b}{c,d}…` grows as 2^n: stop early
                        break
                return out[:MAX_WORDS]
        elif c == "," and depth == 1:
            commas.append(i)
        i += 1
    return [pattern]


def as_pattern(value: str) -> str:
    """A variable's value (or a path spelled in code) as a pattern: it globs when used (the guard
    treats it so even inside quotes, to stay on the safe side); braces and backslashes are text."""
    return "".join("\\" + c if c in "\\{}," else c for c in value)


_HANDLERS: dict[str, Handler] = {}


def _handlers() -> dict[str, Handler]:
    # The tables import this module for BlockedError and Stream: load them on first use.
    if not _HANDLERS:
        from memvault.safety.rules import HANDLERS

        _HANDLERS.update(HANDLERS)
    return _HANDLERS


_KEYWORDS = frozenset(
    {"if", "then", "else", "elif", "fi", "do", "done", "while", "until", "!", "{", "}", "esac"}
)
_DECLARATIONS = frozenset({"export", "declare", "typeset", "local", "readonly"})


class Walker:
    """Follows a parsed command the way bash would run it, raising BlockedError at the first action
    that would destroy a protected path."""

    def __init__(self, protected: ProtectedPaths, environ: Mapping[str, str]) -> None:
        self.protected = protected
        self.environ = environ
        self.handlers = _handlers()

    @staticmethod
    def handler_for(name: str) -> Handler | None:
        """The handler of a program missing from the table (`python3.12`, `perl5.36`)."""
        from memvault.safety.rules import handler_for

        return handler_for(name)

    # -- structure ------------------------------------------------------------------------------

    def shell_text(self, text: str, state: State, lenient: bool = False) -> Stream:
        """Walk a command line (`sh -c` text, `eval`, a here-document fed to a shell). Text that
        does not parse is blocked when it names the store, unless `lenient` (a string literal in
        a program, which may not be shell at all)."""
        if state.depth > MAX_DEPTH:
            raise RecursionError("commands nested too deeply")
        try:
            script = shell.parse(text)
        except ShellSyntaxError as exc:
            if not lenient and self.protected.mentioned_in(text):
                raise BlockedError(
                    f"this command cannot be parsed ({exc}) and it names memvault's store"
                ) from exc
            return EMPTY
        return self.script(script, state)

    def script(self, script: Script, state: State) -> Stream:
        out = EMPTY
        for pipeline in script:
            if len(pipeline) == 1:
                out = self.command(pipeline[0], state, None)
                continue
            stream: Stream | None = None
            for command in pipeline:  # every stage of a pipeline runs in a subshell
                stream = self.command(command, state.copy(), stream)
            out = stream or EMPTY
        return out

    def command(self, command: Simple | Group, state: State, stdin: Stream | None) -> Stream:
        stdin = self.redirects(command.redirects, state, stdin)
        if isinstance(command, Group):
            return self.script(command.script, state.copy())
        words = command.words
        assigns = []
        while words and (assign := _assignment(words[0])) is not None:
            assigns.append(assign)
            words = words[1:]
        if not words:
            for name, value in assigns:
                state.vars[name] = self.values(value, state)
            return EMPTY
        argv = self.expand(words[0], state)
        if argv and unescape(argv[0]) in _DECLARATIONS:
            for word in words[1:]:
                if (assign := _assignment(word)) is not None:
                    state.vars[assign[0]] = self.values(assign[1], state)
            return EMPTY
        argv += [pattern for word in words[1:] for pattern in self.expand(word, state)]
        if assigns:  # `VAR=value cmd`: visible to the command (a `sh -c` inside), not after it
            state = state.copy()
            for name, value in assigns:
                state.vars[name] = self.values(value, state)
        return self.run(argv, state, stdin) if argv else EMPTY

    def redirects(
        self, redirects: list[shell.Redirect], state: State, stdin: Stream | None
    ) -> Stream | None:
        for redirect in redirects:
            op = redirect.op
            targets = self.expand(redirect.target, state)
            if op in (">", ">|", "&>") or (op == ">&" and not _is_fd(targets)):
                for target in targets:
                    self.check(target, state, f"the `{op}` redirection would truncate")
            elif op == "<<":
                stdin = Stream(text=redirect.body)
            elif op == "<<<":
                stdin = Stream(text=" ".join(unescape(t) for t in targets) + "\n")
            elif op == "<":
                stdin = Stream(paths=targets, unknown=True)
        return stdin

    # -- words ----------------------------------------------------------------------------------

    def expand(self, word: Word, state: State) -> list[str]:
        """The patterns a word becomes: tilde, variables, `$( … )`, then braces."""
        results = [""]
        for index, part in enumerate(word):
            if isinstance(part, Lit):
                if part.quoted:
                    piece = escape(part.text)
                elif index == 0 and part.text.startswith("~"):
                    piece = self.tilde(part.text, state)
                else:
                    piece = part.text
                results = [r + piece for r in results]
                continue
            if isinstance(part, Var):
                values = [as_pattern(v) for v in self.lookup(part, state)]
                if not part.quoted:
                    values = [field for v in values for field in (v.split() or [""])]
            else:
                values = self.substitution(part, state)
            results = [r + v for r in results for v in (values or [""])][:MAX_WORDS]
        expanded = [p for r in results for p in (_brace_expand(r) if "{" in r else [r])]
        return [p for p in expanded if p][:MAX_WORDS]

    def values(self, word: Word, state: State) -> list[str]:
        """The raw values an assignment gives (tilde after `=`, no splitting, no globbing)."""
        first = word[0]
        if isinstance(first, Lit) and first.text.startswith("~") and not first.quoted:
            word = [Lit(unescape(self.tilde(first.text, state)), quoted=True), *word[1:]]
        return [unescape(p) for p in self.expand(word, state)] or [""]

    def tilde(self, text: str, state: State) -> str:
        prefix, slash, rest = text.partition("/")
        if prefix == "~":
            home = self.home(state)
        elif prefix == "~+" and state.cwd:
            home = state.cwd
        elif prefix == "~-" and state.oldpwd:
            home = state.oldpwd
        else:
            home = os.path.expanduser(prefix)
        return escape(home) + slash + rest

    def home(self, state: State) -> str:
        values = state.vars.get("HOME")
        if values and values[0]:
            return values[0]
        return self.environ.get("HOME") or os.path.expanduser("~")

    def lookup(self, var: Var, state: State) -> list[str]:
        name = var.name
        if name in state.vars:
            values = state.vars[name]
        elif name == "PWD":
            values = [state.cwd] if state.cwd else []
        elif name == "OLDPWD":
            values = [state.oldpwd] if state.oldpwd else []
        elif name in self.environ:
            values = [self.environ[name]]
        else:
            values = []
        if var.default is not None and not any(values):
            default = var.default
            first = default[0] if default else None
            if isinstance(first, Lit) and first.text.startswith("~"):
                default = [Lit(unescape(self.tilde(first.text, state)), quoted=True), *default[1:]]
            values = [unescape(p) for p in self.expand(default, state)]
        return values

    def substitution(self, part: Sub, state: State) -> list[str]:
        """The patterns `$( … )` may produce; the commands inside are checked as well."""
        if state.depth >= MAX_DEPTH:
            raise RecursionError("commands nested too deeply")
        out = self.script(part.script, state.copy(deeper=True))
        if out.unknown:
            return [UNKNOWN, *out.paths]
        if out.paths:
            return out.paths
        return [escape(w) for w in out.text.split()] if out.text else []

    # -- running --------------------------------------------------------------------------------

    def run(self, argv: list[str], state: State, stdin: Stream | None) -> Stream:
        """Run one expanded command (argv as patterns) under `state`."""
        if state.depth > MAX_DEPTH:
            raise RecursionError("commands nested too deeply")
        name = os.path.basename(unescape(argv[0]))
        args = argv[1:]
        if name in _KEYWORDS:
            return self.run(args, state, stdin) if args else EMPTY
        if name == "function":
            return self.run(args[1:], state, stdin) if len(args) > 1 else EMPTY
        if name in ("for", "select"):
            if len(args) >= 2 and unescape(args[1]) == "in":
                state.vars[unescape(args[0])] = [unescape(a) for a in args[2:]]
            return EMPTY
        handler = self.handlers.get(name) or self.handler_for(name)
        if handler is None:  # harmless to the store; what it prints may still name paths
            return Stream(paths=[a for a in args if not unescape(a).startswith("-")], unknown=True)
        return handler(self, name, args, state, stdin) or EMPTY

    def check(self, pattern: str, state: State, action: str) -> None:
        """Raise BlockedError when `pattern` names a protected path; `action` says what would
        happen to it."""
        found = None if UNKNOWN in pattern else self.protected.touched(pattern, state.cwd)
        if found is not None:
            raise BlockedError(f"{action} {found}")

    def absolute(self, pattern: str, state: State) -> str | None:
        """The absolute, normalised literal path of a pattern, or None when it cannot be known."""
        literal = unescape(pattern)
        if UNKNOWN in literal:
            return None
        if literal.startswith("/"):
            return os.path.normpath(literal)
        if state.cwd is None:
            return None
        return os.path.normpath(os.path.join(state.cwd, literal))


def _is_fd(targets: list[str]) -> bool:
    return len(targets) == 1 and (targets[0].isdigit() or targets[0] == "-")
